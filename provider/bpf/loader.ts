/**
 * The provider's side of bpf/loader.c: the patch it applies to a generation, the dump it prints of
 * one, and its commands, run wherever a node's bpffs is.
 */
import { join } from "node:path";
import type { PackedMap, PackedMaps } from "../../sdk/xdp/compile";
import { GENERATIONS } from "../../sdk/xdp/layout";
import { CommandError, type RunOptions } from "./exec";

/** Where the loader runs: a command runner on the node's host, and the loader's path there. */
export interface LoaderHost {
  readonly loader: string;
  hostBuffer(file: string, args: readonly string[], options?: RunOptions): Promise<Buffer>;
}

/** The loader's exit codes with a meaning of their own. */
export const LOADER_BUSY = 3;
export const LOADER_STALE = 4;

/** The commit record of a digest: its first 16 bytes. */
export const commitOf = (sha256: string) => sha256.slice(0, 32);

function mapHeader(name: string, map: PackedMap): Buffer {
  const header = Buffer.alloc(2 + name.length + 12);
  header[0] = 0x4d; // 'M'
  header[1] = name.length;
  header.write(name, 2, "latin1");
  header.writeUInt32LE(map.keySize, 2 + name.length);
  header.writeUInt32LE(map.valueSize, 6 + name.length);
  header.writeUInt32LE(map.count, 10 + name.length);
  return header;
}

/**
 * What `loader sync` reads: "CXS1", the commit record, then per map its header ('M', name, key and
 * value sizes, count) and packed records. The loader works out the changes itself.
 */
export function encodeImage(maps: PackedMaps, sha256: string): Buffer {
  const parts: Buffer[] = [Buffer.from("CXS1"), Buffer.from(commitOf(sha256), "hex")];
  for (const name of Object.keys(maps).sort()) parts.push(mapHeader(name, maps[name]!), maps[name]!.data);
  return Buffer.concat(parts);
}

/** Parses `loader dump`: the image's maps without its header. */
export function decodeDump(dump: Buffer): Record<string, PackedMap> {
  const maps: Record<string, PackedMap> = {};
  let at = 0;
  while (at < dump.length) {
    if (dump[at] !== 0x4d) throw new Error(`bad dump record at byte ${at}`);
    const nameLength = dump[at + 1]!;
    const name = dump.subarray(at + 2, at + 2 + nameLength).toString("latin1");
    at += 2 + nameLength;
    const keySize = dump.readUInt32LE(at);
    const valueSize = dump.readUInt32LE(at + 4);
    const count = dump.readUInt32LE(at + 8);
    at += 12;
    const data = dump.subarray(at, at + count * (keySize + valueSize));
    at += data.length;
    maps[name] = { keySize, valueSize, count, data };
  }
  return maps;
}

export interface LinkState {
  readonly linkId: number;
  readonly progId: number;
  /** 0 once the interface is gone. */
  readonly ifindex: number;
  readonly mode?: "native" | "generic";
}

export interface Generations {
  readonly active: number;
  /** Commit records (hex) by generation; all zeros: incomplete. */
  readonly digests: readonly string[];
  /** max_entries of every map pinned in the directory, by name. */
  readonly maxEntries: Readonly<Record<string, number>>;
}

/** A network namespace to attach in (`--netns`), or the host's own. */
export type NetnsOption = { readonly netns?: string };

const netnsArgs = (where: NetnsOption) => (where.netns === undefined ? [] : ["--netns", where.netns]);

async function json<T>(on: LoaderHost, args: readonly string[], options?: RunOptions): Promise<T> {
  return JSON.parse((await on.hostBuffer(on.loader, args, options)).toString("utf8")) as T;
}

