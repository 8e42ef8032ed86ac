import { dirname } from "node:path";
import { GENERATIONS, policyConfig, REASONS } from "../sdk/xdp/layout";
import { hexBytes, readCounters } from "./bpf/bpftool";
import { isCalicoProgram, PIN_ROOT, XDP_MODES } from "./xdp/node";
import type { NodeTransport } from "./xdp/transport";

export interface InterfaceStatus {
  readonly interface: string;
  readonly programId: number;
  readonly programName: string;
  readonly mode: string;
  /** The bpf_link holding the program, when it is attached through one (netlink cannot detach it). */
  readonly linkId?: number;
  readonly owner: "calico-xdp" | "calico" | "other";
  readonly pinDir?: string;
  readonly rules?: { rule: number; action: string; packets: string; bytes: string }[];
  readonly verdicts?: Record<string, { packets: string; bytes: string }>;
}

/** Our pin directory of a program, from the paths bpftool finds it pinned at on the node. */
async function ourPinDir(t: NodeTransport, programId: number): Promise<string | undefined> {
  const { pinned = [] } = JSON.parse(
    await t.host("bpftool", ["-j", "-f", "prog", "show", "id", String(programId)]),
  ) as { pinned?: string[] };
  const ours = pinned.find((path) => path.startsWith(`${PIN_ROOT}/`) && path.endsWith("/prog"));
  return ours && dirname(ours);
}

/** Each rule's action, from the config of the generation packets read now (the policy in force). */
async function ruleActions(t: NodeTransport, pinDir: string): Promise<string[]> {
  const [active] = JSON.parse(
    await t.host("bpftool", ["-j", "map", "dump", "pinned", `${pinDir}/active_gen`]),
  ) as { value: string[] }[];
  const gen = active ? hexBytes(active.value).readUInt32LE(0) & (GENERATIONS - 1) : 0;
  const key = Buffer.alloc(4);
  key.writeUInt32LE(gen);
  const { value } = JSON.parse(
    await t.host("bpftool", [
      "-j",
      "map",
      "lookup",
      "pinned",
      `${pinDir}/config`,
      "key",
      "hex",
      ...[...key].map((b) => b.toString(16).padStart(2, "0")),
    ]),
  ) as { value: string[] };
  const config = policyConfig.decode(hexBytes(value));
  const has = (mask: bigint, rule: number) => (mask >> BigInt(rule)) & 1n;
  return Array.from({ length: config.rule_count }, (_, rule) =>
    has(config.allow, rule)
      ? "Allow"
      : has(config.deny, rule)
        ? "Deny"
        : has(config.pass, rule)
          ? "Pass"
          : has(config.log, rule)
            ? "Log"
            : "",
  );
}

/** What XDP programs are attached on a node (or one interface of it), whose they are, and our counters. */
export async function xdpStatus(t: NodeTransport, iface?: string): Promise<InterfaceStatus[]> {
  await t.prepare();
  const links = JSON.parse(await t.net("ip", ["-j", "link", "show", ...(iface ? ["dev", iface] : [])])) as {
    ifname: string;
    xdp?: { mode: number; prog?: { id: number; name: string } };
  }[];
  const bpfLinks = JSON.parse(await t.host("bpftool", ["link", "show", "-j"])) as {
    id: number;
    type: string;
    prog_id: number;
  }[];
  const out: InterfaceStatus[] = [];
  for (const link of links) {
    const prog = link.xdp?.prog;
    if (!prog) continue;
    const pinDir = await ourPinDir(t, prog.id);
    const owner = pinDir ? "calico-xdp" : isCalicoProgram(prog.name) ? "calico" : "other";
    const linkId = bpfLinks.find((l) => l.type === "xdp" && l.prog_id === prog.id)?.id;
    const base = {
      interface: link.ifname,
      programId: prog.id,
      programName: prog.name,
      mode: XDP_MODES[link.xdp!.mode] ?? String(link.xdp!.mode),
      ...(linkId === undefined ? {} : { linkId }),
      owner,
    } as const;
    if (!pinDir) {
      out.push(base);
      continue;
    }
    const rules = await readCounters(`${pinDir}/rule_stats`, t);
    const verdicts = await readCounters(`${pinDir}/verdict_stats`, t);
    const actions = await ruleActions(t, pinDir);
    out.push({
      ...base,
      pinDir,
      rules: rules.flatMap((c, rule) =>
        c && c.packets > 0n
          ? [{ rule, action: actions[rule] ?? "", packets: String(c.packets), bytes: String(c.bytes) }]
          : [],
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
      `${s.interface}: program ${s.programId} "${s.programName}", ${s.mode} mode, ${s.linkId === undefined ? "no link" : `link ${s.linkId}`}, owner ${s.owner}${s.pinDir ? ` (${s.pinDir})` : ""}`,
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
