/**
 * One deny list of source CIDRs, enforced the ways a host can enforce it: our XDP filter, iptables raw
 * rules (one per CIDR, as Felix renders a policy's nets without an IP set), iptables raw matching an
 * ipset `hash:net`, an nftables set, or nothing. Each can report how many packets it dropped.
 */
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { readCounters, updateEntries } from "../provider/bpf/bpftool";
import { run } from "../provider/bpf/exec";
import * as provider from "../provider/xdp/provider";
import { REASONS } from "../sdk/xdp/layout";
import type { NodeAttachment } from "../sdk/xdp/programArgs";
import { inNetns } from "./floodbed";
import { attachPinned, detachXdp, loadPinned, type Victim } from "./pinned";

export type { Victim } from "./pinned";

export interface DenyFilter {
  readonly key: "none" | "xdp-native" | "xdp-generic" | "xdp-filter" | "iptables" | "ipset" | "nftables";
  readonly label: string;
  install(victim: Victim, cidrs: readonly string[]): Promise<void>;
  /** Packets it dropped so far (for `none`: packets the victim's interface received). */
  counted(victim: Victim): Promise<number>;
  remove(victim: Victim): Promise<void>;
}

async function iptablesDrops(victim: Victim): Promise<number> {
  const saved = await inNetns(victim.netns, "iptables-save", ["-c", "-t", "raw"]);
  let packets = 0;
  for (const match of saved.matchAll(/^\[(\d+):\d+\] -A PREROUTING .*-j DROP$/gm))
    packets += Number(match[1]);
  return packets;
}

const rawTable = (rules: readonly string[]) =>
  ["*raw", ":PREROUTING ACCEPT [0:0]", ...rules.map((r) => `-A PREROUTING ${r}`), "COMMIT", ""].join("\n");

const IPSET = "cxbench-deny";
const NFT_TABLE = "cxbench";

/** Our filter through the provider, as `pulumi up` would attach it. */
function xdpFilter(mode: "native" | "generic"): DenyFilter {
  let xdp: { id: string; outs: { attachments: NodeAttachment[] } & Record<string, unknown> } | undefined;
  return {
    key: `xdp-${mode}`,
    label: `calico-xdp XDP filter, ${mode}`,
    async install(victim, cidrs) {
      const checked = await provider.check(
        {},
        {
          identity: randomBytes(8).toString("hex"),
          nodes: [{ name: "victim", connection: { type: "netns", netns: victim.netns } }],
          interfaceName: victim.iface,
          mode,
          rules: [{ action: "Deny", source: { nets: cidrs } }],
        },
      );
      if (checked.failures?.length) throw new Error(JSON.stringify(checked.failures));
      const created = await provider.create(checked.inputs as never);
      xdp = { id: created.id, outs: created.outs as never };
    },
    async counted() {
      const counters = await readCounters(join(xdp!.outs.attachments[0]!.pinDir!, "verdict_stats"));
      return Number(counters[REASONS.indexOf("deny")]?.packets ?? 0n);
    },
    async remove() {
      if (xdp) await provider.delete(xdp.id, xdp.outs as never);
      xdp = undefined;
    },
  };
}

/** xdp-tools' program for a default-allow IP filter (Debian package xdp-tools). */
export const XDP_FILTER_OBJECT = `/usr/lib/${process.arch === "arm64" ? "aarch64" : "x86_64"}-linux-gnu/bpf/xdpfilt_alw_ip.o`;
/** xdp-filter's map value flag for "match the source address". */
export const XDP_FILTER_SRC = Buffer.from([1, 0, 0, 0, 0, 0, 0, 0]);
const XDP_DROP = 1;
/** max_entries of xdp-filter's filter_ipv4 in Debian's build. */
export const XDP_FILTER_BUILT_ENTRIES = 10_000;

/** An IPv4 address as xdp-filter's filter_ipv4 key (network order). */
const ipv4Key = (address: string) => Buffer.from(address.split(".").map(Number));

/**
 * xdp-tools' xdp-filter, its program loaded alone (libxdp's dispatcher cannot load on this kernel, see
 * the README) and attached in native mode, its address map written in one batch: what
 * `xdp-filter load` and one `xdp-filter ip` per address would leave, but with its address map grown to
 * the list (it holds 10,000 as built, and refuses the rest). It matches exact addresses, so the deny list
 * must be /32s.
 */
