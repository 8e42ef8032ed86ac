/**
 * XDP objects the benchmarks load themselves (their own baselines, xdp-tools' programs): into a fresh
 * bpffs directory, and attached natively on a floodbed victim's interface.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { BPFFS } from "../provider/bpf/bpftool";
import { buildObject } from "../provider/bpf/build";
import { run } from "../provider/bpf/exec";
import { localLoader } from "../provider/bpf/filter";
import { loader } from "../provider/bpf/loader";
import { ROOT } from "./report";

/** A host's interface in a network namespace, where a program is attached. */
export interface Victim {
  readonly netns: string;
  readonly iface: string;
}

/** One of bench/programs/, built. */
export const benchProgram = (file: string) => buildObject(join(ROOT, "bench", "programs", file));

/**
 * Loads an object's XDP program and its maps (resized by `maxEntries`) into a fresh bpffs directory:
 * the program at `dir/prog`. The directory is gone again when the load fails.
 */
export async function loadPinned(
  objectPath: string,
  maxEntries: Readonly<Record<string, number>> = {},
): Promise<string> {
  const dir = mkdtempSync(join(BPFFS, `calico-xdp-bench-${process.pid}-`));
  try {
    await loader.load(await localLoader(), objectPath, dir, "xdp", maxEntries);
    return dir;
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

/** {@link loadPinned} for as long as `use` runs, then unpinned. */
export async function withLoaded<T>(objectPath: string, use: (dir: string) => Promise<T>): Promise<T> {
  const dir = await loadPinned(objectPath);
  try {
    return await use(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Attaches a pinned XDP program natively on the victim's interface. Through nsenter, which changes only
 * the network namespace: `ip netns exec` and `ip -n` mount a fresh /sys, without the bpffs pins.
 */
export const attachPinned = (victim: Victim, pin: string) =>
  run("nsenter", [
    `--net=/run/netns/${victim.netns}`,
    "ip",
    "link",
    "set",
    "dev",
    victim.iface,
    "xdpdrv",
    "pinned",
    pin,
  ]);

/** Detaches whatever XDP program is attached natively on the victim's interface. */
export const detachXdp = (victim: Victim) =>
  run("ip", ["-n", victim.netns, "link", "set", "dev", victim.iface, "xdpdrv", "off"]);
