/**
 * The filter's view of a frame, parsed exactly as bpf/parse.h parses it (the reference for the
 * differential test), and a small builder of test frames.
 */

export type L4State = "unknown" | "none" | "ports" | "icmp";

export type ParsedPacket =
  | { readonly kind: "non-ip" }
  | { readonly kind: "malformed" }
  | {
      readonly kind: "ip";
      readonly family: 4 | 6;
      readonly source: bigint;
      readonly destination: bigint;
      /** undefined when the IPv6 extension chain is too long or truncated */
      readonly protocol: number | undefined;
      readonly nonFirstFragment: boolean;
      readonly l4: L4State;
      readonly sourcePort?: number;
      readonly destinationPort?: number;
      readonly icmpType?: number;
      readonly icmpCode?: number;
    };

import { parseIp } from "../calico/cidr";
import { addressBytes } from "./layout";

const ETH_P_IP = 0x0800;
const ETH_P_IPV6 = 0x86dd;
const VLAN_TPIDS = [0x8100, 0x88a8];
const IPV6_EXT = [0, 43, 44, 51, 60];
const IPV6_EXT_MAX = 4;

const bigintOf = (bytes: Uint8Array): bigint => bytes.reduce((acc, b) => (acc << 8n) | BigInt(b), 0n);

export function parsePacket(frame: Uint8Array): ParsedPacket {
  const view = Buffer.from(frame);
  if (view.length < 14) return { kind: "malformed" };
  let pos = 14;
  let etherType = view.readUInt16BE(12);
  for (let depth = 0; depth < 2 && VLAN_TPIDS.includes(etherType); depth++) {
    if (pos + 4 > view.length) return { kind: "malformed" };
    etherType = view.readUInt16BE(pos + 2);
    pos += 4;
  }
  if (etherType === ETH_P_IP) return parseIpv4(view, pos);
  if (etherType === ETH_P_IPV6) return parseIpv6(view, pos);
  return { kind: "non-ip" };
}

/** Bytes past the IP total or payload length are padding: parsing stops at `limit`. */
function parseIpv4(view: Buffer, pos: number): ParsedPacket {
  if (pos + 20 > view.length) return { kind: "malformed" };
  const version = view[pos]! >> 4;
  const ihl = view[pos]! & 0xf;
  if (version !== 4 || ihl < 5 || pos + ihl * 4 > view.length) return { kind: "malformed" };
  const total = view.readUInt16BE(pos + 2);
  if (total < ihl * 4 || pos + total > view.length) return { kind: "malformed" };
  const limit = pos + total;
  const protocol = view[pos + 9]!;
  const nonFirstFragment = (view.readUInt16BE(pos + 6) & 0x1fff) !== 0;
  const base = {
    kind: "ip" as const,
    family: 4 as const,
    source: bigintOf(view.subarray(pos + 12, pos + 16)),
    destination: bigintOf(view.subarray(pos + 16, pos + 20)),
    protocol,
    nonFirstFragment,
  };
  return { ...base, ...parseL4(view, pos + ihl * 4, limit, 4, protocol, nonFirstFragment) };
}

function parseIpv6(view: Buffer, start: number): ParsedPacket {
  if (start + 40 > view.length) return { kind: "malformed" };
  if (view[start]! >> 4 !== 6) return { kind: "malformed" };
  const limit = start + 40 + view.readUInt16BE(start + 4);
  if (limit > view.length) return { kind: "malformed" };
  const base = {
    kind: "ip" as const,
    family: 6 as const,
    source: bigintOf(view.subarray(start + 8, start + 24)),
    destination: bigintOf(view.subarray(start + 24, start + 40)),
  };
  const unknown = { ...base, protocol: undefined, nonFirstFragment: false, l4: "unknown" as const };
  let next = view[start + 6]!;
  let pos = start + 40;
  for (let i = 0; i < IPV6_EXT_MAX && IPV6_EXT.includes(next); i++) {
    if (pos + 8 > limit) return unknown;
    if (next === 44 && (view.readUInt16BE(pos + 2) & 0xfff8) !== 0) {
      return { ...base, protocol: view[pos]!, nonFirstFragment: true, l4: "unknown" };
    }
    const length = next === 44 ? 8 : next === 51 ? (view[pos + 1]! + 2) * 4 : (view[pos + 1]! + 1) * 8;
    if (pos + length > limit) return unknown;
    next = view[pos]!;
    pos += length;
  }
  if (IPV6_EXT.includes(next)) return unknown;
  return { ...base, protocol: next, nonFirstFragment: false, ...parseL4(view, pos, limit, 6, next, false) };
}

/** Ports need their 4 bytes (what iptables' multiport reads), ICMP type and code the 8-byte header. */
function parseL4(
  view: Buffer,
  pos: number,
  limit: number,
  family: 4 | 6,
  protocol: number,
  nonFirstFragment: boolean,
) {
  if (nonFirstFragment) return { l4: "unknown" as const };
  const isIcmp = (family === 4 && protocol === 1) || (family === 6 && protocol === 58);
  const need = [6, 17, 132, 136].includes(protocol) ? 4 : isIcmp ? 8 : 0;
  if (need === 0) return { l4: "none" as const };
  if (pos + need > limit) return { l4: "unknown" as const };
  if (isIcmp) return { l4: "icmp" as const, icmpType: view[pos]!, icmpCode: view[pos + 1]! };
  return {
    l4: "ports" as const,
    sourcePort: view.readUInt16BE(pos),
    destinationPort: view.readUInt16BE(pos + 2),
  };
}

