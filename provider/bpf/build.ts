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

/** Builds `<cache>/<kind>/<key><suffix>` once: concurrent builders each write a private file and rename it. */
async function cached(
  kind: string,
  key: string,
  suffix: string,
  build: (partial: string) => Promise<unknown>,
): Promise<string> {
  const dir = join(cacheDir(), kind);
  const path = join(dir, `${key}${suffix}`);
  if (!existsSync(path)) {
    mkdirSync(dir, { recursive: true });
    const partial = `${path}.${process.pid}.tmp`;
    await build(partial);
    renameSync(partial, path);
  }
  return path;
}

const fileSha256 = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");

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
  const path = await cached("objects", key, ".o", (partial) =>
    run("clang", [...clangFlags(), `-I${dirname(source)}`, "-c", source, "-o", partial]),
  );
  return { path, key, sha256: fileSha256(path) };
}

const LOADER_FLAGS = ["-O2", "-Wall", "-Werror", "-static"];
const LOADER_LIBS = ["-lbpf", "-lelf", "-lz"];

/**
 * Builds bpf/loader.c, the static helper that attaches through bpf_links and patches map generations,
 * with the C compiler (`cc`) and libbpf, cached like the objects. Static, so it can be copied to a node.
 */
export async function buildLoader(): Promise<BuiltObject> {
  const dir = join(packageRoot(), "bpf");
  const source = join(dir, "loader.c");
  const version = await run("cc", ["--version"]);
  const key = createHash("sha256")
    .update([...LOADER_FLAGS, ...LOADER_LIBS, version].join(" "))
    .update(readFileSync(source))
    .update(readFileSync(join(dir, "xdp_policy_shared.h")))
    .digest("hex");
  const path = await cached("loader", key, "", (partial) =>
    run("cc", [...LOADER_FLAGS, `-I${dir}`, source, "-o", partial, ...LOADER_LIBS]),
  );
  return { path, key, sha256: fileSha256(path) };
}
