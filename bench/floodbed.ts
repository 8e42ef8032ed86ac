/**
 * Two hosts in network namespaces joined by a veth pair, for the flood benchmarks: an attacker that is
 * also the legitimate client (on its own, allowed address) and a victim. The flood comes from
 * `trafgen` with random source addresses inside the denied range.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

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
