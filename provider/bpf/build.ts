import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
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

const CLANG_FLAGS = ["-O2", "-g", "-Wall", "-Werror", "-target", "bpf"];

/** Where the C library's <asm/...> headers are on multiarch systems (Debian's), when they are there. */
function systemIncludes(): string[] {
  const dir = `/usr/include/${process.arch === "arm64" ? "aarch64" : "x86_64"}-linux-gnu`;
  return existsSync(dir) ? [`-I${dir}`] : [];
}

const policySource = () => join(packageRoot(), "bpf", "xdp_policy.c");

/**
 * sha256 of what a build reads, clang and the system headers aside: the source, the headers beside it
 * and the flags. Pure, so a preview can tell a program change without compiling.
 */
export function sourceDigest(source: string = policySource()): string {
  const sourceDir = dirname(source);
  const hash = createHash("sha256").update(`${CLANG_FLAGS.join(" ")}\n${readFileSync(source, "utf8")}\n`);
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

const compileObject = (source: string, out: string) =>
  run("clang", [...CLANG_FLAGS, ...systemIncludes(), `-I${dirname(source)}`, "-c", source, "-o", out]);

const LOADER_FLAGS = ["-O2", "-Wall", "-Werror", "-static"];
const LOADER_LIBS = ["-lbpf", "-lelf", "-lz"];
const loaderDir = () => join(packageRoot(), "bpf");

/** sha256 of what the loader's build reads, the C compiler and libbpf aside. */
function loaderSourceDigest(): string {
  return createHash("sha256")
    .update([...LOADER_FLAGS, ...LOADER_LIBS].join(" "))
    .update(readFileSync(join(loaderDir(), "loader.c")))
    .update(readFileSync(join(loaderDir(), "xdp_policy_shared.h")))
    .digest("hex");
}

const compileLoader = (out: string) =>
  run("cc", [...LOADER_FLAGS, `-I${loaderDir()}`, join(loaderDir(), "loader.c"), "-o", out, ...LOADER_LIBS]);

/**
 * The package ships the policy filter and a static loader built by `npm run build` (BPF bytecode is the
 * same on every architecture; the loader is for the architecture that built it), so installing the
 * package needs no compiler and a compiler upgrade changes nothing on nodes. The manifest names the
 * sources each was built from: a file whose sources changed since is not used.
 */
const PREBUILT_OBJECT = "xdp_policy.o";
const prebuiltLoader = () => `loader-${process.arch}`;
const prebuiltDir = () => join(packageRoot(), "dist", "bpf");
const manifestPath = () => join(prebuiltDir(), "prebuilt.json");

function prebuilt(file: string, sourceSha256: string): BuiltObject | undefined {
  let manifest: Record<string, { sourceSha256?: string; sha256?: string }>;
  try {
    manifest = JSON.parse(readFileSync(manifestPath(), "utf8"));
  } catch {
    return undefined;
  }
  const entry = manifest[file];
  const path = join(prebuiltDir(), file);
  if (entry?.sourceSha256 !== sourceSha256 || !existsSync(path)) return undefined;
  const sha256 = fileSha256(path);
  return sha256 === entry.sha256 ? { path, sha256, key: `prebuilt-${sourceSha256}` } : undefined;
}

/** Compiles the shipped filter and loader into dist/bpf (run by `npm run build`). */
export async function prebuild(): Promise<void> {
  mkdirSync(prebuiltDir(), { recursive: true });
  const manifest: Record<string, { sourceSha256: string; sha256: string }> = {};
  for (const [file, sourceSha256, compile] of [
    [PREBUILT_OBJECT, sourceDigest(), (out: string) => compileObject(policySource(), out)],
    [prebuiltLoader(), loaderSourceDigest(), compileLoader],
  ] as const) {
    const path = join(prebuiltDir(), file);
    const partial = `${path}.${process.pid}.tmp`;
    await compile(partial);
    renameSync(partial, path);
    manifest[file] = { sourceSha256, sha256: fileSha256(path) };
  }
  writeFileSync(manifestPath(), `${JSON.stringify(manifest, null, 2)}\n`);
}

/**
 * The policy filter as shipped, or an XDP program compiled with clang (`-O2 -g -target bpf`) into a
 * content-addressed cache keyed by the sources, the flags and the compiler version, so each distinct
 * program is built once per machine. With no `source`, the policy filter in bpf/.
 */
export async function buildObject(source: string = policySource()): Promise<BuiltObject> {
  const digest = sourceDigest(source);
  const shipped = resolve(source) === policySource() ? prebuilt(PREBUILT_OBJECT, digest) : undefined;
  if (shipped) return shipped;
  const version = await run("clang", ["--version"]);
  const key = createHash("sha256")
    .update(`${digest}\n${systemIncludes().join(" ")}\n${version}`)
    .digest("hex");
  const path = await cached("objects", key, ".o", (partial) => compileObject(source, partial));
  return { path, key, sha256: fileSha256(path) };
}

/**
 * bpf/loader.c, the static helper that attaches through bpf_links and patches map generations: as
 * shipped for this architecture, or built with the C compiler (`cc`) and libbpf, cached like the
 * objects. Static, so it can be copied to a node.
 */
export async function buildLoader(): Promise<BuiltObject> {
  const digest = loaderSourceDigest();
  const shipped = prebuilt(prebuiltLoader(), digest);
  if (shipped) return shipped;
  const version = await run("cc", ["--version"]);
  const key = createHash("sha256").update(`${digest}\n${version}`).digest("hex");
  const path = await cached("loader", key, "", compileLoader);
  return { path, key, sha256: fileSha256(path) };
}
