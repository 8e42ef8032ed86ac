import { isIPv4, isIPv6 } from "node:net";

/** An IP network in numeric form: `bits` is 32 or 128. */
export interface IpNetwork {
  readonly version: 4 | 6;
  readonly address: bigint;
  readonly prefixLength: number;
}

export function ipVersionOf(ip: string): 4 | 6 | undefined {
  if (isIPv4(ip)) return 4;
  if (isIPv6(ip) && !ip.includes("%")) return 6;
  return undefined;
}

export function bitsOf(version: 4 | 6): 32 | 128 {
  return version === 4 ? 32 : 128;
}

/** Parses an IP address to its number; undefined when it is not a plain IPv4/IPv6 address. */
export function parseIp(ip: string): { version: 4 | 6; address: bigint } | undefined {
  const version = ipVersionOf(ip);
  if (version === 4) {
    return { version, address: ip.split(".").reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n) };
  }
  if (version === 6) return { version, address: parseIpv6(ip) };
  return undefined;
}

function parseIpv6(ip: string): bigint {
  let text = ip;
  const tail: number[] = [];
  const lastColon = text.lastIndexOf(":");
  const dotted = text.slice(lastColon + 1);
  if (dotted.includes(".")) {
    for (const part of dotted.split(".")) tail.push(Number(part));
    text = `${text.slice(0, lastColon + 1)}${((tail[0]! << 8) | tail[1]!).toString(16)}:${((tail[2]! << 8) | tail[3]!).toString(16)}`;
  }
  const [head, rest] = text.includes("::") ? text.split("::") : [text, undefined];
  const headGroups = head ? head.split(":") : [];
  const restGroups = rest ? rest.split(":") : [];
  const missing = 8 - headGroups.length - restGroups.length;
  const groups = [...headGroups, ...Array<string>(rest === undefined ? 0 : missing).fill("0"), ...restGroups];
  return groups.reduce((acc, group) => (acc << 16n) | BigInt(Number.parseInt(group, 16)), 0n);
}

/** Canonical text of an address: dotted quad, or RFC 5952 IPv6 (lowercase, longest zero run compressed). */
export function formatIp(version: 4 | 6, address: bigint): string {
  if (version === 4) {
    return [24n, 16n, 8n, 0n].map((shift) => ((address >> shift) & 0xffn).toString()).join(".");
  }
  const groups = Array.from({ length: 8 }, (_, i) => Number((address >> BigInt(112 - 16 * i)) & 0xffffn));
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLength).join(":")}`;
}

export function maskOf(version: 4 | 6, prefixLength: number): bigint {
  const bits = BigInt(bitsOf(version));
  return ((1n << bits) - 1n) ^ ((1n << (bits - BigInt(prefixLength))) - 1n);
}

export type CidrParse =
  | { ok: true; network: IpNetwork; masked: boolean }
  | { ok: false; reason: "no-prefix" | "bad-address" | "bad-prefix" };

/** Parses `addr/len`; `masked` is false when host bits are set (`10.0.0.1/24`). */
export function parseCidr(text: string): CidrParse {
  const slash = text.indexOf("/");
  if (slash < 0) return { ok: false, reason: "no-prefix" };
  const ip = parseIp(text.slice(0, slash));
  if (ip === undefined) return { ok: false, reason: "bad-address" };
  const lengthText = text.slice(slash + 1);
  const prefixLength = Number(lengthText);
  if (!/^\d{1,3}$/.test(lengthText) || prefixLength > bitsOf(ip.version))
    return { ok: false, reason: "bad-prefix" };
  const masked = (ip.address & maskOf(ip.version, prefixLength)) === ip.address;
  return {
    ok: true,
    masked,
    network: { version: ip.version, address: ip.address & maskOf(ip.version, prefixLength), prefixLength },
  };
}

export function formatCidr(network: IpNetwork): string {
  return `${formatIp(network.version, network.address)}/${network.prefixLength}`;
}

/** The masked, canonical spelling of a CIDR (`10.0.0.1/24` -> `10.0.0.0/24`); undefined if unparsable. */
export function normalizeCidr(text: string): string | undefined {
  const parsed = parseCidr(text);
  return parsed.ok ? formatCidr(parsed.network) : undefined;
}

export function containsAddress(network: IpNetwork, version: 4 | 6, address: bigint): boolean {
  return network.version === version && (address & maskOf(version, network.prefixLength)) === network.address;
}
