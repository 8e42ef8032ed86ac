/**
 * The counters of every calico-xdp filter on a node in Prometheus's text format: per rule (with its
 * action) and per verdict reason, packets and bytes, labelled with the resource, node and interface.
 */
import { renameSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { InterfaceStatus } from "./status";
import { PIN_ROOT } from "./xdp/node";

const METRICS = [
  ["calico_xdp_rule_packets_total", "Packets a rule of a calico-xdp filter decided or logged."],
  ["calico_xdp_rule_bytes_total", "Bytes a rule of a calico-xdp filter decided or logged."],
  ["calico_xdp_verdict_packets_total", "Packets a calico-xdp filter gave a verdict, by reason."],
  ["calico_xdp_verdict_bytes_total", "Bytes a calico-xdp filter gave a verdict, by reason."],
] as const;

/** A label value as the text format wants it: backslash, quote and line feed escaped. */
const labelValue = (value: string) => value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
const labels = (pairs: Record<string, string>) =>
  `{${Object.entries(pairs)
    .map(([k, v]) => `${k}="${labelValue(v)}"`)
    .join(",")}}`;

/** Our pins are `<PIN_ROOT>/<resource id>/<node>/v-.../`: who the filter belongs to. */
function ownerOf(pinDir: string): { resource: string; node: string } {
  const [resource = "", node = ""] = pinDir.slice(PIN_ROOT.length + 1).split("/");
  return { resource, node };
}

/** Pure: the exposition text for the statuses of one node (programs not ours are left out). */
export function prometheusText(statuses: readonly InterfaceStatus[]): string {
  const samples: Record<(typeof METRICS)[number][0], string[]> = {
    calico_xdp_rule_packets_total: [],
    calico_xdp_rule_bytes_total: [],
    calico_xdp_verdict_packets_total: [],
    calico_xdp_verdict_bytes_total: [],
  };
  for (const s of statuses) {
    if (s.owner !== "calico-xdp" || !s.pinDir) continue;
    const base = { ...ownerOf(s.pinDir), interface: s.interface };
    for (const r of s.rules ?? []) {
      const l = labels({ ...base, rule: String(r.rule), action: r.action });
      samples.calico_xdp_rule_packets_total.push(`calico_xdp_rule_packets_total${l} ${r.packets}`);
      samples.calico_xdp_rule_bytes_total.push(`calico_xdp_rule_bytes_total${l} ${r.bytes}`);
    }
    for (const [reason, v] of Object.entries(s.verdicts ?? {})) {
      const l = labels({ ...base, reason });
      samples.calico_xdp_verdict_packets_total.push(`calico_xdp_verdict_packets_total${l} ${v.packets}`);
      samples.calico_xdp_verdict_bytes_total.push(`calico_xdp_verdict_bytes_total${l} ${v.bytes}`);
    }
  }
  return `${METRICS.flatMap(([name, help]) => [`# HELP ${name} ${help}`, `# TYPE ${name} counter`, ...samples[name]]).join("\n")}\n`;
}

/** Serves `GET /metrics`, reading the counters afresh for every scrape. */
export function serveMetrics(
  host: string,
  port: number,
  read: () => Promise<readonly InterfaceStatus[]>,
): Promise<Server> {
  const server = createServer((request, response) => {
    if (request.method !== "GET" || request.url?.split("?")[0] !== "/metrics") {
      response.writeHead(404).end("calico-xdp serves /metrics\n");
      return;
    }
    read().then(
      (statuses) =>
        response
          .writeHead(200, { "content-type": "text/plain; version=0.0.4" })
          .end(prometheusText(statuses)),
      (error: Error) => response.writeHead(500).end(`${error.message}\n`),
    );
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve(server));
  });
}

/** Writes the text for node_exporter's textfile collector, atomically (it must never read half a file). */
export function writeTextfile(path: string, text: string): void {
  const partial = `${path}.${process.pid}.tmp`;
  writeFileSync(partial, text);
  renameSync(partial, path);
}
