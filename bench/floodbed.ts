/**
 * Two hosts in network namespaces joined by a veth pair, for the flood benchmarks: an attacker that is
 * also the legitimate client (on its own, allowed address) and a victim. The flood comes from the
 * live-frames generator (bench/livegen.ts).
 */
import { execFile, execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { run } from "../provider/bpf/exec";
import { startRedis } from "../scripts/redis";

export interface Floodbed {
  readonly victim: { readonly netns: string; readonly iface: string; readonly address: string };
  readonly client: { readonly netns: string; readonly iface: string; readonly address: string };
  destroy(): void;
}

const ip = (...args: string[]) =>
  execFileSync("ip", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });

export function createFloodbed(): Floodbed {
  const tag = randomBytes(3).toString("hex");
  const victim = { netns: `cxb-${tag}-v`, iface: `bv${tag}`, address: "198.19.253.1" };
  const client = { netns: `cxb-${tag}-c`, iface: `bc${tag}`, address: "198.19.253.2" };
  const destroy = () => {
    for (const ns of [victim.netns, client.netns]) {
      try {
        ip("netns", "del", ns);
      } catch {
        // not created
      }
    }
  };
  try {
    ip("netns", "add", victim.netns);
    ip("netns", "add", client.netns);
    ip(
      "link",
      "add",
      client.iface,
      "netns",
      client.netns,
      "type",
      "veth",
      "peer",
      "name",
      victim.iface,
      "netns",
      victim.netns,
    );
    for (const host of [victim, client]) {
      ip("-n", host.netns, "addr", "add", `${host.address}/24`, "dev", host.iface);
      ip("-n", host.netns, "link", "set", "lo", "up");
      ip("-n", host.netns, "link", "set", host.iface, "up");
    }
  } catch (error) {
    destroy();
    throw error;
  }
  return { victim, client, destroy };
}

/** A command inside a namespace of the testbed (an argument vector); resolves with its stdout. */
export const inNetns = (
  netns: string,
  file: string,
  args: readonly string[],
  options: { input?: string; timeoutMs?: number } = {},
) => run("ip", ["netns", "exec", netns, file, ...args], options);

/** redis-server on the victim, pinned to CPU 1 (clients and floods get CPU 0 unless told otherwise). */
export async function startPinnedRedis(bed: Floodbed): Promise<{ stop: () => void }> {
  const redis = await startRedis(bed.victim.netns);
  execFileSync("taskset", ["-a", "-pc", "1", String(redis.pid)], { stdio: "ignore" });
  return redis;
}

/** redis-benchmark could not open a connection at all. */
export class RedisUnreachable extends Error {}

/**
 * `redis-benchmark -t ping_inline --csv` from the client namespace on `cpu` against the victim:
 * requests per second. `extra` adds options (e.g. `-k 0` for a new connection per request).
 */
export function redisBenchmark(
  bed: Floodbed,
  options: { cpu: number; requests: number; clients: number; extra?: readonly string[]; timeoutMs: number },
): Promise<number> {
  const argv = ["-c", String(options.cpu), "ip", "netns", "exec", bed.client.netns, "redis-benchmark"];
  argv.push("-h", bed.victim.address, "-p", "6379", ...(options.extra ?? []), "-t", "ping_inline");
  argv.push("-n", String(options.requests), "-c", String(options.clients), "--csv");
  return new Promise((resolve, reject) =>
    execFile("taskset", argv, { timeout: options.timeoutMs }, (error, stdout, stderr) => {
      const match = /"PING_INLINE","([\d.]+)"/.exec(stdout);
      if (match) resolve(Number(match[1]));
      else if (/Connection timed out|Could not connect/.test(stdout + stderr))
        reject(new RedisUnreachable(`redis-benchmark could not connect: ${(stdout + stderr).trim()}`));
      else reject(error ?? new Error(`unexpected redis-benchmark output: ${stdout}`));
    }),
  );
}