export function xdpToolsFilter(): DenyFilter {
  let dir: string | undefined;
  return {
    key: "xdp-filter",
    label: "xdp-tools xdp-filter, native",
    async install(victim, cidrs) {
      const hosts = cidrs.map((c) => {
        const [address, prefix] = c.split("/");
        if (prefix !== "32") throw new Error(`xdp-filter matches addresses, not ${c}`);
        return address!;
      });
      // Its address map holds 10,000 as built: grown to the list, as a user would have to rebuild it.
      const loaded = await loadPinned(XDP_FILTER_OBJECT, {
        filter_ipv4: Math.max(XDP_FILTER_BUILT_ENTRIES, hosts.length),
      });
      try {
        await updateEntries(
          hosts.map((h) => ({ map: join(loaded, "filter_ipv4"), key: ipv4Key(h), value: XDP_FILTER_SRC })),
        );
        await attachPinned(victim, join(loaded, "prog"));
      } catch (error) {
        rmSync(loaded, { recursive: true, force: true });
        throw error;
      }
      dir = loaded;
    },
    async counted() {
      const counters = await readCounters(join(dir!, "xdp_stats_map"));
      return Number(counters[XDP_DROP]?.packets ?? 0n);
    },
    async remove(victim) {
      await detachXdp(victim);
      if (dir) rmSync(dir, { recursive: true, force: true });
      dir = undefined;
    },
  };
}

export const DENY_FILTERS: readonly DenyFilter[] = [
  {
    key: "none",
    label: "no filter",
    async install() {},
    async counted(victim) {
      const [link] = JSON.parse(
        await run("ip", ["-n", victim.netns, "-s", "-j", "link", "show", "dev", victim.iface]),
      );
      return Number(link.stats64.rx.packets);
    },
    async remove() {},
  },
  xdpFilter("native"),
  xdpFilter("generic"),
  {
    key: "iptables",
    label: "iptables raw, one rule per CIDR",
    async install(victim, cidrs) {
      await inNetns(victim.netns, "iptables-restore", [], {
        input: rawTable(cidrs.map((c) => `-s ${c} -j DROP`)),
      });
    },
    counted: iptablesDrops,
    async remove(victim) {
      await inNetns(victim.netns, "iptables", ["-t", "raw", "-F", "PREROUTING"]);
    },
  },
  {
    key: "ipset",
    label: "iptables raw + ipset hash:net",
    async install(victim, cidrs) {
      const set = [
        `create ${IPSET} hash:net family inet maxelem ${Math.max(65536, cidrs.length)}`,
        ...cidrs.map((c) => `add ${IPSET} ${c}`),
        "",
      ].join("\n");
      await inNetns(victim.netns, "ipset", ["restore"], { input: set });
      await inNetns(victim.netns, "iptables-restore", [], {
        input: rawTable([`-m set --match-set ${IPSET} src -j DROP`]),
      });
    },
    counted: iptablesDrops,
    async remove(victim) {
      await inNetns(victim.netns, "iptables", ["-t", "raw", "-F", "PREROUTING"]);
      await inNetns(victim.netns, "ipset", ["destroy", IPSET]);
    },
  },
  {
    key: "nftables",
    label: "nftables set",
    async install(victim, cidrs) {
      const ruleset = `table ip ${NFT_TABLE} {
  set deny {
    type ipv4_addr
    flags interval
    elements = { ${cidrs.join(", ")} }
  }
  chain pre {
    type filter hook prerouting priority raw; policy accept;
    ip saddr @deny counter drop
  }
}
`;
      await inNetns(victim.netns, "nft", ["-f", "-"], { input: ruleset });
    },
    async counted(victim) {
      const listing = JSON.parse(
        await inNetns(victim.netns, "nft", ["-j", "list", "chain", "ip", NFT_TABLE, "pre"]),
      ) as {
        nftables: { rule?: { expr: { counter?: { packets: number } }[] } }[];
      };
      let packets = 0;
      for (const item of listing.nftables)
        for (const expr of item.rule?.expr ?? []) packets += expr.counter?.packets ?? 0;
      return packets;
    },
    async remove(victim) {
      await inNetns(victim.netns, "nft", ["delete", "table", "ip", NFT_TABLE]);
    },
  },
];
