import { createHash } from "node:crypto";
import { bitsOf, type IpNetwork, parseCidr } from "../calico/cidr";
import { type Protocol, protocolNumber } from "../calico/ports";
import type { EntityRule } from "../calico/rule";
import { parseOrThrow } from "../calico/zodkit";
import {
  type AddrMatch,
  addressBytes,
  addrMatch,
  CONFIG_DST_V4_EXACT,
  CONFIG_DST_V4_PREFIX,
  CONFIG_DST_V6_EXACT,
  CONFIG_DST_V6_PREFIX,
  CONFIG_SRC_V4_EXACT,
  CONFIG_SRC_V4_PREFIX,
  CONFIG_SRC_V6_EXACT,
  CONFIG_SRC_V6_PREFIX,
  failsafeKey,
  GEN_PREFIX_BITS,
  lpmV4Key,
  lpmV6Key,
  type PolicyConfig,
  policyConfig,
  u32Key,
  type ValueMatch,
  v4Key,
  v6Key,
  valueMatch,
} from "./layout";
import {
  namedPorts,
  portRanges,
  ruleFamily,
  uncompilableMatchers,
  type XdpPolicy,
  type XdpPolicyInput,
  xdpPolicySchema,
} from "./policy";

export interface AddressEntry {
  readonly network: IpNetwork;
  readonly match: AddrMatch;
}

/** The exact contents of the program's maps for one policy. */
export interface CompiledPolicy {
  readonly config: PolicyConfig;
  /** Address tables by direction and family; /32 and /128 entries go to the hash maps. */
  readonly addresses: Readonly<Record<"src" | "dst", Readonly<Record<4 | 6, readonly AddressEntry[]>>>>;
  readonly protocols: ReadonlyMap<number, ValueMatch>;
  readonly sourcePorts: ReadonlyMap<number, ValueMatch>;
  readonly destinationPorts: ReadonlyMap<number, ValueMatch>;
  /** Keyed by `type << 8 | code`. */
  readonly icmp: ReadonlyMap<number, ValueMatch>;
  /** Keyed by `protocol << 16 | port`, valued by failsafe entry mask. */
  readonly failsafePorts: ReadonlyMap<number, number>;
  /** Rules (by index) with matchers XDP leaves unknown, which, and what that means. */
  readonly uncompiled: readonly {
    readonly rule: number;
    readonly matchers: readonly string[];
    readonly reason: string;
  }[];
  readonly ruleCount: number;
}

interface Contribution {
  network: IpNetwork;
  nets: bigint;
  notNets: bigint;
  failsafe: number;
}

class ValueTable {
  readonly entries = new Map<number, ValueMatch>();
  add(key: number, bit: bigint, negated: boolean): void {
    const entry = this.entries.get(key) ?? { in_list: 0n, in_not_list: 0n };
    this.entries.set(
      key,
      negated
        ? { ...entry, in_not_list: entry.in_not_list | bit }
        : { ...entry, in_list: entry.in_list | bit },
    );
  }
}

/**
 * Compiles an untracked policy's ingress rules (and the failsafe ports) into the filter's map contents:
 * per packet field, a table from the field's value to the set of rules (a 64-bit mask) the value
 * satisfies, so the program evaluates every rule with one lookup per field. Matchers XDP cannot
 * evaluate compile to "unknown", and the rest of their rule still compiles.
 */
