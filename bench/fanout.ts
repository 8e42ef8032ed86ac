/**
 * Fan-out: `pulumi up` of one XdpProgram across 1, 10 and 50 netns nodes through the real engine
 * (Automation API, file backend): wall time of create, of a rules-only update and of destroy.
 * Run: npm run bench:fanout
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalWorkspace } from "@pulumi/pulumi/automation";
import { engineWorkspace } from "../scripts/workspace";
import { XdpProgram } from "../sdk/index";
import {
  barChart,
  formatSample,
  gitRevision,
  machine,
  publish,
  ROOT,
  type Sample,
  summarize,
} from "./report";

const SIZES = [1, 10, 50];
const RUNS = 3;
const IFACE = "fx0";

const ip = (...args: string[]) => execFileSync("ip", args, { stdio: ["ignore", "pipe", "pipe"] });

function nodes(count: number, tag: string): string[] {
  return Array.from({ length: count }, (_, i) => `cxf-${tag}-${i}`);
}

async function timed(work: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await work();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

async function measure(
  bin: string,
  count: number,
): Promise<{ create: number; update: number; destroy: number }> {
  const tag = randomBytes(3).toString("hex");
  const namespaces = nodes(count, tag);
  const dir = mkdtempSync(join(tmpdir(), "calico-xdp-fanout-"));
  try {
    for (const ns of namespaces) {
      ip("netns", "add", ns);
      ip("-n", ns, "link", "add", IFACE, "type", "veth", "peer", "name", "fx1");
      ip("-n", ns, "link", "set", IFACE, "up");
    }
    let port = 6379;
    const stack = await LocalWorkspace.createOrSelectStack(
      {
        projectName: "fanout",
        stackName: "bench",
        program: async () => {
          new XdpProgram("fanout", {
            nodes: namespaces.map((netns, i) => ({
              name: `node-${i}`,
              connection: { type: "netns", netns },
            })),
            interfaceName: IFACE,
            rules: [{ action: "Deny", protocol: "TCP", destination: { ports: [port] } }],
          });
        },
      },
      await engineWorkspace(bin, dir, "calico-xdp-bench", "fanout"),
    );
    const create = await timed(() => stack.up());
    port = 6380;
    const update = await timed(() => stack.up());
    const destroy = await timed(() => stack.destroy());
    return { create, update, destroy };
  } finally {
    for (const ns of namespaces) {
      try {
        ip("netns", "del", ns);
      } catch {
        // not created
      }
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const bin = execFileSync("bash", [join(ROOT, "scripts", "engine.sh")], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  }).trim();
  const results: { nodes: number; create: Sample; update: Sample; destroy: Sample }[] = [];
  for (const count of SIZES) {
    const runs = [];
    for (let i = 0; i < RUNS; i++) runs.push(await measure(bin, count));
    results.push({
      nodes: count,
      create: summarize(runs.map((r) => r.create)),
      update: summarize(runs.map((r) => r.update)),
      destroy: summarize(runs.map((r) => r.destroy)),
    });
  }
  const facts = machine();
  const one = results[0]!;
  const fmt = (s: Sample) => formatSample(s, (n) => n.toFixed(1));
  const ratio = (s: Sample, base: Sample) => (s.median / base.median).toFixed(2);
  const last = results[results.length - 1]!;
  const worst = Math.max(
    last.create.median / one.create.median,
    last.update.median / one.update.median,
    last.destroy.median / one.destroy.median,
  );
  const markdown = `## Fan-out: pulumi up across netns nodes

Setup: one \`XdpProgram\` (the policy filter, one rule) over N network-namespace nodes, each with a veth
interface, through the real Pulumi engine (Automation API, file backend), concurrency 8. Wall time in
seconds of \`up\` (create), \`up\` after a rules-only change (maps rewritten in place) and \`destroy\`,
${RUNS} runs each, median (min–max). Kernel ${facts.kernel}, CPU ${facts.cpu} (${facts.cores} cores), ${facts.date.slice(0, 10)}, revision ${gitRevision()}.

| nodes | create s | rules-only update s | destroy s | create vs 1 node | update vs 1 node | destroy vs 1 node |
|---|---|---|---|---|---|---|
${results.map((r) => `| ${r.nodes} | ${fmt(r.create)} | ${fmt(r.update)} | ${fmt(r.destroy)} | ${ratio(r.create, one.create)} | ${ratio(r.update, one.update)} | ${ratio(r.destroy, one.destroy)} |`).join("\n")}

Target: 50 nodes at most 10x one node: **${worst <= 10 ? "met" : "missed"}** (worst ratio ${worst.toFixed(2)}x). The engine's own
start-up and state handling are part of every number, as users see them.`;
  const chart = barChart(
    "pulumi up of an XdpProgram: seconds by node count",
    "s",
    results.flatMap((r) => [
      { label: `${r.nodes} nodes: create`, sample: r.create },
      { label: `${r.nodes} nodes: rules-only update`, sample: r.update },
      { label: `${r.nodes} nodes: destroy`, sample: r.destroy },
    ]),
  );
  publish("fanout", { machine: facts, revision: gitRevision(), runs: RUNS, results }, markdown, chart);
  console.log(markdown);
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
