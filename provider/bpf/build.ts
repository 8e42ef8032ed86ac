import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { run } from "./exec";

/** The package root (where bpf/ lives), from source or from dist/. */
export function packageRoot(): string {
  let dir = __dirname;
  while (!existsSync(join(dir, "bpf", "xdp_policy.c"))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`bpf/xdp_policy.c not found above ${__dirname}`);
    dir = parent;
  }
  return dir;
}

export function cacheDir(): string {
  return resolve(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "calico-xdp");
}

export interface BuiltObject {
  readonly path: string;
  readonly sha256: string;
  /** The cache key: source, flags and compiler version. */
  readonly key: string;
}

function clangFlags(): string[] {
  const arch = process.arch === "arm64" ? "aarch64" : "x86_64";
  return ["-O2", "-g", "-Wall", "-Werror", "-target", "bpf", `-I/usr/include/${arch}-linux-gnu`];
}

const policySource = () => join(packageRoot(), "bpf", "xdp_policy.c");

/**
 * sha256 of what a build reads, clang aside: the source, the headers beside it and the flags. Pure, so
 * a preview can tell a program change without compiling.
 */
export function sourceDigest(source: string = policySource()): string {
  const sourceDir = dirname(source);
  const hash = createHash("sha256").update(`${clangFlags().join(" ")}\n${readFileSync(source, "utf8")}\n`);
  for (const header of readdirSync(sourceDir)
    .filter((f) => f.endsWith(".h"))
    .sort()) {
    hash.update(`${header}\n${readFileSync(join(sourceDir, header), "utf8")}\n`);
  }
  return hash.digest("hex");
}

/**
 * Compiles an XDP program with clang (`-O2 -g -target bpf`) into a content-addressed cache keyed by
 * the sources, the flags and the compiler version, so each distinct program is built once per machine.
 * With no `source`, builds the policy filter in bpf/.
 */
export async function buildObject(source: string = policySource()): Promise<BuiltObject> {
  const version = await run("clang", ["--version"]);
  const key = createHash("sha256")
    .update(`${sourceDigest(source)}\n${version}`)
    .digest("hex");
  const dir = join(cacheDir(), "objects");
  const path = join(dir, `${key}.o`);
  if (!existsSync(path)) {
    mkdirSync(dir, { recursive: true });
    const partial = `${path}.${process.pid}.tmp`;
    await run("clang", [...clangFlags(), `-I${dirname(source)}`, "-c", source, "-o", partial]);
    renameSync(partial, path);
  }
  return { path, key, sha256: createHash("sha256").update(readFileSync(path)).digest("hex") };
}