export const loader = {
  /**
   * Loads the XDP program of `section` with the given maps resized, pinning the maps in `dir` and then
   * the program at `dir/prog`.
   */
  load: (
    on: LoaderHost,
    object: string,
    dir: string,
    section: string,
    maxEntries: Readonly<Record<string, number>>,
  ) =>
    json<{ progId: number }>(on, [
      "load",
      object,
      dir,
      section,
      ...Object.entries(maxEntries).map(([name, entries]) => `${name}=${entries}`),
    ]),

  /** Attaches through a bpf_link pinned at `linkPin`; fails with LOADER_BUSY when a program is there. */
  attach: (
    on: LoaderHost,
    where: NetnsOption,
    iface: string,
    progPin: string,
    linkPin: string,
    mode: "native" | "generic" | "auto",
  ) => json<LinkState>(on, ["attach", ...netnsArgs(where), iface, progPin, linkPin, mode]),

  /** Swaps the link's program atomically; fails with LOADER_STALE when it no longer runs `expected`. */
  update: (on: LoaderHost, linkPin: string, progPin: string, expected: number) =>
    json<LinkState>(on, ["update", linkPin, progPin, String(expected)]),

  /** Detaches the link and removes its pin; nothing to do when the pin is absent. */
  detach: async (on: LoaderHost, linkPin: string) => {
    await on.hostBuffer(on.loader, ["detach", linkPin]);
  },

  link: (on: LoaderHost, linkPin: string) => json<LinkState>(on, ["link", linkPin]),

  /** Removes whatever XDP program the interface runs (takeOver). */
  clear: async (on: LoaderHost, where: NetnsOption, iface: string) => {
    await on.hostBuffer(on.loader, ["clear", ...netnsArgs(where), iface]);
  },

  generations: (on: LoaderHost, dir: string) => json<Generations>(on, ["gens", dir]),

  /**
   * Runs `steps` (wG: make generation G hold the image, writing only what differs; aG: activate G; s:
   * wait out in-flight packets). A generation whose commit record is the image's is skipped, unless
   * `verify`.
   */
  sync: async (on: LoaderHost, dir: string, steps: readonly string[], image: Buffer, verify = false) => {
    await on.hostBuffer(on.loader, ["sync", dir, steps.join(","), ...(verify ? ["--verify"] : [])], {
      input: image,
      timeoutMs: 600_000,
    });
  },

  /** Drops what the node remembers of a version's generations (before removing the version). */
  forget: async (on: LoaderHost, dir: string) => {
    await on.hostBuffer(on.loader, ["forget", dir]);
  },

  /** Generation `gen` of the named maps, packed as generation-0 records. */
  dump: async (on: LoaderHost, dir: string, gen: number, names: readonly string[]) =>
    decodeDump(
      await on.hostBuffer(on.loader, ["dump", dir, String(gen), ...names], {
        timeoutMs: 600_000,
        maxOutput: 1024 * 1024 * 1024,
      }),
    ),

  /** Runs a program `count` times with BPF_PROG_RUN and counts its return values. */
  run: (on: LoaderHost, program: string | number, frameFile: string, count: number) =>
    json<{ progId: number; retvals: number[] }>(on, [
      "run",
      typeof program === "number" ? `id:${program}` : program,
      frameFile,
      String(count),
    ]),
};

/** The loader's exit code when it failed with one of its own codes. */
export function loaderExit(error: unknown): number | undefined {
  return error instanceof CommandError && typeof error.code === "number" ? error.code : undefined;
}

/**
 * Brings both generations of the maps in `dir` to `desired` without any packet seeing a mix: the
 * inactive generation is written and activated, in-flight packets are waited out, then the other is
 * written. With `verify`, generations whose commit records claim the contents are read and fixed anyway.
 * A sync begins with a grace period too: one that stopped between activating and waiting may have left
 * packets on what is now the inactive generation.
 */
export async function syncGenerations(
  on: LoaderHost,
  dir: string,
  desired: PackedMaps,
  sha256: string,
  verify = false,
): Promise<void> {
  const { active, digests } = await loader.generations(on, dir);
  const inactive = (active + 1) % GENERATIONS;
  const image = encodeImage(desired, sha256);
  if (!verify && digests[active] === commitOf(sha256)) {
    if (digests[inactive] !== commitOf(sha256)) await loader.sync(on, dir, ["s", `w${inactive}`], image);
    return;
  }
  await loader.sync(on, dir, ["s", `w${inactive}`, `a${inactive}`, "s", `w${active}`], image, verify);
}

export const linkPinName = (iface: string) => `link-${iface}`;
export const linkPinOf = (base: string, iface: string) => join(base, linkPinName(iface));
