/**
 * Scale of the SDK: `pulumi preview` time and peak memory of the program process for stacks of 10, 100
 * and 500 nodes (a HostEndpoint per node, one UntrackedPolicy, one XdpProgram over all nodes, and the same
 * without the XdpProgram), against a plain program creating the same Calico objects with bare
 * CustomResources. Run: npm run bench:scale
 */
import { execFile, execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as k8s from "@pulumi/kubernetes";
import { LocalWorkspace } from "@pulumi/pulumi/automation";
import { engineWorkspace } from "../scripts/workspace";
import { HostEndpoint, UntrackedPolicy } from "../sdk/index";
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

const SIZES = [10, 100, 500];
const RUNS = 3;
const CLIENTS = ["198.18.1.0/24"];

const ip = (i: number) => `198.18.${Math.floor(i / 250)}.${(i % 250) + 1}`;

type Kind = "plain" | "components" | "sdk";
const KINDS: readonly Kind[] = ["plain", "components", "sdk"];

/** The stack with the SDK's components; `components` leaves out the XdpProgram. */
function sdkProgram(count: number, yamlDir: string, privateKey: string, xdp: boolean): void {
  const opts = { provider: new k8s.Provider("render", { renderYamlToDirectory: yamlDir }) };
  const hostEndpoints = Array.from(
    { length: count },
    (_, i) =>
      new HostEndpoint(
        `node-${i}-eth0`,
        { node: `node-${i}`, interfaceName: "eth0", expectedIPs: [ip(i)], labels: { hep: "redis-host" } },
        opts,
      ),
  );
  new UntrackedPolicy(
    "redis-untracked",
    {
      hostEndpoints,
      ingress: [
        { action: "Allow", protocol: "TCP", source: { nets: CLIENTS }, destination: { ports: [6379] } },
        { action: "Deny", protocol: "TCP", destination: { ports: [6379] } },
      ],
      ...(xdp && {
        xdp: {
          // A fleet over SSH, as such a stack would be (preview reaches no node).
          nodes: hostEndpoints.map((_, i) => ({
            name: `node-${i}`,
            connection: { type: "ssh" as const, host: ip(i), privateKey },
          })),
          interfaceName: "eth0",
        },
      }),
    },
    opts,
  );
}

/** The same Calico objects written by hand as bare CustomResources. */
function plainProgram(count: number, yamlDir: string): void {
  const provider = new k8s.Provider("render", { renderYamlToDirectory: yamlDir });
  for (let i = 0; i < count; i++) {
    new k8s.apiextensions.CustomResource(
      `node-${i}-eth0`,
      {
        apiVersion: "projectcalico.org/v3",
        kind: "HostEndpoint",
        metadata: { name: `node-${i}-eth0`, labels: { hep: "redis-host" } },
        spec: {
          node: `node-${i}`,
          interfaceName: "eth0",
          expectedIPs: [ip(i)],
          profiles: ["projectcalico-default-allow"],
        },
      },
      { provider },
    );
  }
  new k8s.apiextensions.CustomResource(
    "redis-untracked",
    {
      apiVersion: "projectcalico.org/v3",
      kind: "GlobalNetworkPolicy",
      metadata: { name: "redis-untracked" },
      spec: {
        selector: "hep == 'redis-host'",
        types: ["Ingress", "Egress"],
        ingress: [
          { action: "Allow", protocol: "TCP", source: { nets: CLIENTS }, destination: { ports: [6379] } },
          { action: "Deny", protocol: "TCP", destination: { ports: [6379] } },
        ],
        egress: [
          { action: "Allow", protocol: "TCP", source: { ports: [6379] }, destination: { nets: CLIENTS } },
        ],
        doNotTrack: true,
        applyOnForward: true,
      },
    },
    { provider },
  );
}

/** A throwaway SSH key for the fleet's connections. */
function sshKey(dir: string): string {
  const path = join(dir, "id_ed25519");
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "calico-xdp-bench", "-f", path]);
  return readFileSync(path, "utf8");
}

/** One preview in this process; prints seconds and this process's peak RSS. */
async function one(kind: Kind, count: number, bin: string): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "calico-xdp-scale-"));
  try {
    const stack = await LocalWorkspace.createOrSelectStack(
      {
        projectName: "scale",
        stackName: "bench",
        program: async () =>
          kind === "plain"
            ? plainProgram(count, join(dir, "yaml"))
            : sdkProgram(count, join(dir, "yaml"), sshKey(dir), kind === "sdk"),
      },
      await engineWorkspace(bin, dir, "calico-xdp-bench", "scale"),
    );
    const start = process.hrtime.bigint();
    await stack.preview();
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    console.log(JSON.stringify({ seconds, maxRssMB: process.resourceUsage().maxRSS / 1024 }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function child(kind: string, count: number, bin: string): Promise<{ seconds: number; maxRssMB: number }> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [__filename, "one", kind, String(count), bin],
      { maxBuffer: 64 * 1024 * 1024, timeout: 1_800_000 },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`${kind} ${count}: ${stderr || error.message}`));
        else resolve(JSON.parse(stdout.trim().split("\n").pop()!));
      },
    );
  });
}

