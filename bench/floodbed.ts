/**
 * Two hosts in network namespaces joined by a veth pair, for the flood benchmarks: an attacker that is
 * also the legitimate client (on its own, allowed address) and a victim. The flood comes from
 * `trafgen` with random source addresses inside the denied range.
 */
import { type ChildProcess, execFile, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { run } from "../provider/bpf/exec";
import { startRedis } from "../scripts/redis";

export interface Floodbed {
  readonly victim: { readonly netns: string; readonly iface: string; readonly address: string };
  readonly client: { readonly netns: string; readonly iface: string; readonly address: string };
  destroy(): void;
}

const ip = (...args: string[]) =>
  execFileSync("ip", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });

/** `count` /28 blocks from 198.18.0.0 up: the first 4,096 cover 198.18.0.0/16, where the flood's sources are. */
export function denyCidrs(count: number): string[] {
  return Array.from({ length: count }, (_, i) => {
    const base = (198 << 24) + (18 << 16) + i * 16;
    return `${[base >>> 24, (base >>> 16) & 255, (base >>> 8) & 255, base & 255].join(".")}/28`;
  });
}

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

/**
 * A UDP flood from the client namespace to the victim, every packet from a random 198.18.x.y source,
 * on CPU 0 (the kernel processes what trafgen sends on the sending CPU). `stop()` resolves with the
 * number of packets sent.
 */
export function startFlood(bed: Floodbed): { stop: () => Promise<number> } {
  const [link] = JSON.parse(ip("-n", bed.victim.netns, "-j", "link", "show", "dev", bed.victim.iface)) as {
    address: string;
  }[];
  const dir = mkdtempSync(join(tmpdir(), "calico-xdp-flood-"));
  const conf = join(dir, "flood.cfg");
  writeFileSync(
    conf,
    `{
  eth(da=${link!.address}, type=0x0800),
  ipv4(sa=198.18.0.0, sa[2]=drnd(), sa[3]=drnd(), da=${bed.victim.address}, ttl=64),
  udp(sp=drnd(), dp=9999, csum=0),
  fill(0x41, 18)
}
`,
  );
  const child: ChildProcess = spawn(
    "taskset",
    [
      "-c",
      "0",
      "ip",
      "netns",
      "exec",
      bed.client.netns,
      "trafgen",
      "--dev",
      bed.client.iface,
      "--conf",
      conf,
      "--cpus",
      "1",
      "--qdisc-path",
    ],
    // Its own process group: trafgen's workers stop only when each gets the signal, as from a terminal.
    { stdio: ["ignore", "pipe", "pipe"], detached: true },
  );
  let out = "";
  child.stdout!.on("data", (chunk: Buffer) => {
    out += chunk.toString();
  });
  child.stderr!.on("data", (chunk: Buffer) => {
    out += chunk.toString();
  });
  let running = true;
  const exited = new Promise<void>((resolve) =>
    child.on("exit", () => {
      running = false;
      resolve();
    }),
  );
  return {
    async stop() {
      if (running) process.kill(-child.pid!, "SIGINT");
      await exited;
      rmSync(dir, { recursive: true, force: true });
      const match = /(\d+) packets outgoing/.exec(out);
      if (!match) throw new Error(`trafgen reported no packet count: ${out}`);
      return Number(match[1]);
    },
  };
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
