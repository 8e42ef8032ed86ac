import { createHash } from "node:crypto";
import { addressKey, bitsOf, type IpNetwork, parseCidr } from "../calico/cidr";
import { type Protocol, protocolNumber } from "../calico/ports";
import type { EntityRule } from "../calico/rule";
import { parseOrThrow } from "../calico/zodkit";
import { sourceDecider } from "./bySource";
import { type XdpDecision, xdpDecisions } from "./decides";
import {
  type AddrMatch,
  addrMatch,
  CONFIG_DST_V4_EXACT,
  CONFIG_DST_V4_PREFIX,
  CONFIG_DST_V6_EXACT,
  CONFIG_DST_V6_PREFIX,
  CONFIG_SHADOW,
  CONFIG_SRC_V4_EXACT,
  CONFIG_SRC_V4_PREFIX,
  CONFIG_SRC_V6_EXACT,
  CONFIG_SRC_V6_PREFIX,
  FAILSAFE_BY_SOURCE_PORT,
  FAILSAFE_OUTBOUND_SHIFT,
  FAILSAFE_SLOTS,
  failsafeHintBit,
  failsafeKey,
  GEN_PREFIX_BITS,
  GENERATIONS,
  lpmV4Key,
  lpmV6Key,
  type PolicyConfig,
  policyConfig,
  type ValueMatch,
  v4Key,
  v6Key,
  valueMatch,
} from "./layout";
import { resolveSelections } from "./members";
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
  /** Keyed by `[FAILSAFE_BY_SOURCE_PORT |] protocol << 16 | port`, valued by failsafe entry mask. */
  readonly failsafePorts: ReadonlyMap<number, bigint>;
  /** Per rule, which packets XDP decides and why not the others. */
  readonly decisions: readonly XdpDecision[];
  readonly ruleCount: number;
}

interface Contribution {
  network: IpNetwork;
  nets: bigint;
  notNets: bigint;
  sel: bigint;
  notSel: bigint;
  failsafe: bigint;
}

type Change = Partial<Omit<Contribution, "network">>;
const CHANGE_FIELDS = ["nets", "notNets", "sel", "notSel", "failsafe"] as const;

