/**
 * A DoS deny list at scale: one Deny rule whose source selector selects GlobalNetworkSets of N entries
 * (IPv4 addresses, IPv4 /24s and IPv6 /64s in turn). Per-packet cost from 10 to 1,000,000 entries
 * (BPF_PROG_RUN, against 10 entries in the same run); the XdpProgram provider's create of 1,000,000
 * entries on a netns node; a change of 1,000 entries, whole and node-side; kernel memory per entry,
 * as the maps report it. Run: npm run bench:denylist
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { buildObject } from "../provider/bpf/build";
import { LoadedFilter, localLoader } from "../provider/bpf/filter";
import { syncGenerations } from "../provider/bpf/loader";
import * as provider from "../provider/xdp/provider";
import { formatIp } from "../sdk/calico/cidr";
import { compileXdpPolicy, encodeMaps, mapsDigest } from "../sdk/xdp/compile";
import { buildPacket } from "../sdk/xdp/packet";
import type { XdpPolicyInput } from "../sdk/xdp/policy";
import type { NodeAttachment } from "../sdk/xdp/programArgs";
import { barChart, formatSample, gitRevision, machine, publish, type Sample, summarize } from "./report";

const SIZES = [10, 1_000, 100_000, 1_000_000];
const REPEAT = 1_000_000;
const RUNS = 5;
const CHANGE = 1_000;
const ip = (...args: string[]) => execFileSync("ip", args, { stdio: ["ignore", "pipe", "pipe"] });

/** Entry i: an IPv4 address, an IPv4 /24 or an IPv6 /64, in turn (10.0.0.0/8 and fd00::/16: map entries only). */
function entry(i: number): string {
  if (i % 3 === 0) return formatIp(4, 0x0a000000n + BigInt(i));
  if (i % 3 === 1) return `${formatIp(4, ((0x0a400000n + BigInt(i)) << 8n) & 0xffffff00n)}/24`;
  return `${formatIp(6, (0xfd00n << 112n) | (BigInt(i) << 64n))}/64`;
}

function denyList(size: number, offset = 0): XdpPolicyInput {
  const perSet = Math.ceil(size / 4);
  return {
    ingress: [{ action: "Deny", source: { selector: "dos-deny-list == 'true'" } }],
    networkSets: Array.from({ length: 4 }, (_, s) => ({
      name: `deny-${s}`,
      labels: { "dos-deny-list": "true" },
      nets: Array.from({ length: Math.max(0, Math.min(perSet, size - s * perSet)) }, (_, i) =>
        entry(offset + s * perSet + i),
      ),
    })),
    failsafeInbound: [],
    failsafeOutbound: [],
  };
}

