import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type RunOptions, run } from "./exec";

export const BPFFS = "/sys/fs/bpf";

/** What a node without bpffs at /sys/fs/bpf is told. */
export const bpffsMissing = (where: string) =>
  `bpffs is not mounted at ${BPFFS} on ${where}: mount it in the host's mount namespace (mount -t bpf bpf ${BPFFS}, as systemd does at boot). calico-xdp keeps its pins there and never mounts a private bpffs, whose pins would vanish with that mount namespace`;

/** Throws unless bpffs is mounted at /sys/fs/bpf here. */
export function requireBpffs(where: string): void {
  const mounts = readFileSync("/proc/mounts", "utf8");
  if (!mounts.split("\n").some((line) => line.split(" ")[1] === BPFFS && line.split(" ")[2] === "bpf"))
    throw new Error(bpffsMissing(where));
}

/** Where bpftool runs: this machine by default, or a node's transport (the host that holds its bpffs). */
export interface BpftoolHost {
  host(file: string, args: readonly string[], options?: RunOptions): Promise<string>;
}

export const LOCAL: BpftoolHost = {
  host: (file, args, options) => run(file, args, options),
};

const hex = (b: Buffer) => [...b].map((x) => x.toString(16).padStart(2, "0"));

/** The id of the program pinned at `<dir>/prog`. */
export async function pinnedProgramId(dir: string, on: BpftoolHost = LOCAL): Promise<number> {
  return (
    JSON.parse(await on.host("bpftool", ["prog", "show", "pinned", join(dir, "prog"), "-j"])) as {
      id: number;
    }
  ).id;
}

/** An entry of a map that has no generations (a benchmark's own program, or another tool's). */
export interface MapEntry {
  readonly map: string;
  readonly key: Buffer;
  readonly value: Buffer;
}

/** bpftool's arguments that write one entry (per-CPU values go to every CPU). */
const updateArgs = (e: MapEntry) => [
  "map",
  "update",
  "pinned",
  e.map,
  "key",
  "hex",
  ...hex(e.key),
  "value",
  "hex",
  ...hex(e.value),
];

/** Writes one entry. */
export async function updateEntry(mapPin: string, key: Buffer, value: Buffer, on: BpftoolHost = LOCAL) {
  await on.host("bpftool", updateArgs({ map: mapPin, key, value }));
}

/** Writes many entries through one bpftool process (its batch mode), here. */
export async function updateEntries(entries: readonly MapEntry[]): Promise<void> {
  const tmp = mkdtempSync(join(tmpdir(), "calico-xdp-batch-"));
  try {
    const file = join(tmp, "batch");
    writeFileSync(file, entries.map((e) => `${updateArgs(e).join(" ")}\n`).join(""));
    await run("bpftool", ["batch", "file", file]);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** The bytes of bpftool's JSON hex arrays (`["0x01", ...]`). */
export const hexBytes = (hex: readonly string[]) => Buffer.from(hex.map((h) => Number.parseInt(h, 16)));

/** Per-CPU array values summed over CPUs, by index, decoded as two u64 (packets, bytes). */
export async function readCounters(
  mapPin: string,
  on: BpftoolHost = LOCAL,
): Promise<{ packets: bigint; bytes: bigint }[]> {
  const dump = JSON.parse(
    await on.host("bpftool", ["map", "dump", "pinned", mapPin, "-j"], { maxOutput: 256 * 1024 * 1024 }),
  ) as {
    key: string[];
    values: { value: string[] }[];
  }[];
  const out: { packets: bigint; bytes: bigint }[] = [];
  for (const element of dump) {
    const index = hexBytes(element.key).readUInt32LE(0);
    let packets = 0n;
    let bytes = 0n;
    for (const { value } of element.values) {
      const b = hexBytes(value);
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
