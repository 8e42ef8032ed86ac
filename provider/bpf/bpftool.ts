import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { MapEntry } from "../../sdk/xdp/compile";
import { run } from "./exec";

export const BPFFS = "/sys/fs/bpf";

/** Mounts bpffs at /sys/fs/bpf when it is not mounted (pins need it). */
export async function ensureBpffs(): Promise<void> {
  const mounts = readFileSync("/proc/mounts", "utf8");
  if (mounts.split("\n").some((line) => line.split(" ")[1] === BPFFS && line.split(" ")[2] === "bpf")) return;
  await run("mount", ["-t", "bpf", "bpf", BPFFS]);
}

/**
 * Where bpftool runs: this machine by default, or a node's transport (which runs commands on the host
 * that holds the node's bpffs and copies local files there).
 */
export interface BpftoolHost {
  host(file: string, args: readonly string[], options?: { input?: string }): Promise<string>;
  upload(localPath: string): Promise<string>;
}

export const LOCAL: BpftoolHost = {
  host: (file, args, options) => run(file, args, options),
  upload: async (path) => path,
};

const hex = (b: Buffer) => [...b].map((x) => x.toString(16).padStart(2, "0")).join(" ");

/** Loads an XDP object, pinning the program at `<dir>/prog` and its maps at `<dir>/<map name>`. */
export async function loadPinned(objectPath: string, dir: string, on: BpftoolHost = LOCAL): Promise<void> {
  await on.host("bpftool", [
    "prog",
    "load",
    await on.upload(objectPath),
    join(dir, "prog"),
    "type",
    "xdp",
    "pinmaps",
    dir,
  ]);
}

/** The id of the program pinned at `<dir>/prog`. */
export async function pinnedProgramId(dir: string, on: BpftoolHost = LOCAL): Promise<number> {
  return (
    JSON.parse(await on.host("bpftool", ["prog", "show", "pinned", join(dir, "prog"), "-j"])) as {
      id: number;
    }
  ).id;
}

/** Maps whose entries cannot be deleted, only zeroed. */
const ARRAY_MAPS = new Set(["config", "proto_match", "sport_match", "dport_match", "icmp_match"]);

/**
 * bpftool batch lines that take the maps in `dir` from `before` to `after`: stale keys are deleted (hash,
 * LPM) or zeroed (arrays), then every entry of `after` is written.
 */
export function mapUpdateLines(
  dir: string,
  after: Readonly<Record<string, readonly MapEntry[]>>,
  before: Readonly<Record<string, readonly MapEntry[]>> = {},
): string[] {
  const lines: string[] = [];
  for (const [name, entries] of Object.entries(before)) {
    const keep = new Set((after[name] ?? []).map((e) => e.key.toString("hex")));
    for (const { key, value } of entries) {
      if (keep.has(key.toString("hex"))) continue;
      lines.push(
        ARRAY_MAPS.has(name)
          ? `map update pinned ${join(dir, name)} key hex ${hex(key)} value hex ${hex(Buffer.alloc(value.length))}`
          : `map delete pinned ${join(dir, name)} key hex ${hex(key)}`,
      );
    }
  }
  for (const [name, entries] of Object.entries(after)) {
    for (const { key, value } of entries)
      lines.push(`map update pinned ${join(dir, name)} key hex ${hex(key)} value hex ${hex(value)}`);
  }
  return lines;
}

/** Runs bpftool commands in one `bpftool batch`, read from stdin (thousands of map updates in one process). */
export async function bpftoolBatch(lines: readonly string[], on: BpftoolHost = LOCAL): Promise<void> {
  if (lines.length === 0) return;
  await on.host("bpftool", ["batch", "file", "-"], { input: `${lines.join("\n")}\n` });
}

/** Writes map entries (e.g. a freshly loaded program's, which start empty). */
export function writeMaps(
  dir: string,
  maps: Readonly<Record<string, readonly MapEntry[]>>,
  on: BpftoolHost = LOCAL,
): Promise<void> {
  return bpftoolBatch(mapUpdateLines(dir, maps), on);
}

/** Per-CPU array values summed over CPUs, by index, decoded as two u64 (packets, bytes). */
export async function readCounters(
  mapPin: string,
  on: BpftoolHost = LOCAL,
): Promise<{ packets: bigint; bytes: bigint }[]> {
  const dump = JSON.parse(await on.host("bpftool", ["map", "dump", "pinned", mapPin, "-j"])) as {
    key: string[];
    values: { value: string[] }[];
  }[];
  const out: { packets: bigint; bytes: bigint }[] = [];
  for (const element of dump) {
    const index = Buffer.from(element.key.map((h) => Number.parseInt(h, 16))).readUInt32LE(0);
    let packets = 0n;
    let bytes = 0n;
    for (const { value } of element.values) {
      const b = Buffer.from(value.map((h) => Number.parseInt(h, 16)));
      packets += b.readBigUInt64LE(0);
      bytes += b.readBigUInt64LE(8);
    }
    out[index] = { packets, bytes };
  }
  return out;
}

export interface RunResult {
  readonly action: number;
  /** Average ns per run, as the kernel measured it. */
  readonly durationNs: number;
}

/** BPF_PROG_RUN through bpftool: runs the pinned program on `frame`, `repeat` times. */
export async function runProgram(progPin: string, frame: Buffer, repeat = 1): Promise<RunResult> {
  const tmp = mkdtempSync(join(tmpdir(), "calico-xdp-run-"));
  try {
    const file = join(tmp, "frame");
    writeFileSync(file, frame);
    const out = await run("bpftool", [
      "prog",
      "run",
      "pinned",
      progPin,
      "data_in",
      file,
      "repeat",
      String(repeat),
    ]);
    const match = /Return value: (\d+), duration(?: \(average\))?: (\d+)ns/.exec(out);
    if (!match) throw new Error(`unexpected bpftool prog run output: ${out.trim()}`);
    return { action: Number(match[1]), durationNs: Number(match[2]) };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
