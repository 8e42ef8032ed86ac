import { z } from "zod";
import { parseCidr } from "../calico/cidr";
import { type Protocol, protocolNumber } from "../calico/ports";
import { DEFAULT_FAILSAFE_INBOUND, type ProtoPort, protoPortSchema } from "../calico/resources";
import { type EntityRule, ingressRuleSchema, type Rule } from "../calico/rule";
import { strictObject } from "../calico/zodkit";
import { MAX_CIDRS, MAX_FAILSAFE, MAX_RULES } from "./layout";

/** What the XDP filter enforces: an untracked policy's ingress rules plus the failsafe inbound ports. */
export interface XdpPolicy {
  readonly ingress: readonly Rule[];
  readonly failsafeInbound: readonly ProtoPort[];
}

/** Every CIDR the compiled policy stores (nets, notNets and failsafe nets). */
export function cidrCount(policy: XdpPolicy): number {
  const entity = (e: EntityRule | undefined) => (e?.nets?.length ?? 0) + (e?.notNets?.length ?? 0);
  return (
    policy.ingress.reduce((n, rule) => n + entity(rule.source) + entity(rule.destination), 0) +
    policy.failsafeInbound.filter((f) => f.net !== undefined).length
  );
}

export const xdpPolicySchema = strictObject({
  /** The untracked policy's ingress rules, in Calico's Rule shape. At most 64. */
  ingress: z
    .array(ingressRuleSchema)
    .max(MAX_RULES, `has more than ${MAX_RULES} rules: the XDP filter holds at most ${MAX_RULES}`),
  /**
   * Failsafe inbound ports, always passed.
   * @default - Calico's defaults (tcp 22, udp 68, tcp 179, tcp 2379, tcp 2380, tcp 5473, tcp 6443, tcp 6666, tcp 6667)
   */
  failsafeInbound: z
    .array(protoPortSchema)
    .max(MAX_FAILSAFE, `has more than ${MAX_FAILSAFE} entries: the XDP filter holds at most ${MAX_FAILSAFE}`)
    .default([...DEFAULT_FAILSAFE_INBOUND]),
}).superRefine((policy, ctx) => {
  const count = cidrCount(policy);
  if (count > MAX_CIDRS) {
    ctx.addIssue({
      code: "custom",
      path: ["ingress"],
      message: `holds ${count} CIDRs: the XDP filter holds at most ${MAX_CIDRS} per policy (move large lists into fewer, wider prefixes)`,
    });
  }
});
export type XdpPolicyInput = z.input<typeof xdpPolicySchema>;

/**
 * The IP family a rule applies to, as Calico renders it: explicit ipVersion, else implied by ICMP /
 * ICMPv6, else by its CIDRs; undefined for both.
 */
export function ruleFamily(rule: Rule): 4 | 6 | undefined {
  if (rule.ipVersion !== undefined) return rule.ipVersion;
  if (rule.protocol !== undefined) {
    const number = protocolNumber(rule.protocol as Protocol);
    if (number === 1) return 4;
    if (number === 58) return 6;
  }
  for (const entity of [rule.source, rule.destination]) {
    for (const net of [...(entity?.nets ?? []), ...(entity?.notNets ?? [])]) {
      const parsed = parseCidr(net);
      if (parsed.ok) return parsed.network.version;
    }
  }
  return undefined;
}

const UNCOMPILABLE_ENTITY_FIELDS = [
  "selector",
  "notSelector",
  "namespaceSelector",
  "serviceAccounts",
  "services",
] as const;

/** Matchers XDP cannot evaluate (always unknown), as field paths. Named ports are partly evaluable. */
export function uncompilableMatchers(rule: Rule): string[] {
  return (["source", "destination"] as const).flatMap((side) =>
    UNCOMPILABLE_ENTITY_FIELDS.filter((field) => rule[side]?.[field] !== undefined).map(
      (field) => `${side}.${field}`,
    ),
  );
}

/** Named ports in a ports list: they make a non-matching numeric list unknown instead of false. */
export function namedPorts(ports: readonly (number | string)[] | undefined): string[] {
  return (ports ?? []).filter((p): p is string => typeof p === "string" && !/^\d+:\d+$/.test(p));
}

/** Numeric ports and ranges of a ports list as inclusive [first, last] pairs. */
export function portRanges(ports: readonly (number | string)[] | undefined): [number, number][] {
  return (ports ?? []).flatMap((p): [number, number][] => {
    if (typeof p === "number") return [[p, p]];
    const range = /^(\d+):(\d+)$/.exec(p);
    return range ? [[Number(range[1]), Number(range[2])]] : [];
  });
}
