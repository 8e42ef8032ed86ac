import { resolve } from "node:path";
import { defineConfig } from "vitest/config";

export default defineConfig({
  // Examples import the package by name, as users do; in tests that name is the TypeScript source.
  resolve: { alias: [{ find: /^pulumi-calico-xdp$/, replacement: resolve(__dirname, "sdk/index.ts") }] },
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/globalSetup.ts"],
    // Kernel tests share network namespaces and bpffs; run files one at a time.
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ["default"],
  },
});
