import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { REASONS } from "../sdk/xdp/layout";
import { pinnedProgramId, readCounters } from "./bpf/bpftool";
import { run } from "./bpf/exec";
import { isCalicoProgram, PIN_ROOT, XDP_MODES } from "./xdp/node";

export interface InterfaceStatus {
  readonly interface: string;
  readonly programId: number;
  readonly programName: string;
  readonly mode: string;
  readonly owner: "calico-xdp" | "calico" | "other";
  readonly pinDir?: string;
  readonly rules?: { rule: number; packets: string; bytes: string }[];
  readonly verdicts?: Record<string, { packets: string; bytes: string }>;
}

/** Our pinned programs on this machine: program id -> pin directory. */
async function pinnedPrograms(): Promise<Map<number, string>> {
  const pins = new Map<number, string>();
  if (!existsSync(PIN_ROOT)) return pins;
  for (const resource of readdirSync(PIN_ROOT)) {
    for (const node of readdirSync(join(PIN_ROOT, resource))) {
      for (const version of readdirSync(join(PIN_ROOT, resource, node))) {
        const dir = join(PIN_ROOT, resource, node, version);
        try {
          pins.set(await pinnedProgramId(dir), dir);
        } catch {
          // not a program pin
        }
      }
    }
  }
  return pins;
}

/** What XDP programs are attached in a namespace (or this host), whose they are, and our counters. */
export async function xdpStatus(options: { netns?: string; iface?: string }): Promise<InterfaceStatus[]> {
  const args = [
    ...(options.netns ? ["-n", options.netns] : []),
    "-j",
    "link",
    "show",
    ...(options.iface ? ["dev", options.iface] : []),
  ];
  const links = JSON.parse(await run("ip", args)) as {
    ifname: string;
    xdp?: { mode: number; prog?: { id: number; name: string } };
  }[];
  const pins = await pinnedPrograms();
  const out: InterfaceStatus[] = [];
  for (const link of links) {
    const prog = link.xdp?.prog;
    if (!prog) continue;
    const pinDir = pins.get(prog.id);
    const owner = pinDir ? "calico-xdp" : isCalicoProgram(prog.name) ? "calico" : "other";
    const base = {
      interface: link.ifname,
      programId: prog.id,
      programName: prog.name,
      mode: XDP_MODES[link.xdp!.mode] ?? String(link.xdp!.mode),
      owner,
    } as const;
    if (!pinDir) {
      out.push(base);
      continue;
    }
    const rules = await readCounters(join(pinDir, "rule_stats"));
    const verdicts = await readCounters(join(pinDir, "verdict_stats"));
    out.push({
      ...base,
      pinDir,
      rules: rules.flatMap((c, rule) =>
        c && c.packets > 0n ? [{ rule, packets: String(c.packets), bytes: String(c.bytes) }] : [],
      ),
      verdicts: Object.fromEntries(
        REASONS.map((r, i) => [
          r,
          { packets: String(verdicts[i]?.packets ?? 0n), bytes: String(verdicts[i]?.bytes ?? 0n) },
        ]),
      ),
    });
  }
  return out;
}

export function formatStatus(statuses: readonly InterfaceStatus[]): string {
  if (statuses.length === 0) return "no XDP program attached\n";
  const lines: string[] = [];
  for (const s of statuses) {
    lines.push(
      `${s.interface}: program ${s.programId} "${s.programName}", ${s.mode} mode, owner ${s.owner}${s.pinDir ? ` (${s.pinDir})` : ""}`,
    );
    if (s.rules) {
      lines.push("  rule  packets  bytes");
      for (const r of s.rules)
        lines.push(`  ${String(r.rule).padStart(4)}  ${r.packets.padStart(7)}  ${r.bytes}`);
      lines.push(
        `  verdicts: ${Object.entries(s.verdicts ?? {})
          .map(([k, v]) => `${k} ${v.packets}`)
          .join(", ")}`,
      );
    }
  }
  return `${lines.join("\n")}\n`;
}
