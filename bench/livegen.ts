/**
 * The live-frames traffic generator (bench/native/trafficgen.c with bench/programs/trafficgen.c): frames
 * redirected by BPF_PROG_RUN into the client's end of the floodbed's veth pair reach the victim's XDP
 * program as xdp_frames, as from a NIC driver.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { buildObject } from "../provider/bpf/build";
import type { Floodbed } from "./floodbed";
import { ROOT } from "./report";

const SOURCE = join(ROOT, "bench", "native", "trafficgen.c");

export interface Generator {
  readonly binary: string;
  readonly object: string;
}

/** Builds the generator (cached by its source's digest) and its frame writer. */
export async function buildGenerator(): Promise<Generator> {
  const digest = createHash("sha256").update(readFileSync(SOURCE)).digest("hex").slice(0, 16);
  const dir = join(homedir(), ".cache", "calico-xdp", "trafficgen");
  const binary = join(dir, `trafficgen-${digest}`);
  if (!existsSync(binary)) {
    mkdirSync(dir, { recursive: true });
    execFileSync("cc", ["-O2", "-Wall", "-Werror", "-o", binary, SOURCE, "-lbpf"], { stdio: "inherit" });
  }
  const object = await buildObject(join(ROOT, "bench", "programs", "trafficgen.c"));
  return { binary, object: object.path };
}

/** Writes the frames' source addresses, one per line, for the generator to cycle through. */
export function writeSources(path: string, addresses: readonly string[]): string {
  writeFileSync(path, `${addresses.join("\n")}\n`);
  return path;
}

/** Frames go to the victim's address (or `destination`, of the sources' family) from CPU `cpu`. */
export interface SendOptions {
  readonly cpu?: number;
  readonly destination?: string;
}

function argv(
  gen: Generator,
  bed: Floodbed,
  sources: string,
  frames: number,
  options: SendOptions,
): string[] {
  const [link] = JSON.parse(
    execFileSync("ip", ["-n", bed.victim.netns, "-j", "link", "show", "dev", bed.victim.iface], {
      encoding: "utf8",
    }),
  ) as { address: string }[];
  return [
    "netns",
    "exec",
    bed.client.netns,
    gen.binary,
    gen.object,
    bed.client.iface,
    link!.address,
    options.destination ?? bed.victim.address,
    sources,
    String(frames),
    String(options.cpu ?? 0),
  ];
}

/** Sends `frames` frames as fast as the path takes them: seconds taken. */
export function sendFrames(
  gen: Generator,
  bed: Floodbed,
  sources: string,
  frames: number,
  options: SendOptions = {},
): number {
  const out = execFileSync("ip", argv(gen, bed, sources, frames, options), { encoding: "utf8" });
  const result = JSON.parse(out.trim()) as { frames: number; seconds: number };
  if (result.frames !== frames) throw new Error(`trafficgen sent ${result.frames} of ${frames} frames`);
  return result.seconds;
}

/** A steady flood of `rate` frames per second until stopped. */
export function startSteadyFlood(
  gen: Generator,
  bed: Floodbed,
  sources: string,
  rate: number,
  options: SendOptions = {},
): { stop: () => Promise<void> } {
  // An hour's worth: the flood ends when stopped.
  const child: ChildProcess = spawn("ip", [...argv(gen, bed, sources, rate * 3600, options), String(rate)], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return {
    async stop() {
      if (child.exitCode !== null) throw new Error(`the flood ended early (${child.exitCode}): ${stderr}`);
      child.kill("SIGTERM");
      await exited;
    },
  };
}