export function compileXdpPolicy(
  rules: XdpPolicyInput["ingress"],
  options: { readonly failsafeInbound?: XdpPolicyInput["failsafeInbound"] } = {},
): CompiledPolicy {
  const policy: XdpPolicy = parseOrThrow(
    xdpPolicySchema,
    { ingress: rules, failsafeInbound: options.failsafeInbound },
    "XDP policy",
  );
  const config = policyConfig.zero();
  const addresses = new Map<string, Contribution>();
  const contribute = (
    direction: "src" | "dst",
    cidr: string,
    change: Partial<Omit<Contribution, "network">>,
  ) => {
    const parsed = parseCidr(cidr);
    if (!parsed.ok) throw new Error(`unparsable CIDR ${cidr} reached the compiler`);
    const key = `${direction}/${parsed.network.version}/${parsed.network.address}/${parsed.network.prefixLength}`;
    const entry = addresses.get(key) ?? { network: parsed.network, nets: 0n, notNets: 0n, failsafe: 0 };
    entry.nets |= change.nets ?? 0n;
    entry.notNets |= change.notNets ?? 0n;
    entry.failsafe |= change.failsafe ?? 0;
    addresses.set(key, entry);
  };
  const protocols = new ValueTable();
  const ports = { source: new ValueTable(), destination: new ValueTable() };
  const icmp = new ValueTable();
  const uncompiled: { rule: number; matchers: string[]; reason: string }[] = [];

  policy.ingress.forEach((rule, index) => {
    const bit = 1n << BigInt(index);
    config.rules |= bit;
    const family = ruleFamily(rule);
    if (family !== 6) config.v4_rules |= bit;
    if (family !== 4) config.v6_rules |= bit;
    config[ACTION_FIELD[rule.action]] |= bit;

    for (const [side, direction] of [
      ["source", "src"],
      ["destination", "dst"],
    ] as const) {
      const entity: EntityRule | undefined = rule[side];
      if (entity?.nets) config[`${direction}_nets`] |= bit;
      if (entity?.notNets) config[`${direction}_not_nets`] |= bit;
      for (const net of entity?.nets ?? []) contribute(direction, net, { nets: bit });
      for (const net of entity?.notNets ?? []) contribute(direction, net, { notNets: bit });
      const prefix = (direction === "src" ? "sport" : "dport") as "sport" | "dport";
      for (const [field, negated] of [
        ["ports", false],
        ["notPorts", true],
      ] as const) {
        const list = entity?.[field];
        if (list === undefined) continue;
        config[negated ? (`${prefix}_not` as const) : (`${prefix}_list` as const)] |= bit;
        if (namedPorts(list).length > 0) {
          config[negated ? (`${prefix}_not_named` as const) : (`${prefix}_named` as const)] |= bit;
        }
        for (const [first, last] of portRanges(list)) {
          for (let port = first; port <= last; port++) ports[side].add(port, bit, negated);
        }
      }
    }
    if (rule.protocol !== undefined) {
      config.protocol |= bit;
      protocols.add(protocolNumber(rule.protocol as Protocol), bit, false);
    }
    if (rule.notProtocol !== undefined) {
      config.not_protocol |= bit;
      protocols.add(protocolNumber(rule.notProtocol as Protocol), bit, true);
    }
    for (const [field, negated] of [
      ["icmp", false],
      ["notICMP", true],
    ] as const) {
      const match = rule[field];
      if (match === undefined) continue;
      config[negated ? "not_icmp" : "icmp"] |= bit;
      // A matcher without a type matches every ICMP packet (Calico: `-p icmp` alone).
      const types = match.type === undefined ? range(0, 255) : [match.type];
      for (const type of types) {
        for (const code of match.code === undefined ? range(0, 255) : [match.code])
          icmp.add((type << 8) | code, bit, negated);
      }
    }
    const unknown = uncompilableMatchers(rule);
    if (unknown.length > 0) config.uncompilable |= bit;
    const named = (["source", "destination"] as const).flatMap((side) =>
      (["ports", "notPorts"] as const).flatMap((field) =>
        namedPorts(rule[side]?.[field]).map((p) => `${side}.${field} "${p}"`),
      ),
    );
    const matchers = [...unknown, ...named];
    if (matchers.length > 0) {
      uncompiled.push({
        rule: index,
        matchers,
        reason: `${matchers.join(", ")} cannot be evaluated in XDP: where the rule's other matchers hold, the packet is passed for Calico's iptables rules to decide`,
      });
    }
  });

  const failsafePorts = new Map<number, number>();
  policy.failsafeInbound.forEach((entry, index) => {
    const bit = 1 << index;
    const number = protocolNumber(entry.protocol);
    if (entry.net === undefined) config.failsafe_any_net |= bit;
    else contribute("src", entry.net, { failsafe: bit });
    const byProtocol = ({ 6: "failsafe_tcp", 17: "failsafe_udp", 132: "failsafe_sctp" } as const)[
      number as 6 | 17 | 132
    ];
    config[byProtocol] = (config[byProtocol] | bit) >>> 0;
    const key = (number << 16) | entry.port;
    failsafePorts.set(key, ((failsafePorts.get(key) ?? 0) | bit) >>> 0);
  });
  config.failsafe_any_net >>>= 0;
  config.rule_count = policy.ingress.length;

  const tables = {
    src: { 4: nest(addresses, "src", 4), 6: nest(addresses, "src", 6) },
    dst: { 4: nest(addresses, "dst", 4), 6: nest(addresses, "dst", 6) },
  };
  const flag = (entries: readonly AddressEntry[], exact: boolean, value: number) =>
    entries.some((e) => (e.network.prefixLength === bitsOf(e.network.version)) === exact) ? value : 0;
  config.flags =
    flag(tables.src[4], true, CONFIG_SRC_V4_EXACT) |
    flag(tables.src[6], true, CONFIG_SRC_V6_EXACT) |
    flag(tables.dst[4], true, CONFIG_DST_V4_EXACT) |
    flag(tables.dst[6], true, CONFIG_DST_V6_EXACT) |
    flag(tables.src[4], false, CONFIG_SRC_V4_PREFIX) |
    flag(tables.src[6], false, CONFIG_SRC_V6_PREFIX) |
    flag(tables.dst[4], false, CONFIG_DST_V4_PREFIX) |
    flag(tables.dst[6], false, CONFIG_DST_V6_PREFIX);

  return {
    config,
    addresses: tables,
    protocols: protocols.entries,
    sourcePorts: ports.source.entries,
    destinationPorts: ports.destination.entries,
    icmp: icmp.entries,
    failsafePorts,
    uncompiled,
    ruleCount: policy.ingress.length,
  };
}

