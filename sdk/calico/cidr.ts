/** An IP network in numeric form: `bits` is 32 or 128. */
export interface IpNetwork {
  readonly version: 4 | 6;
  readonly address: bigint;
  readonly prefixLength: number;
}

export function ipVersionOf(ip: string): 4 | 6 | undefined {
  return parseIp(ip)?.version;
}

export function bitsOf(version: 4 | 6): 32 | 128 {
  return version === 4 ? 32 : 128;
}

/**
 * Parses an IP address to its number; undefined when it is not a plain IPv4 or IPv6 address as Node's
 * `net.isIP` (and Go's net.ParseIP) read them: dotted quads without leading zeros, RFC 4291 IPv6 text
 * with at most one `::` and an optional dotted tail, no zone. Hand-written: a million-entry network set
 * is parsed at preview.
 */
export function parseIp(ip: string): { version: 4 | 6; address: bigint } | undefined {
  if (ip.includes(":")) {
    const address = parseIpv6(ip);
    return address === undefined ? undefined : { version: 6, address };
  }
  const v4 = parseIpv4(ip, 0, ip.length);
  return v4 === undefined ? undefined : { version: 4, address: BigInt(v4) };
}

const DIGIT_0 = 48;

/** A dotted quad in text[start, end) as a 32-bit number, or undefined. */
function parseIpv4(text: string, start: number, end: number): number | undefined {
  let value = 0;
  let parts = 0;
  let i = start;
  while (parts < 4) {
    const partStart = i;
    let part = 0;
    while (i < end && i - partStart < 3) {
      const c = text.charCodeAt(i) - DIGIT_0;
      if (c < 0 || c > 9) break;
      part = part * 10 + c;
      i++;
    }
    const length = i - partStart;
    if (length === 0 || part > 255 || (length > 1 && text.charCodeAt(partStart) === DIGIT_0))
      return undefined;
    value = value * 256 + part;
    parts++;
    if (parts < 4) {
      if (i >= end || text.charCodeAt(i) !== 46) return undefined;
      i++;
    }
  }
  return i === end ? value : undefined;
}

function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** RFC 4291 text (groups of 1-4 hex digits, one `::`, an optional dotted tail) as a 128-bit number. */
function parseIpv6(text: string): bigint | undefined {
  const groups: number[] = [];
  let gap = -1; // where `::` stands, in groups
  let i = 0;
  const end = text.length;
  if (text.startsWith("::")) {
    gap = 0;
    i = 2;
    if (i === end) return 0n;
  } else if (text.charCodeAt(0) === 58) return undefined;
  while (i < end) {
    // A dotted tail takes the last two groups.
    const nextColon = text.indexOf(":", i);
    const nextDot = text.indexOf(".", i);
    if (nextDot >= 0 && (nextColon < 0 || nextDot < nextColon)) {
      const v4 = parseIpv4(text, i, end);
      if (v4 === undefined) return undefined;
      groups.push(Math.floor(v4 / 65536), v4 % 65536);
      i = end;
      break;
    }
    let group = 0;
    let digits = 0;
    while (i < end && digits < 5) {
      const d = hexDigit(text.charCodeAt(i));
      if (d < 0) break;
      group = group * 16 + d;
      digits++;
      i++;
    }
    if (digits === 0 || digits > 4) return undefined;
    groups.push(group);
    if (i === end) break;
    if (text.charCodeAt(i) !== 58) return undefined;
    i++;
    if (i < end && text.charCodeAt(i) === 58) {
      if (gap >= 0) return undefined;
      gap = groups.length;
      i++;
      if (i === end) break;
    } else if (i === end) return undefined; // a trailing single colon
  }
  if (gap < 0 ? groups.length !== 8 : groups.length > 7) return undefined;
  const full =
    gap < 0
      ? groups
      : [...groups.slice(0, gap), ...new Array<number>(8 - groups.length).fill(0), ...groups.slice(gap)];
  let value = 0n;
  for (let g = 0; g < 8; g += 2) value = (value << 32n) | BigInt(full[g]! * 65536 + full[g + 1]!);
  return value;
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

const MASKS = {
  4: Array.from({ length: 33 }, (_, l) => ((1n << 32n) - 1n) ^ ((1n << BigInt(32 - l)) - 1n)),
  6: Array.from({ length: 129 }, (_, l) => ((1n << 128n) - 1n) ^ ((1n << BigInt(128 - l)) - 1n)),
};

export function maskOf(version: 4 | 6, prefixLength: number): bigint {
  return MASKS[version][prefixLength]!;
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

/**
 * A key for an address in a Map or Set: V8 hashes a BigInt by its lowest 64 bits, so IPv6 prefixes
 * (whose low bits are zero) would all collide; numbers and strings hash well.
 */
export function addressKey(version: 4 | 6, address: bigint): number | string {
  return version === 4 ? Number(address) : address.toString(16);
}

export function containsAddress(network: IpNetwork, version: 4 | 6, address: bigint): boolean {
  return network.version === version && (address & maskOf(version, network.prefixLength)) === network.address;
}