async function seconds(work: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await work();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

async function cost(filter: LoadedFilter, source: string): Promise<Sample> {
  const family = source.includes(":") ? 6 : 4;
  const frame = buildPacket({
    family,
    protocol: 17,
    source,
    destination: family === 4 ? "198.18.0.2" : "fd00::2",
  });
  const runs: number[] = [];
  for (let i = 0; i < RUNS; i++) runs.push((await filter.run(frame, REPEAT)).durationNs);
  return summarize(runs);
}

/** Bytes of kernel memory the policy maps of a loaded program use (the kernel's own map accounting). */
function mapMemory(dir: string): number {
  const maps = JSON.parse(execFileSync("bpftool", ["map", "show", "-j"], { encoding: "utf8" })) as {
    id: number;
    bytes_memlock?: number;
  }[];
  const ours = JSON.parse(
    execFileSync("bpftool", ["prog", "show", "pinned", join(dir, "prog"), "-j"], { encoding: "utf8" }),
  ) as { map_ids: number[] };
  return maps.filter((m) => ours.map_ids.includes(m.id)).reduce((n, m) => n + (m.bytes_memlock ?? 0), 0);
}

async function main(): Promise<void> {
  const perPacket: { size: number; listed: Sample; prefix: Sample; unlisted: Sample; bytes: number }[] = [];
  const object = await buildObject();
  for (const size of SIZES) {
    const filter = await LoadedFilter.load(denyList(size), object);
    try {
      perPacket.push({
        size,
        listed: await cost(filter, entry(0)),
        prefix: await cost(filter, formatIp(4, ((0x0a400000n + 1n) << 8n) + 9n)),
        unlisted: await cost(filter, "192.0.2.1"),
        bytes: mapMemory(filter.dir),
      });
    } finally {
      await filter.close();
    }
  }
  const empty = perPacket[0]!.bytes;
  const perEntry = (perPacket[perPacket.length - 1]!.bytes - empty) / (SIZES[SIZES.length - 1]! - SIZES[0]!);

  // The provider on a netns node: create with 1,000,000 entries, then replace 1,000 of them.
  const tag = randomBytes(3).toString("hex");
  const netns = `cxd-${tag}`;
  const largest = SIZES[SIZES.length - 1]!;
  const timings: { create: number; update: number; nodeApply: number } = {
    create: 0,
    update: 0,
    nodeApply: 0,
  };
  ip("netns", "add", netns);
  try {
    ip("-n", netns, "link", "add", "dl0", "type", "veth", "peer", "name", "dl1");
    ip("-n", netns, "link", "set", "dl0", "up");
    const inputs = (policy: XdpPolicyInput) => ({
      identity: randomBytes(8).toString("hex"),
      nodes: [{ name: "edge-1", connection: { type: "netns", netns } }],
      interfaceName: "dl0",
      rules: policy.ingress,
      networkSets: policy.networkSets,
      failsafeInbound: [],
      failsafeOutbound: [],
    });
    const first = inputs(denyList(largest));
    const checked = (await provider.check({}, first)).inputs;
    let created: Awaited<ReturnType<typeof provider.create>> | undefined;
    timings.create = await seconds(async () => {
      created = await provider.create(checked as never);
    });
    const changed = { ...first, networkSets: denyList(largest, CHANGE).networkSets };
    const news = (await provider.check(created!.outs, changed)).inputs;
    let updated: Awaited<ReturnType<typeof provider.update>> | undefined;
    timings.update = await seconds(async () => {
      updated = await provider.update(created!.id, created!.outs as never, news as never);
    });
    // The node's part of a change alone: the loader writing the difference into both generations.
    const dir = (updated!.outs.attachments as NodeAttachment[])[0]!.pinDir!;
    const { ingress, ...context } = denyList(largest);
    const back = encodeMaps(compileXdpPolicy(ingress, context));
    const on = await localLoader();
    timings.nodeApply = await seconds(() => syncGenerations(on, dir, back, mapsDigest(back)));
    await provider.delete(created!.id, updated!.outs as never);
  } finally {
    ip("netns", "del", netns);
  }

  const facts = machine();
  const fmt = (s: Sample) => formatSample(s);
  const growth = perPacket[perPacket.length - 1]!.listed.median / perPacket[0]!.listed.median;
  const results = {
    machine: facts,
    revision: gitRevision(),
    repeat: REPEAT,
    runs: RUNS,
    perPacket,
    perEntry,
    timings,
  };
  const markdown = `## A deny list of up to 1,000,000 entries

Setup: one \`Deny\` rule whose source selector selects four GlobalNetworkSets holding N entries (IPv4
addresses, IPv4 /24s and IPv6 /64s in turn). Per-packet cost: \`bpftool prog run\`, \`repeat ${REPEAT.toLocaleString("en")}\`,
${RUNS} runs, median ns per packet (min–max). Kernel ${facts.kernel}, CPU ${facts.cpu} (${facts.cores} cores),
${facts.date.slice(0, 10)}, revision ${results.revision}.

| entries | listed address | in a listed /24 | unlisted | policy maps in kernel memory |
|---|---|---|---|---|
${perPacket.map((p) => `| ${p.size.toLocaleString("en")} | ${fmt(p.listed)} | ${fmt(p.prefix)} | ${fmt(p.unlisted)} | ${(p.bytes / 2 ** 20).toFixed(1)} MiB |`).join("\n")}

Both generations of every map count: an entry costs about **${perEntry.toFixed(0)} bytes** of kernel memory
(the maps' own accounting, \`bpftool map show\`), ${(perEntry / 2).toFixed(0)} per generation.

| on a netns node (XdpProgram provider, in process) | seconds | goal |
|---|---|---|
| create with ${largest.toLocaleString("en")} entries (compile, encode, load, both generations, attach) | ${timings.create.toFixed(1)} | ≤ 10: **${timings.create <= 10 ? "met" : "missed"}** |
| update replacing ${CHANGE.toLocaleString("en")} of them (compile and encode ${largest.toLocaleString("en")}, write the difference) | ${timings.update.toFixed(1)} | |
| the node's part of such a change: the loader reads, diffs and writes both generations | ${timings.nodeApply.toFixed(1)} | < 1: **${timings.nodeApply < 1 ? "met" : "missed"}** |

Per-packet cost from 10 to ${largest.toLocaleString("en")} entries, listed address: ${growth.toFixed(2)}x (goal ≤ 1.3x: **${growth <= 1.3 ? "met" : "missed"}**).
An exact address is one hash lookup whatever the size; a prefix is an LPM trie walk, whose depth grows with
the number of distinct prefixes. An update compiles the whole new policy in TypeScript (most of its time at
this size); the node then changes only what differs, generation by generation.`;
  const chart = barChart(
    "Deny list: ns per packet from a listed address",
    "ns",
    perPacket.map((p) => ({ label: `${p.size.toLocaleString("en")} entries`, sample: p.listed })),
  );
  publish("deny-list", results, markdown, chart);
  console.log(markdown);
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
