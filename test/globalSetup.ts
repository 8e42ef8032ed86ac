import { execFileSync } from "node:child_process";
import { resolve } from "node:path";

/** Tests run the calico-xdp command from dist/, as users do: compile it once before the suite. */
export default function setup(): void {
  execFileSync(
    process.execPath,
    [resolve(__dirname, "../node_modules/typescript/bin/tsc"), "-p", resolve(__dirname, "../tsconfig.json")],
    {
      stdio: "inherit",
    },
  );
}