const ACTION_FIELD = { Allow: "allow", Deny: "deny", Log: "log", Pass: "pass" } as const;

function range(first: number, last: number): number[] {
  return Array.from({ length: last - first + 1 }, (_, i) => first + i);
}

/**
 * Merges every prefix's contribution into the prefixes it contains: an LPM lookup returns only the
 * longest match, so each entry must already answer for its enclosing prefixes too. CIDRs are either
 * nested or disjoint, so after sorting by (address, length) the enclosing prefixes form a stack.
 */
function nest(
  all: ReadonlyMap<string, Contribution>,
  direction: "src" | "dst",
  family: 4 | 6,
): AddressEntry[] {
  const bits = BigInt(bitsOf(family));
  const mine = [...all.entries()]
    .filter(([key]) => key.startsWith(`${direction}/${family}/`))
    .map(([, c]) => c)
    .sort((a, b) =>
      a.network.address === b.network.address
        ? a.network.prefixLength - b.network.prefixLength
        : a.network.address < b.network.address
          ? -1
          : 1,
    );
  const stack: { network: IpNetwork; match: AddrMatch }[] = [];
  const contains = (outer: IpNetwork, inner: IpNetwork) =>
    outer.prefixLength <= inner.prefixLength &&
    inner.address >> (bits - BigInt(outer.prefixLength)) ===
      outer.address >> (bits - BigInt(outer.prefixLength));
  const out: AddressEntry[] = [];
  for (const c of mine) {
    while (stack.length > 0 && !contains(stack[stack.length - 1]!.network, c.network)) stack.pop();
    const parent = stack[stack.length - 1]?.match;
    const match: AddrMatch = {
      nets: (parent?.nets ?? 0n) | c.nets,
      not_nets: (parent?.not_nets ?? 0n) | c.notNets,
      failsafe: ((parent?.failsafe ?? 0) | c.failsafe) >>> 0,
      reserved: 0,
    };
    stack.push({ network: c.network, match });
    out.push({ network: c.network, match });
  }
  return out;
}

export interface MapEntry {
  readonly key: Buffer;
  readonly value: Buffer;
}

/** Pinned map name -> encoded entries of generation 0, as the loader writes them into each generation. */
export function encodeMaps(compiled: CompiledPolicy): Record<string, MapEntry[]> {
  const maps: Record<string, MapEntry[]> = {
    config: [{ key: u32Key(0), value: policyConfig.encode(compiled.config) }],
  };
  for (const direction of ["src", "dst"] as const) {
    for (const family of [4, 6] as const) {
      const bitsLength = bitsOf(family);
      const exact: MapEntry[] = [];
      const lpm: MapEntry[] = [];
      for (const { network, match } of compiled.addresses[direction][family]) {
        const addr = addressBytes(network.address, bitsLength);
        const value = addrMatch.encode(match);
        if (network.prefixLength === bitsLength)
          exact.push({ key: (family === 4 ? v4Key : v6Key).encode({ gen: 0, addr }), value });
        else {
          const key = (family === 4 ? lpmV4Key : lpmV6Key).encode({
            prefixlen: GEN_PREFIX_BITS + network.prefixLength,
            gen: 0,
            addr,
          });
          lpm.push({ key, value });
        }
      }
      maps[`${direction}_v${family}_exact`] = exact;
      maps[`${direction}_v${family}_lpm`] = lpm;
    }
  }
  const values = (table: ReadonlyMap<number, ValueMatch>) =>
    [...table.entries()]
      .sort(([a], [b]) => a - b)
      .map(([key, v]) => ({ key: u32Key(key), value: valueMatch.encode(v) }));
  maps.proto_match = values(compiled.protocols);
  maps.sport_match = values(compiled.sourcePorts);
  maps.dport_match = values(compiled.destinationPorts);
  maps.icmp_match = values(compiled.icmp);
  maps.failsafe_ports = [...compiled.failsafePorts.entries()]
    .sort(([a], [b]) => a - b)
    .map(([key, mask]) => ({ key: failsafeKey.encode({ gen: 0, proto_port: key }), value: u32Key(mask) }));
  return maps;
}

/**
 * A digest of map contents: equal digests mean equal filters, whatever the rule spelling. Entries are
 * sorted by key and all-zero values skipped, so the same digest comes from compiled maps and from maps
 * dumped off a node (where arrays list every index).
 */
export function mapsDigest(maps: Readonly<Record<string, readonly MapEntry[]>>): string {
  const hash = createHash("sha256");
  for (const name of Object.keys(maps).sort()) {
    const lines = maps[name]!.filter((e) => e.value.some((b) => b !== 0))
      .map((e) => `${e.key.toString("hex")}=${e.value.toString("hex")}`)
      .sort();
    if (lines.length) hash.update(`${name}\n${lines.join("\n")}\n`);
  }
  return hash.digest("hex");
}
