/**
 * Byte layouts of the structs shared with the BPF program (bpf/xdp_policy_shared.h), one field list
 * per struct and one generic codec. test/xdp/layout.test.ts compiles the C header and checks that
 * every size and offset here matches.
 */

export const MAX_RULES = 64;
/** Per failsafe list (inbound, outbound). */
export const MAX_FAILSAFE = 32;
/** Outbound failsafe entries' bits start here in the failsafe masks. */
export const FAILSAFE_OUTBOUND_SHIFT = 32;
/** Failsafe keys of outbound entries, matched on the source port. */
export const FAILSAFE_BY_SOURCE_PORT = 1 << 24;
/** failsafe_bits' slots of 65536 ports: destination port of TCP, UDP, SCTP, then source port of the same. */
export const FAILSAFE_SLOTS = 6;
/** Words of failsafe_bits per generation: a bit per (direction, protocol, port) some entry lists. */
export const FAILSAFE_BIT_WORDS = (FAILSAFE_SLOTS * 65536) / 64;
/** policy_config.failsafe_port_hint's bit for a port: the top 6 bits of port * 0x9e3779b1 (32-bit). */
export const FAILSAFE_HINT_MULTIPLIER = 0x9e3779b1;
export const failsafeHintBit = (port: number): number => Math.imul(port, FAILSAFE_HINT_MULTIPLIER) >>> 26;
export const MAX_CIDRS = 1_000_000;
export const MAX_ADDR_ENTRIES = 1_048_576;
/** addr_match.by_source when no rule can match the address (a rule's index + 1 when that rule decides). */
export const BY_SOURCE_NO_MATCH = MAX_RULES + 1;
/** Copies of the policy in every map; packets use the one `active_gen` names (bpf/xdp_policy_shared.h). */
export const GENERATIONS = 2;
/** The generation's bits in front of an LPM key's address. */
export const GEN_PREFIX_BITS = 32;

/** The policy filter's maps that hold the policy (generations), by pin name. */
export const POLICY_MAPS = [
  "config",
  "src_v4_exact",
  "src_v4_lpm",
  "src_v6_exact",
  "src_v6_lpm",
  "dst_v4_exact",
  "dst_v4_lpm",
  "dst_v6_exact",
  "dst_v6_lpm",
  "addr_match",
  "proto_match",
  "sport_match",
  "dport_match",
  "icmp_match",
  "failsafe_ports",
  "failsafe_bits",
] as const;

export const REASONS = [
  "non-ip",
  "malformed",
  "failsafe",
  "undecidable",
  "no-match",
  "allow",
  "deny",
  "pass",
  "shadow-deny",
] as const;
export type Reason = (typeof REASONS)[number];

export const CONFIG_SRC_V4_EXACT = 1 << 0;
export const CONFIG_SRC_V6_EXACT = 1 << 1;
export const CONFIG_DST_V4_EXACT = 1 << 2;
export const CONFIG_DST_V6_EXACT = 1 << 3;
export const CONFIG_SRC_V4_PREFIX = 1 << 4;
export const CONFIG_SRC_V6_PREFIX = 1 << 5;
export const CONFIG_DST_V4_PREFIX = 1 << 6;
export const CONFIG_DST_V6_PREFIX = 1 << 7;
export const CONFIG_SHADOW = 1 << 8;

type FieldType = "u8" | "u32" | "u64" | { bytes: number };
type Fields = readonly (readonly [string, FieldType])[];
type FieldValue<T extends FieldType> = T extends "u64"
  ? bigint
  : T extends "u32" | "u8"
    ? number
    : Uint8Array;
export type StructValue<F extends Fields> = { [K in F[number] as K[0]]: FieldValue<K[1]> };

const sizeOf = (t: FieldType): number => (t === "u8" ? 1 : t === "u32" ? 4 : t === "u64" ? 8 : t.bytes);
const alignOf = (t: FieldType): number => (typeof t === "string" ? sizeOf(t) : 1);

export interface StructCodec<F extends Fields> {
  readonly name: string;
  readonly fields: F;
  readonly size: number;
  readonly offsets: Readonly<Record<string, number>>;
  encode(value: StructValue<F>): Buffer;
  decode(buffer: Uint8Array): StructValue<F>;
  zero(): StructValue<F>;
}

