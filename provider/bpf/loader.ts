/**
 * The provider's side of bpf/loader.c: the patch it applies to a generation, the dump it prints of
 * one, and its commands, run wherever a node's bpffs is.
 */
import { join } from "node:path";
import type { MapEntry } from "../../sdk/xdp/compile";
import { GENERATIONS } from "../../sdk/xdp/layout";
import { CommandError, type RunOptions } from "./exec";

export type Maps = Readonly<Record<string, readonly MapEntry[]>>;

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
const NO_COMMIT = "0".repeat(32);

const hexKey = (e: MapEntry) => e.key.toString("hex");
const UPDATE = Buffer.from("U");
const DELETE = Buffer.from("D");
const isZero = (b: Buffer) => b.every((x) => x === 0);

/**
 * The patch that takes a generation holding `before` to `after`: per map, stale keys deleted
 * (arrays: zeroed) and changed or new entries written. `sha256` becomes the generation's commit record.
 */
export function encodePatch(before: Maps, after: Maps, sha256: string): Buffer {
  const parts: Buffer[] = [Buffer.from("CXP1"), Buffer.from(commitOf(sha256), "hex")];
  for (const name of [...new Set([...Object.keys(before), ...Object.keys(after)])].sort()) {
    const old = new Map((before[name] ?? []).map((e) => [hexKey(e), e.value]));
    const next = new Map((after[name] ?? []).filter((e) => !isZero(e.value)).map((e) => [hexKey(e), e]));
    const header = parts.length;
    parts.push(Buffer.from("M"), Buffer.from([name.length]), Buffer.from(name));
    for (const [key, value] of old) {
      if (!next.has(key) && !isZero(value)) parts.push(DELETE, Buffer.from(key, "hex"));
    }
    for (const [key, entry] of next) {
      if (!old.get(key)?.equals(entry.value)) parts.push(UPDATE, entry.key, entry.value);
    }
    if (parts.length === header + 3) parts.length = header; // nothing to change in this map
  }
  return Buffer.concat(parts);
}

/** Parses `loader dump`: per map, 'M' len name u32 keySize u32 valueSize u32 count, then the entries. */
export function decodeDump(dump: Buffer): Record<string, MapEntry[]> {
  const maps: Record<string, MapEntry[]> = {};
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
    const entries: MapEntry[] = [];
    for (let i = 0; i < count; i++) {
      entries.push({
        key: Buffer.from(dump.subarray(at, at + keySize)),
        value: Buffer.from(dump.subarray(at + keySize, at + keySize + valueSize)),
      });
      at += keySize + valueSize;
    }
    maps[name] = entries;
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
}

/** A network namespace to attach in (`--netns`), or the host's own. */
export type NetnsOption = { readonly netns?: string };

const netnsArgs = (where: NetnsOption) => (where.netns === undefined ? [] : ["--netns", where.netns]);

async function json<T>(on: LoaderHost, args: readonly string[], options?: RunOptions): Promise<T> {
  return JSON.parse((await on.hostBuffer(on.loader, args, options)).toString("utf8")) as T;
}

export const loader = {
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

  /** Runs `steps` (wG write generation G, aG activate G, s wait out in-flight packets) with `patch`. */
  patch: async (on: LoaderHost, dir: string, steps: readonly string[], patch: Buffer) => {
    await on.hostBuffer(on.loader, ["patch", dir, steps.join(",")], { input: patch, timeoutMs: 600_000 });
  },

  /** Generation `gen` of the named maps, as generation-0 entries. */
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
 * Makes generation `gen` of the maps in `dir` hold `after`, given what it holds now (`before`), and
 * runs `then` steps after it (e.g. activate and wait).
 */
export function writeGeneration(
  on: LoaderHost,
  dir: string,
  gen: number,
  before: Maps,
  after: Maps,
  sha256: string,
  then: readonly string[] = [],
): Promise<void> {
  return loader.patch(on, dir, [`w${gen}`, ...then], encodePatch(before, after, sha256));
}

export interface SyncPlan {
  readonly desired: Maps;
  readonly sha256: string;
  /** Contents whose commit records we know by heart (the previous policy, or empty maps). */
  readonly known: readonly { readonly sha256: string; readonly maps: Maps }[];
  /** The policy maps, for dumping a generation whose contents are not known. */
  readonly mapNames: readonly string[];
  /** Someone may have written the maps behind the commit records' back (drift): read both generations. */
  readonly distrustCommits?: boolean;
}

/**
 * Brings both generations of the maps in `dir` to `plan.desired` without any packet seeing a mix:
 * the inactive generation is written and activated, in-flight packets are waited out, then the other
 * is written. A generation whose commit record matches no known contents (a crash interrupted it) is
 * dumped first. Returns the generation left active.
 */
export async function syncGenerations(on: LoaderHost, dir: string, plan: SyncPlan): Promise<number> {
  const want = commitOf(plan.sha256);
  const read = await loader.generations(on, dir);
  const { active } = read;
  // Distrusted records match nothing, not even each other, so each generation is dumped and patched alone.
  const digests = plan.distrustCommits ? read.digests.map((_, g) => `distrusted-${g}`) : read.digests;
  const inactive = (active + 1) % GENERATIONS;
  const contents = async (gen: number): Promise<Maps> => {
    const commit = digests[gen] ?? NO_COMMIT;
    const known = plan.known.find((k) => commitOf(k.sha256) === commit);
    return known ? known.maps : loader.dump(on, dir, gen, plan.mapNames);
  };
  if (digests[active] === want) {
    if (digests[inactive] !== want)
      await writeGeneration(on, dir, inactive, await contents(inactive), plan.desired, plan.sha256);
    return active;
  }
  const before = { inactive: await contents(inactive), active: await contents(active) };
  if (digests[inactive] === digests[active] && digests[active] !== NO_COMMIT) {
    // The usual update: both generations hold the same policy, so one patch serves both.
    await loader.patch(
      on,
      dir,
      [`w${inactive}`, `a${inactive}`, "s", `w${active}`],
      encodePatch(before.active, plan.desired, plan.sha256),
    );
  } else {
    if (digests[inactive] !== want)
      await writeGeneration(on, dir, inactive, before.inactive, plan.desired, plan.sha256, [
        `a${inactive}`,
        "s",
      ]);
    else await loader.patch(on, dir, [`a${inactive}`, "s"], encodePatch({}, {}, plan.sha256));
    await writeGeneration(on, dir, active, before.active, plan.desired, plan.sha256);
  }
  return inactive;
}

export const linkPinName = (iface: string) => `link-${iface}`;
export const linkPinOf = (base: string, iface: string) => join(base, linkPinName(iface));
