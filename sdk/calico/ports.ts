import { z } from "zod";
import { portNameProblem } from "./names";
import { didYouMean } from "./suggest";

export const PROTOCOL_NAMES = ["TCP", "UDP", "ICMP", "ICMPv6", "SCTP", "UDPLite"] as const;
export type ProtocolName = (typeof PROTOCOL_NAMES)[number];
/** A Calico protocol: a name in exact case, or an IP protocol number 1..255. */
export type Protocol = ProtocolName | number;

export const PROTOCOL_NUMBERS: Readonly<Record<ProtocolName, number>> = {
  TCP: 6,
  UDP: 17,
  ICMP: 1,
  ICMPv6: 58,
  SCTP: 132,
  UDPLite: 136,
};

export function protocolNumber(protocol: Protocol): number {
  return typeof protocol === "number" ? protocol : PROTOCOL_NUMBERS[protocol];
}

/** Calico allows numeric ports only with these protocols (numorstring.Protocol.SupportsPorts). */
export function supportsPorts(protocol: Protocol): boolean {
  return [6, 17, 132].includes(protocolNumber(protocol));
}

export const protocolSchema = z.union([z.string(), z.number()]).transform((value, ctx): Protocol => {
  if (typeof value === "number") {
    if (Number.isInteger(value) && value >= 1 && value <= 255) return value;
    ctx.addIssue({ code: "custom", message: `${value} is not a protocol number: use 1..255` });
    return z.NEVER;
  }
  if ((PROTOCOL_NAMES as readonly string[]).includes(value)) return value as ProtocolName;
  // Calico reads a numeric string as the number (numorstring.Protocol.NumValue).
  if (/^\d+$/.test(value)) {
    const number = Number(value);
    if (number >= 1 && number <= 255) return number;
    ctx.addIssue({
      code: "custom",
      message: `${JSON.stringify(value)} is not a protocol number: use 1..255`,
    });
    return z.NEVER;
  }
  ctx.addIssue({
    code: "custom",
    message: `${JSON.stringify(value)} is not a protocol${didYouMean(value, PROTOCOL_NAMES)}`,
  });
  return z.NEVER;
});

/** A port matcher: a number, an inclusive `"a:b"` range, or a named port. */
export type Port = number | string;
export type ParsedPort =
  | { readonly kind: "range"; readonly first: number; readonly last: number }
  | { readonly kind: "named"; readonly name: string };

export function parsePort(port: Port): ParsedPort | string {
  if (typeof port === "number") {
    return Number.isInteger(port) && port >= 1 && port <= 65535
      ? { kind: "range", first: port, last: port }
      : `${port} is not a port: use 1..65535`;
  }
  const range = /^(\d+):(\d+)$/.exec(port);
  if (range) {
    const first = Number(range[1]);
    const last = Number(range[2]);
    if (first < 1 || last > 65535) return `${JSON.stringify(port)} is not a port range: ports are 1..65535`;
    if (first > last) return `${JSON.stringify(port)} is not a port range: did you mean "${last}:${first}"?`;
    return { kind: "range", first, last };
  }
  if (/^\d+$/.test(port)) return parsePort(Number(port));
  const problem = portNameProblem(port);
  return problem === undefined ? { kind: "named", name: port } : `${JSON.stringify(port)}: ${problem}`;
}

/** Ports render as Calico writes them: numbers as numbers, ranges and names as strings. */
export const portSchema = z.union([z.number(), z.string()]).transform((value, ctx): Port => {
  const parsed = parsePort(value);
  if (typeof parsed === "string") {
    ctx.addIssue({ code: "custom", message: parsed });
    return z.NEVER;
  }
  if (parsed.kind === "named") return parsed.name;
  return parsed.first === parsed.last ? parsed.first : `${parsed.first}:${parsed.last}`;
});