/** What each address or prefix contributes, per direction and family, before nesting. */
class AddressTables {
  /** direction -> family -> prefix length -> address key -> contribution */
  private readonly tables = {
    src: {
      4: new Map<number, Map<number | string, Contribution>>(),
      6: new Map<number, Map<number | string, Contribution>>(),
    },
    dst: {
      4: new Map<number, Map<number | string, Contribution>>(),
      6: new Map<number, Map<number | string, Contribution>>(),
    },
  };
  add(direction: "src" | "dst", network: IpNetwork, change: Change): void {
    const byLength = this.tables[direction][network.version];
    const table = byLength.get(network.prefixLength) ?? new Map<number | string, Contribution>();
    byLength.set(network.prefixLength, table);
    const key = addressKey(network.version, network.address);
    let entry = table.get(key);
    if (!entry) {
      entry = { network, nets: 0n, notNets: 0n, sel: 0n, notSel: 0n, failsafe: 0n };
      table.set(key, entry);
    }
    // BigInt arithmetic allocates: a million set members must not cost five new BigInts each.
    for (const field of CHANGE_FIELDS) {
      const bits = change[field];
      if (bits !== undefined) entry[field] = entry[field] === 0n ? bits : entry[field] | bits;
    }
  }
  addCidr(direction: "src" | "dst", cidr: string, change: Change): void {
    const parsed = parseCidr(cidr);
    if (!parsed.ok) throw new Error(`unparsable CIDR ${cidr} reached the compiler`);
    this.add(direction, parsed.network, change);
  }
  nested(direction: "src" | "dst", family: 4 | 6): AddressEntry[] {
    const all: Contribution[] = [];
    for (const table of this.tables[direction][family].values()) for (const c of table.values()) all.push(c);
    return nest(all, family);
  }
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

const FAILSAFE_BY_PROTOCOL = { 6: "failsafe_tcp", 17: "failsafe_udp", 132: "failsafe_sctp" } as const;

/**
 * Compiles an untracked policy's ingress rules (and the failsafe ports, and the objects its selectors
 * can match) into the filter's map contents: per packet field, a table from the field's value to the
 * set of rules (a 64-bit mask) the value satisfies, so the program evaluates every rule with one lookup
 * per field. A selector becomes its selected objects' addresses in the address tables. Matchers XDP
 * cannot evaluate compile to "unknown", and the rest of their rule still compiles.
 */
export function compileXdpPolicy(
  rules: Readonly<XdpPolicyInput["ingress"]> | XdpPolicy["ingress"],
  context: Readonly<Omit<XdpPolicyInput, "ingress">> | Omit<XdpPolicy, "ingress"> = {},
): CompiledPolicy {
  const policy: XdpPolicy = parseOrThrow(xdpPolicySchema, { ingress: rules, ...context }, "XDP policy");
  const config = policyConfig.zero();
  const addresses = new AddressTables();
  const protocols = new ValueTable();
  const ports = { source: new ValueTable(), destination: new ValueTable() };
  const icmp = new ValueTable();
  const selections = resolveSelections(policy);

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
      for (const net of entity?.nets ?? []) addresses.addCidr(direction, net, { nets: bit });
      for (const net of entity?.notNets ?? []) addresses.addCidr(direction, net, { notNets: bit });
      const chosen = selections[index]![side];
      for (const [selection, field, change] of [
        [chosen.selector, `${direction}_sel`, { sel: bit }],
        [chosen.notSelector, `${direction}_not_sel`, { notSel: bit }],
      ] as const) {
        if (!selection) continue;
        config[field] |= bit;
        for (const object of selection.objects)
          for (const network of object.networks) addresses.add(direction, network, change);
      }
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
    if (uncompilableMatchers(rule).length > 0) config.uncompilable |= bit;
  });
  if (policy.selectorScope === "open") config.sel_open = config.rules;

  const failsafePorts = new Map<number, bigint>();
  for (const [list, shift, byPort] of [
    [policy.failsafeInbound, 0, 0],
    [policy.failsafeOutbound, FAILSAFE_OUTBOUND_SHIFT, FAILSAFE_BY_SOURCE_PORT],
  ] as const) {
    list.forEach((entry, index) => {
      const bit = 1n << BigInt(shift + index);
      const number = protocolNumber(entry.protocol);
      if (entry.net === undefined) config.failsafe_any_net |= bit;
      else addresses.addCidr("src", entry.net, { failsafe: bit });
      config[FAILSAFE_BY_PROTOCOL[number as 6 | 17 | 132]] |= bit;
      config.failsafe_port_hint |= 1n << BigInt(failsafeHintBit(entry.port));
      const key = (byPort | (number << 16) | entry.port) >>> 0;
      failsafePorts.set(key, (failsafePorts.get(key) ?? 0n) | bit);
    });
  }
  config.rule_count = policy.ingress.length;

  const tables = {
    src: { 4: addresses.nested("src", 4), 6: addresses.nested("src", 6) },
    dst: { 4: addresses.nested("dst", 4), 6: addresses.nested("dst", 6) },
  };
  const flag = (entries: readonly AddressEntry[], exact: boolean, value: number) =>
    entries.some((e) => (e.network.prefixLength === bitsOf(e.network.version)) === exact) ? value : 0;
  for (const family of [4, 6] as const) {
    const bySource = sourceDecider(config, family);
    for (const entry of tables.src[family]) entry.match.by_source = bySource(entry.match);
    config[`v${family}_absent_by_source`] = bySource(addrMatch.zero());
  }
  config.flags =
    flag(tables.src[4], true, CONFIG_SRC_V4_EXACT) |
    flag(tables.src[6], true, CONFIG_SRC_V6_EXACT) |
    flag(tables.dst[4], true, CONFIG_DST_V4_EXACT) |
    flag(tables.dst[6], true, CONFIG_DST_V6_EXACT) |
    flag(tables.src[4], false, CONFIG_SRC_V4_PREFIX) |
    flag(tables.src[6], false, CONFIG_SRC_V6_PREFIX) |
    flag(tables.dst[4], false, CONFIG_DST_V4_PREFIX) |
    flag(tables.dst[6], false, CONFIG_DST_V6_PREFIX) |
    (policy.enforce ? 0 : CONFIG_SHADOW);

  return {
    config,
    addresses: tables,
    protocols: protocols.entries,
    sourcePorts: ports.source.entries,
    destinationPorts: ports.destination.entries,
    icmp: icmp.entries,
    failsafePorts,
    decisions: xdpDecisions(policy),
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
function nest(contributions: Contribution[], family: 4 | 6): AddressEntry[] {
  const bits = BigInt(bitsOf(family));
  const mine = contributions.sort((a, b) =>
    a.network.address === b.network.address
      ? a.network.prefixLength - b.network.prefixLength
      : a.network.address < b.network.address
        ? -1
        : 1,
  );
  const stack: Contribution[] = [];
  const contains = (outer: IpNetwork, inner: IpNetwork) =>
    outer.prefixLength <= inner.prefixLength &&
    inner.address >> (bits - BigInt(outer.prefixLength)) ===
      outer.address >> (bits - BigInt(outer.prefixLength));
  const out: AddressEntry[] = new Array(mine.length);
  const or = (a: bigint, b: bigint) => (a === 0n ? b : b === 0n ? a : a | b);
  for (const [i, c] of mine.entries()) {
    while (stack.length > 0 && !contains(stack[stack.length - 1]!.network, c.network)) stack.pop();
    // Merged in place: the stack holds already merged contributions.
    const parent = stack[stack.length - 1];
    if (parent) for (const field of CHANGE_FIELDS) c[field] = or(parent[field], c[field]);
    stack.push(c);
    out[i] = {
      network: c.network,
      match: {
        nets: c.nets,
        not_nets: c.notNets,
        sel: c.sel,
        not_sel: c.notSel,
        failsafe: c.failsafe,
        by_source: 0,
      },
    };
  }
  return out;
}

export interface MapEntry {
  readonly key: Buffer;
  readonly value: Buffer;
}

/**
 * One map's entries, packed: `count` records of key then value, sorted by the key's bytes (memcmp), the
 * order the loader sorts what it reads in, so a packed map and a dump of the same contents are the same
 * bytes. Keys are generation 0's.
 */
export interface PackedMap {
  readonly keySize: number;
  readonly valueSize: number;
  readonly count: number;
  readonly data: Buffer;
}

export type PackedMaps = Readonly<Record<string, PackedMap>>;

/** The records of a packed map, for inspection. */
export function entriesOf(map: PackedMap | undefined): MapEntry[] {
  if (!map) return [];
  const size = map.keySize + map.valueSize;
  return Array.from({ length: map.count }, (_, i) => ({
    key: map.data.subarray(i * size, i * size + map.keySize),
    value: map.data.subarray(i * size + map.keySize, (i + 1) * size),
  }));
}

/** Packs records written by `write(buffer, offset, i)` for i in [0, count). */
function pack(
  keySize: number,
  valueSize: number,
  count: number,
  write: (buffer: Buffer, at: number, i: number) => void,
): PackedMap {
  const data = Buffer.alloc(count * (keySize + valueSize));
  for (let i = 0; i < count; i++) write(data, i * (keySize + valueSize), i);
  return { keySize, valueSize, count, data };
}

/** The order memcmp gives little-endian u32 keys: by their bytes reversed. */
const leOrder = (k: number) =>
  (((k & 0xff) << 24) | (((k >>> 8) & 0xff) << 16) | (((k >>> 16) & 0xff) << 8) | (k >>> 24)) >>> 0;

function writeAddress(buffer: Buffer, at: number, family: 4 | 6, address: bigint): void {
  if (family === 4) buffer.writeUInt32BE(Number(address), at);
  else {
    buffer.writeBigUInt64BE(address >> 64n, at);
    buffer.writeBigUInt64BE(address & 0xffff_ffff_ffff_ffffn, at + 8);
  }
}

function packValues(table: ReadonlyMap<number, ValueMatch>): PackedMap {
  const keys = [...table.keys()].filter((k) => {
    const v = table.get(k)!;
    return v.in_list !== 0n || v.in_not_list !== 0n;
  });
  keys.sort((a, b) => leOrder(a) - leOrder(b));
  return pack(4, valueMatch.size, keys.length, (b, at, i) => {
    const v = table.get(keys[i]!)!;
    b.writeUInt32LE(keys[i]!, at);
    b.writeBigUInt64LE(v.in_list, at + 4 + valueMatch.offsets.in_list!);
    b.writeBigUInt64LE(v.in_not_list, at + 4 + valueMatch.offsets.in_not_list!);
  });
}

/** Slots of failsafe_bits by protocol number (destination ports; source ports half the slots further). */
const FAILSAFE_SLOT: Readonly<Record<number, number>> = { 6: 0, 17: 1, 132: 2 };

/** failsafe_bits of the failsafe_ports keys: the words with a listed port, in key order. */
function packFailsafeBits(keys: readonly number[]): PackedMap {
  const words = new Map<number, bigint>();
  for (const key of keys) {
    const port = key & 0xffff;
    const slot =
      FAILSAFE_SLOT[(key >>> 16) & 0xff]! + (key & FAILSAFE_BY_SOURCE_PORT ? FAILSAFE_SLOTS / 2 : 0);
    const index = (slot * 65536 + port) >>> 6;
    words.set(index, (words.get(index) ?? 0n) | (1n << BigInt(port & 63)));
  }
  const indexes = [...words.keys()].sort((a, b) => leOrder(a) - leOrder(b));
  return pack(4, 8, indexes.length, (b, at, i) => {
    b.writeUInt32LE(indexes[i]!, at);
    b.writeBigUInt64LE(words.get(indexes[i]!)!, at + 4);
  });
}

/** Pinned map name -> packed entries of generation 0, as the loader writes them into each generation. */
export function encodeMaps(compiled: CompiledPolicy): PackedMaps {
  const configValue = policyConfig.encode(compiled.config);
  const maps: Record<string, PackedMap> = {
    config: configValue.some((b) => b !== 0)
      ? pack(4, policyConfig.size, 1, (b, at) => {
          b.writeUInt32LE(0, at);
          configValue.copy(b, at + 4);
        })
      : pack(4, policyConfig.size, 0, () => undefined),
  };
  // The address maps hold indices into addr_match, of its distinct entries in the order they come;
  // index 0 is the all-zero entry, which the array holds without being written.
  const distinct = [addrMatch.encode(addrMatch.zero())];
  const indexOf = new Map([[distinct[0]!.toString("hex"), 0]]);
  const matchIndex = (m: AddrMatch): number => {
    const value = addrMatch.encode(m);
    const hex = value.toString("hex");
    const known = indexOf.get(hex);
    if (known !== undefined) return known;
    indexOf.set(hex, distinct.push(value) - 1);
    return distinct.length - 1;
  };
  for (const direction of ["src", "dst"] as const) {
    for (const family of [4, 6] as const) {
      const bits = bitsOf(family);
      const entries = compiled.addresses[direction][family];
      // Nested entries come sorted by address: exact keys (generation, address) keep that order...
      const exact = entries.filter((e) => e.network.prefixLength === bits);
      // ...and LPM keys start with the prefix length, so they go by length first (a stable sort).
      const lpm = entries
        .filter((e) => e.network.prefixLength !== bits)
        .sort((a, b) => a.network.prefixLength - b.network.prefixLength);
      const exactKey = (family === 4 ? v4Key : v6Key).size;
      const lpmKey = (family === 4 ? lpmV4Key : lpmV6Key).size;
      maps[`${direction}_v${family}_exact`] = pack(exactKey, 4, exact.length, (b, at, i) => {
        writeAddress(b, at + 4, family, exact[i]!.network.address);
        b.writeUInt32LE(matchIndex(exact[i]!.match), at + exactKey);
      });
      maps[`${direction}_v${family}_lpm`] = pack(lpmKey, 4, lpm.length, (b, at, i) => {
        b.writeUInt32LE(GEN_PREFIX_BITS + lpm[i]!.network.prefixLength, at);
        writeAddress(b, at + 8, family, lpm[i]!.network.address);
        b.writeUInt32LE(matchIndex(lpm[i]!.match), at + lpmKey);
      });
    }
  }
  const written = distinct.map((_, index) => index).slice(1);
  written.sort((a, b) => leOrder(a) - leOrder(b));
  maps.addr_match = pack(4, addrMatch.size, written.length, (b, at, i) => {
    b.writeUInt32LE(written[i]!, at);
    distinct[written[i]!]!.copy(b, at + 4);
  });
  maps.proto_match = packValues(compiled.protocols);
  maps.sport_match = packValues(compiled.sourcePorts);
  maps.dport_match = packValues(compiled.destinationPorts);
  maps.icmp_match = packValues(compiled.icmp);
  const failsafe = [...compiled.failsafePorts.keys()].sort((a, b) => leOrder(a) - leOrder(b));
  maps.failsafe_ports = pack(failsafeKey.size, 8, failsafe.length, (b, at, i) => {
    b.writeUInt32LE(failsafe[i]!, at + failsafeKey.offsets.proto_port!);
    b.writeBigUInt64LE(compiled.failsafePorts.get(failsafe[i]!)!, at + failsafeKey.size);
  });
  maps.failsafe_bits = packFailsafeBits(failsafe);
  return maps;
}

/** The smallest address-map capacity (per generation) a program is loaded with. */
export const MIN_ADDRESS_CAPACITY = 1024;

const ADDRESS_MAPS = /^(src|dst)_v[46]_(exact|lpm)$/;

/**
 * Buckets per entry of an exact-address hash map (whose bucket array follows its max_entries): with
 * both generations in it, the map is at most half full, so a lookup walks short chains. At 100,000
 * addresses that took the live-frames flood from 339 to 288 ns a frame (docs/benchmarks.md).
 */
const HASH_SPREAD = 2;

/**
 * max_entries for the address maps of a program holding `maps`, and for the addr_match array they
 * index: both generations of the next power of two of what each holds (at least MIN_ADDRESS_CAPACITY;
 * addr_match also holds its unwritten entry 0; the hash maps HASH_SPREAD times that). Sized to the
 * policy, an empty map takes kilobytes, not tens of megabytes.
 */
export function addressMapSizes(maps: PackedMaps): Record<string, number> {
  const sizes: Record<string, number> = {};
  const size = (entries: number) => {
    let capacity = MIN_ADDRESS_CAPACITY;
    while (capacity < entries) capacity *= 2;
    return GENERATIONS * capacity;
  };
  for (const [name, map] of Object.entries(maps)) {
    const address = ADDRESS_MAPS.exec(name);
    if (address) sizes[name] = size(address[2] === "exact" ? HASH_SPREAD * map.count : map.count);
  }
  sizes.addr_match = size((maps.addr_match?.count ?? 0) + 1);
  return sizes;
}

/**
 * A digest of map contents: equal digests mean equal filters, whatever the rule spelling. Packed maps
 * are in the loader's order, so compiled maps and maps dumped off a node digest alike.
 */
export function mapsDigest(maps: PackedMaps): string {
  const hash = createHash("sha256");
  for (const name of Object.keys(maps).sort()) {
    const map = maps[name]!;
    if (map.count === 0) continue;
    hash.update(`${name}\n${map.keySize}/${map.valueSize}/${map.count}\n`);
    hash.update(map.data);
  }
  return hash.digest("hex");
}