async function main(): Promise<void> {
  const bin = execFileSync("bash", [join(ROOT, "scripts", "engine.sh")], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  }).trim();
  const rows: ({ nodes: number } & Record<Kind, { time: Sample; rss: Sample }>)[] = [];
  for (const count of SIZES) {
    const runs: Record<Kind, { seconds: number; maxRssMB: number }[]> = {
      plain: [],
      components: [],
      sdk: [],
    };
    for (let i = 0; i < RUNS; i++) {
      for (const kind of KINDS) runs[kind].push(await child(kind, count, bin));
    }
    const sample = (kind: Kind) => ({
      time: summarize(runs[kind].map((r) => r.seconds)),
      rss: summarize(runs[kind].map((r) => r.maxRssMB)),
    });
    rows.push({ nodes: count, plain: sample("plain"), components: sample("components"), sdk: sample("sdk") });
  }
  const facts = machine();
  const fmt = (s: Sample, digits: number) => formatSample(s, (n) => n.toFixed(digits));
  const ratio = (r: (typeof rows)[number], kind: Kind) => r[kind].time.median / r.plain.time.median;
  const worst = Math.max(...rows.map((r) => ratio(r, "sdk")));
  const worstComponents = Math.max(...rows.map((r) => ratio(r, "components")));
  const markdown = `## Scale of the SDK: pulumi preview

Setup: \`pulumi preview\` through the real engine (Automation API, file backend, Kubernetes provider rendering
to a directory) of N HostEndpoints, one UntrackedPolicy and one XdpProgram over all N nodes (the SDK),
against a plain program creating the same Calico objects as bare \`CustomResource\`s (no XdpProgram), and
the SDK's components alone (the same stack without the XdpProgram). The XdpProgram's nodes are reached over
SSH with one key, as a fleet is. Each preview in a fresh process; wall time and the program process's
peak RSS, ${RUNS} runs, median (min–max).
Kernel ${facts.kernel}, CPU ${facts.cpu} (${facts.cores} cores), ${facts.date.slice(0, 10)}, revision ${gitRevision()}.

| nodes | plain s | components s | SDK s | components ratio | SDK ratio | plain peak MB | SDK peak MB | memory ratio |
|---|---|---|---|---|---|---|---|---|
${rows.map((r) => `| ${r.nodes} | ${fmt(r.plain.time, 1)} | ${fmt(r.components.time, 1)} | ${fmt(r.sdk.time, 1)} | ${ratio(r, "components").toFixed(2)} | ${ratio(r, "sdk").toFixed(2)} | ${fmt(r.plain.rss, 0)} | ${fmt(r.sdk.rss, 0)} | ${(r.sdk.rss.median / r.plain.rss.median).toFixed(2)} |`).join("\n")}

Target: the Calico objects (the components column) at most 1.3x bare CustomResources: **${worstComponents <= 1.3 ? "met" : "missed"}** (worst ${worstComponents.toFixed(2)}x). HostEndpoints are their CustomResource (one resource per Calico object, as in the plain program), with an alias to their 0.1.0 URN; the UntrackedPolicy is a component owning its GlobalNetworkPolicy, so the SDK registers N+3 resources where the plain program registers N+2.
The SDK column adds an XdpProgram over every node, which the plain program has no counterpart for: the dynamic-provider plugin (a Node.js process loading the provider) and its \`check\` of every node's connection and key, about ${(rows[0]!.sdk.time.median - rows[0]!.components.time.median).toFixed(1)} s at ${rows[0]!.nodes} nodes and ${(rows.at(-1)!.sdk.time.median - rows.at(-1)!.components.time.median).toFixed(1)} s at ${rows.at(-1)!.nodes} (worst SDK ratio ${worst.toFixed(2)}x).`;
  const chart = barChart(
    "pulumi preview: seconds, plain CustomResources vs the SDK",
    "s",
    rows.flatMap((r) => [
      { label: `${r.nodes} nodes: plain`, sample: r.plain.time },
      { label: `${r.nodes} nodes: components`, sample: r.components.time },
      { label: `${r.nodes} nodes: SDK`, sample: r.sdk.time },
    ]),
  );
  publish("sdk-scale", { machine: facts, revision: gitRevision(), runs: RUNS, rows }, markdown, chart);
  console.log(markdown);
}

const [mode, kind, count, bin] = process.argv.slice(2);
(mode === "one" ? one(kind as Kind, Number(count), bin!) : main()).catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