/** A C struct with natural alignment on a little-endian host (x86-64, arm64). */
export function struct<const F extends Fields>(name: string, fields: F): StructCodec<F> {
  const offsets: Record<string, number> = {};
  let offset = 0;
  let maxAlign = 1;
  for (const [field, type] of fields) {
    const align = alignOf(type);
    maxAlign = Math.max(maxAlign, align);
    offset = Math.ceil(offset / align) * align;
    offsets[field] = offset;
    offset += sizeOf(type);
  }
  const size = Math.ceil(offset / maxAlign) * maxAlign;
  return {
    name,
    fields,
    size,
    offsets,
    encode(value) {
      const buffer = Buffer.alloc(size);
      for (const [field, type] of fields) {
        const v = (value as Record<string, unknown>)[field];
        const at = offsets[field]!;
        if (type === "u8") buffer.writeUInt8(v as number, at);
        else if (type === "u32") buffer.writeUInt32LE(v as number, at);
        else if (type === "u64") buffer.writeBigUInt64LE(BigInt.asUintN(64, v as bigint), at);
        else Buffer.from(v as Uint8Array).copy(buffer, at, 0, type.bytes);
      }
      return buffer;
    },
    decode(bytes) {
      const buffer = Buffer.from(bytes);
      const out: Record<string, unknown> = {};
      for (const [field, type] of fields) {
        const at = offsets[field]!;
        if (type === "u8") out[field] = buffer.readUInt8(at);
        else if (type === "u32") out[field] = buffer.readUInt32LE(at);
        else if (type === "u64") out[field] = buffer.readBigUInt64LE(at);
        else out[field] = new Uint8Array(buffer.subarray(at, at + type.bytes));
      }
      return out as StructValue<F>;
    },
    zero() {
      return this.decode(Buffer.alloc(size));
    },
  };
}

const u64 = "u64" as const;
const u32 = "u32" as const;

export const policyConfig = struct("policy_config", [
  ["rules", u64],
  ["v4_rules", u64],
  ["v6_rules", u64],
  ["src_nets", u64],
  ["src_not_nets", u64],
  ["dst_nets", u64],
  ["dst_not_nets", u64],
  ["protocol", u64],
  ["not_protocol", u64],
  ["sport_list", u64],
  ["sport_named", u64],
  ["sport_not", u64],
  ["sport_not_named", u64],
  ["dport_list", u64],
  ["dport_named", u64],
  ["dport_not", u64],
  ["dport_not_named", u64],
  ["icmp", u64],
  ["not_icmp", u64],
  ["src_sel", u64],
  ["src_not_sel", u64],
  ["dst_sel", u64],
  ["dst_not_sel", u64],
  ["sel_open", u64],
  ["uncompilable", u64],
  ["log", u64],
  ["allow", u64],
  ["deny", u64],
  ["pass", u64],
  ["failsafe_any_net", u64],
  ["failsafe_tcp", u64],
  ["failsafe_udp", u64],
  ["failsafe_sctp", u64],
  ["flags", u32],
  ["rule_count", u32],
  ["v4_absent_by_source", u32],
  ["v6_absent_by_source", u32],
  ["failsafe_port_hint", u64],
]);
export type PolicyConfig = StructValue<typeof policyConfig.fields>;

export const addrMatch = struct("addr_match", [
  ["nets", u64],
  ["not_nets", u64],
  ["sel", u64],
  ["not_sel", u64],
  ["failsafe", u64],
  ["by_source", u32],
]);
export type AddrMatch = StructValue<typeof addrMatch.fields>;

/*
 * Keys are encoded for generation 0 (array keys: the index within a generation); the loader writes each
 * generation's copy (bpf/loader.c). LPM prefix lengths count the generation's GEN_PREFIX_BITS.
 */
export const v4Key = struct("v4_key", [
  ["gen", u32],
  ["addr", { bytes: 4 }],
]);
export const v6Key = struct("v6_key", [
  ["gen", u32],
  ["addr", { bytes: 16 }],
]);
export const lpmV4Key = struct("lpm_v4_key", [
  ["prefixlen", u32],
  ["gen", u32],
  ["addr", { bytes: 4 }],
]);
export const lpmV6Key = struct("lpm_v6_key", [
  ["prefixlen", u32],
  ["gen", u32],
  ["addr", { bytes: 16 }],
]);
export const failsafeKey = struct("failsafe_key", [
  ["gen", u32],
  ["proto_port", u32],
]);
/** A generation's commit record: the first 16 bytes of the sha256 of what it holds. */
export const genDigest = struct("gen_digest", [["sha256", { bytes: 16 }]]);

export const valueMatch = struct("value_match", [
  ["in_list", u64],
  ["in_not_list", u64],
]);
export type ValueMatch = StructValue<typeof valueMatch.fields>;

export const counter = struct("counter", [
  ["packets", u64],
  ["bytes", u64],
]);
export type Counter = StructValue<typeof counter.fields>;

/** Every shared struct, for the layout test. */
export const SHARED_STRUCTS = [
  policyConfig,
  addrMatch,
  v4Key,
  v6Key,
  lpmV4Key,
  lpmV6Key,
  failsafeKey,
  genDigest,
  valueMatch,
  counter,
] as const;

export function u32Key(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeUInt32LE(value >>> 0);
  return buffer;
}

export function u64Value(value: bigint): Buffer {
  const buffer = Buffer.alloc(8);
  buffer.writeBigUInt64LE(BigInt.asUintN(64, value));
  return buffer;
}

/** An address in network byte order, `bits / 8` bytes long. */
export function addressBytes(address: bigint, bits: 32 | 128): Buffer {
  const buffer = Buffer.alloc(bits / 8);
  let rest = address;
  for (let i = bits / 8 - 1; i >= 0; i--) {
    buffer[i] = Number(rest & 0xffn);
    rest >>= 8n;
  }
  return buffer;
}
