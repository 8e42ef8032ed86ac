import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { prometheusText } from "../../provider/metrics";
import * as provider from "../../provider/xdp/provider";
import type { NodeAttachment } from "../../sdk/xdp/programArgs";
import { background, inNetns } from "../support/hosts";
import { testIdentity } from "../support/identity";
import { kernelSkip } from "../support/kernel";
import { createTestbed, type Testbed } from "../support/netns";
import { REPO_ROOT } from "../support/paths";
import { calicoXdpStatus } from "../support/status";

const skip = kernelSkip(["bpftool", "ip", "prometheus"]);
const CLI = join(REPO_ROOT, "dist", "provider", "cli.js");

/** A port nothing listens on now, on loopback. */
function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function eventually<T>(what: string, probe: () => Promise<T | undefined>, seconds = 60): Promise<T> {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${seconds} s`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

describe("prometheusText", () => {
  it("GIVEN statuses WHEN rendered THEN only our filters appear, with escaped labels and one HELP/TYPE per metric", () => {
    const text = prometheusText([
      { interface: "eth0", programId: 1, programName: "prefilter", mode: "native", owner: "calico" },
      {
        interface: 'we"ird',
        programId: 2,
        programName: "calico_xdp_poli",
        mode: "native",
        owner: "calico-xdp",
        pinDir: "/sys/fs/bpf/calico-xdp/cx-0123456789abcdef/edge-1/v-1-2",
        rules: [{ rule: 1, action: "Deny", packets: "7", bytes: "420" }],
        verdicts: { deny: { packets: "7", bytes: "420" } },
      },
    ]);
    expect(text).toContain(
      'calico_xdp_rule_packets_total{resource="cx-0123456789abcdef",node="edge-1",interface="we\\"ird",rule="1",action="Deny"} 7',
    );
    expect(text).toContain(
      'calico_xdp_verdict_bytes_total{resource="cx-0123456789abcdef",node="edge-1",interface="we\\"ird",reason="deny"} 420',
    );
    expect(text.match(/^# TYPE /gm)).toHaveLength(4);
    expect(text).not.toContain("prefilter");
  });
});

describe.skipIf(skip)("calico-xdp metrics scraped by a real Prometheus", () => {
  let tb: Testbed;
  let server: Awaited<ReturnType<typeof background>>;
  let work: string;
  let id: string;
  let outs: Record<string, unknown> & { attachments: NodeAttachment[] };
  const children: ChildProcess[] = [];
  let prometheusPort: number;

  beforeAll(async () => {
    tb = createTestbed();
    work = mkdtempSync(join(tmpdir(), "calico-xdp-metrics-"));
    server = await background(tb.server.netns, "tcp-server", "6379");
    const created = await provider.create(
      (
        await provider.check(
          {},
          {
            identity: testIdentity(),
            nodes: [{ name: "edge-1", connection: { type: "netns", netns: tb.server.netns } }],
            interfaceName: tb.server.iface,
            rules: [
              {
                action: "Allow",
                protocol: "TCP",
                source: { nets: [`${tb.client.address}/32`] },
                destination: { ports: [6379] },
              },
              { action: "Deny", protocol: "TCP", destination: { ports: [6379] } },
            ],
          },
        )
      ).inputs as never,
    );
    id = created.id;
    outs = created.outs;
    expect(
      await inNetns(tb.client.netns, "tcp-connect", tb.server.address, "6379", tb.client.deniedAddress),
    ).toBe("timeout");
    const metricsPort = await freePort();
    children.push(
      spawn(
        process.execPath,
        [CLI, "metrics", "--netns", tb.server.netns, "--listen", `127.0.0.1:${metricsPort}`],
        {
          stdio: "ignore",
        },
      ),
    );
    prometheusPort = await freePort();
    writeFileSync(
      join(work, "prometheus.yml"),
      `global: { scrape_interval: 1s }\nscrape_configs:\n  - job_name: calico-xdp\n    static_configs: [{ targets: ["127.0.0.1:${metricsPort}"] }]\n`,
    );
    children.push(
      spawn(
        "prometheus",
        [
          `--config.file=${join(work, "prometheus.yml")}`,
          `--storage.tsdb.path=${join(work, "data")}`,
          `--web.listen-address=127.0.0.1:${prometheusPort}`,
        ],
        { stdio: "ignore" },
      ),
    );
  }, 120_000);

  afterAll(async () => {
    try {
      for (const child of children) child.kill("SIGTERM");
      if (id) await provider.delete(id, outs as never);
    } finally {
      await server?.stop();
      tb?.destroy();
      if (work) rmSync(work, { recursive: true, force: true });
    }
  });

  it("GIVEN a denied client WHEN Prometheus scrapes the node THEN its query API returns the Deny rule's packets with the labels", async () => {
    const query = 'calico_xdp_rule_packets_total{rule="1"}';
    const result = await eventually("Prometheus reporting the Deny rule", async () => {
      const response = await fetch(
        `http://127.0.0.1:${prometheusPort}/api/v1/query?query=${encodeURIComponent(query)}`,
      );
      const body = (await response.json()) as {
        data: { result: { metric: Record<string, string>; value: [number, string] }[] };
      };
      return body.data.result[0];
    });
    expect(result.metric).toMatchObject({
      job: "calico-xdp",
      resource: id,
      node: "edge-1",
      interface: tb.server.iface,
      action: "Deny",
    });
    const counted = JSON.parse(calicoXdpStatus(tb.server.netns, "--json"))[0].rules.find(
      (r: { rule: number }) => r.rule === 1,
    ).packets;
    expect(Number(result.value[1])).toBeGreaterThan(0);
    expect(Number(result.value[1])).toBeLessThanOrEqual(Number(counted));
  });

  it("GIVEN --textfile WHEN run THEN it writes the same counters for node_exporter and exits", () => {
    const path = join(work, "calico-xdp.prom");
    execFileSync(process.execPath, [CLI, "metrics", "--netns", tb.server.netns, "--textfile", path]);
    expect(readFileSync(path, "utf8")).toMatch(
      new RegExp(
        `calico_xdp_verdict_packets_total\\{resource="${id}",node="edge-1",interface="${tb.server.iface}",reason="deny"\\} [1-9]`,
      ),
    );
  });
});
