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

const hexBytes = (buffer: Buffer): string[] => [...buffer].map((b) => b.toString(16).padStart(2, "0"));

/** Loads an XDP object, pinning the program at `<dir>/prog` and its maps at `<dir>/<map name>`. */
export async function loadPinned(objectPath: string, dir: string): Promise<void> {
  await run("bpftool", ["prog", "load", objectPath, join(dir, "prog"), "type", "xdp", "pinmaps", dir]);
}

/**
 * Writes map entries with one `bpftool batch` run: `updates` are written, `deletes` removed (hash and
 * LPM maps) or zeroed (array maps, given as updates with a zero value by the caller).
 */
export async function writeMaps(
  dir: string,
  updates: Readonly<Record<string, readonly MapEntry[]>>,
  deletes: Readonly<Record<string, readonly Buffer[]>> = {},
): Promise<void> {
  const lines: string[] = [];
  for (const [name, keys] of Object.entries(deletes)) {
    for (const key of keys)
      lines.push(["map", "delete", "pinned", join(dir, name), "key", "hex", ...hexBytes(key)].join(" "));
  }
  for (const [name, entries] of Object.entries(updates)) {
    for (const { key, value } of entries) {
      lines.push(
        [
          "map",
          "update",
          "pinned",
          join(dir, name),
          "key",
          "hex",
          ...hexBytes(key),
          "value",
          "hex",
          ...hexBytes(value),
        ].join(" "),
      );
    }
  }
  if (lines.length === 0) return;
  const tmp = mkdtempSync(join(tmpdir(), "calico-xdp-batch-"));
  try {
    const file = join(tmp, "batch");
    writeFileSync(file, `${lines.join("\n")}\n`);
    await run("bpftool", ["batch", "file", file], { timeoutMs: 600_000 });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Per-CPU array values summed over CPUs, by index, decoded as two u64 (packets, bytes). */
export async function readCounters(mapPin: string): Promise<{ packets: bigint; bytes: bigint }[]> {
  const dump = JSON.parse(await run("bpftool", ["map", "dump", "pinned", mapPin, "-j"])) as {
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