/** What to put in a test frame. Addresses are text; omitted fields get harmless defaults. */
export interface PacketSpec {
  readonly vlans?: readonly number[];
  readonly etherType?: number;
  readonly family?: 4 | 6;
  readonly source?: string;
  readonly destination?: string;
  readonly protocol?: number;
  /** IPv6 extension headers before the upper-layer header: next-header values and lengths in bytes. */
  readonly extensions?: readonly {
    readonly type: number;
    readonly length?: number;
    readonly fragmentOffset?: number;
  }[];
  /** IPv4 fragment offset (8-byte units). */
  readonly fragmentOffset?: number;
  readonly ihl?: number;
  readonly sourcePort?: number;
  readonly destinationPort?: number;
  readonly icmpType?: number;
  readonly icmpCode?: number;
  /** Bytes after the L4 header (or after the IP header for protocols without one we build). */
  readonly payload?: number;
  /** Keep only the first bytes of the L4 header; the IP lengths count only those. */
  readonly l4Bytes?: number;
  /** The IPv4 total length or IPv6 payload length to write instead of the true one. */
  readonly ipLength?: number;
  /** Bytes after the IP packet, outside its length (Ethernet padding). */
  readonly padding?: number;
  /** Cut the frame to this many bytes (the IP lengths still count what was cut). */
  readonly truncate?: number;
}

function ipBytes(text: string, family: 4 | 6): Buffer {
  const ip = parseIp(text);
  if (ip?.version !== family) throw new Error(`${text} is not an IPv${family} address`);
  return addressBytes(ip.address, family === 4 ? 32 : 128);
}

export function buildPacket(spec: PacketSpec): Buffer {
  const family = spec.family ?? 4;
  const protocol = spec.protocol ?? 6;
  const header = l4Header(spec, family, protocol);
  const l4 = header.subarray(0, spec.l4Bytes ?? header.length);
  const payload = Buffer.alloc(spec.payload ?? 0, 0xab);
  let ip: Buffer;
  if (family === 4) {
    const ihl = spec.ihl ?? 5;
    ip = Buffer.alloc(Math.max(20, ihl * 4));
    ip[0] = (4 << 4) | ihl;
    ip.writeUInt16BE(spec.ipLength ?? Math.max(20, ihl * 4) + l4.length + payload.length, 2);
    ip.writeUInt16BE((spec.fragmentOffset ?? 0) & 0x1fff, 6);
    ip[8] = 64;
    ip[9] = protocol;
    ipBytes(spec.source ?? "198.18.0.1", 4).copy(ip, 12);
    ipBytes(spec.destination ?? "198.18.0.2", 4).copy(ip, 16);
  } else {
    const extensions = spec.extensions ?? [];
    const extBytes = extensions.map((ext, i) => {
      const next = i + 1 < extensions.length ? extensions[i + 1]!.type : protocol;
      const length = ext.type === 44 ? 8 : (ext.length ?? 8);
      const b = Buffer.alloc(length);
      b[0] = next;
      if (ext.type === 44) b.writeUInt16BE(((ext.fragmentOffset ?? 0) << 3) & 0xfff8, 2);
      else b[1] = ext.type === 51 ? length / 4 - 2 : length / 8 - 1;
      return b;
    });
    const fixed = Buffer.alloc(40);
    fixed[0] = 6 << 4;
    fixed[6] = extensions[0]?.type ?? protocol;
    fixed[7] = 64;
    ipBytes(spec.source ?? "fd00::1", 6).copy(fixed, 8);
    ipBytes(spec.destination ?? "fd00::2", 6).copy(fixed, 24);
    ip = Buffer.concat([fixed, ...extBytes]);
    ip.writeUInt16BE(spec.ipLength ?? ip.length - 40 + l4.length + payload.length, 4);
  }
  const tags = (spec.vlans ?? []).map((_, i) => {
    const tag = Buffer.alloc(4);
    tag.writeUInt16BE(i + 1, 0); // TCI: VLAN id
    return tag;
  });
  const eth = Buffer.alloc(14);
  Buffer.from([0x02, 0, 0, 0, 0, 2]).copy(eth, 0);
  Buffer.from([0x02, 0, 0, 0, 0, 1]).copy(eth, 6);
  const etherType = spec.etherType ?? (family === 4 ? ETH_P_IP : ETH_P_IPV6);
  // With VLAN tags, the outer EtherType is the first tag's TPID and each tag carries the next type.
  const types = [...(spec.vlans ?? []), etherType];
  eth.writeUInt16BE(types[0]!, 12);
  for (const [i, tag] of tags.entries()) tag.writeUInt16BE(types[i + 1]!, 2);
  const frame = Buffer.concat([eth, ...tags, ip, l4, payload, Buffer.alloc(spec.padding ?? 0)]);
  return spec.truncate === undefined ? frame : frame.subarray(0, spec.truncate);
}

function l4Header(spec: PacketSpec, family: 4 | 6, protocol: number): Buffer {
  const isIcmp = (family === 4 && protocol === 1) || (family === 6 && protocol === 58);
  if (isIcmp) {
    const b = Buffer.alloc(8);
    b[0] = spec.icmpType ?? 8;
    b[1] = spec.icmpCode ?? 0;
    return b;
  }
  const size = protocol === 6 ? 20 : protocol === 17 || protocol === 136 ? 8 : protocol === 132 ? 12 : 0;
  const b = Buffer.alloc(size);
  if (size > 0) {
    b.writeUInt16BE(spec.sourcePort ?? 40000, 0);
    b.writeUInt16BE(spec.destinationPort ?? 6379, 2);
    if (protocol === 6) b[12] = 5 << 4;
  }
  return b;
}
