import { z } from "zod";
import { parseCidr } from "../calico/cidr";
import {
  DEFAULT_FAILSAFE_INBOUND,
  DEFAULT_FAILSAFE_OUTBOUND,
  ipAddressSchema,
  labelsSchema,
  networkSetNetSchema,
  type ProtoPort,
  protoPortSchema,
  resourceNameSchema,
} from "../calico/resources";
import { type EntityRule, ingressRuleSchema, type Rule } from "../calico/rule";
import { exactEnum, strictObject } from "../calico/zodkit";
import { MAX_CIDRS, MAX_FAILSAFE, MAX_RULES } from "./layout";
import { memberCount, resolvesSelectors } from "./members";

/** A GlobalNetworkSet as a selector sees it: its labels, and the addresses it holds. */
/** Documented on XdpNetworkSetArgs (sdk/inputs.ts). */
export const xdpNetworkSetSchema = strictObject({
  name: resourceNameSchema,
  labels: labelsSchema.default({}),
  nets: z.array(z.string({ error: "must be a string" })),
}).superRefine((set, ctx) => {
  // Checked here, not per entry, so the message can name the set.
  for (const [i, net] of set.nets.entries()) {
    const problem = networkSetNetSchema.safeParse(net);
    if (!problem.success)
      ctx.addIssue({
        code: "custom",
        path: ["nets", i],
        message: `${JSON.stringify(net)} in network set ${JSON.stringify(set.name)} is not an IP address or CIDR`,
      });
  }
});
export type XdpNetworkSet = z.output<typeof xdpNetworkSetSchema>;
export type XdpNetworkSetInput = z.input<typeof xdpNetworkSetSchema>;

/** A HostEndpoint as a selector sees it: its labels, and the addresses Felix puts in IP sets for it. */
/** Documented on XdpHostEndpointArgs (sdk/inputs.ts). */
export const xdpHostEndpointSchema = strictObject({
  name: resourceNameSchema,
  labels: labelsSchema.default({}),
  expectedIPs: z.array(ipAddressSchema).default([]),
});
export type XdpHostEndpoint = z.output<typeof xdpHostEndpointSchema>;
export type XdpHostEndpointInput = z.input<typeof xdpHostEndpointSchema>;

export const SELECTOR_SCOPES = ["open", "closed"] as const;

/**
 * What the XDP filter enforces: an untracked policy's ingress rules, the failsafe ports, and the objects
 * its selectors can match.
 */
export interface XdpPolicy {
  readonly ingress: readonly Rule[];
  readonly failsafeInbound: readonly ProtoPort[];
  readonly failsafeOutbound: readonly ProtoPort[];
  readonly networkSets: readonly XdpNetworkSet[];
  readonly hostEndpoints: readonly XdpHostEndpoint[];
  readonly selectorScope: (typeof SELECTOR_SCOPES)[number];
  readonly enforce: boolean;
}

/**
 * Every address entry the compiled policy stores: nets, notNets, failsafe nets, and the members of each
 * side's selectors (a set counts once per side, however many rules select it).
 */
export function cidrCount(policy: XdpPolicy): number {
  const entity = (e: EntityRule | undefined) => (e?.nets?.length ?? 0) + (e?.notNets?.length ?? 0);
  return (
    policy.ingress.reduce((n, rule) => n + entity(rule.source) + entity(rule.destination), 0) +
    [...policy.failsafeInbound, ...policy.failsafeOutbound].filter((f) => f.net !== undefined).length +
    memberCount(policy)
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
  /**
   * Failsafe outbound ports: inbound packets from these source ports (replies to the host's own DNS,
   * DHCP, BGP, etcd and API-server traffic) are always passed, as Felix's raw failsafe chain does.
   * @default - Calico's defaults (udp 53, udp 67, tcp 179, tcp 2379, tcp 2380, tcp 5473, tcp 6443, tcp 6666, tcp 6667)
   */
  failsafeOutbound: z
    .array(protoPortSchema)
    .max(MAX_FAILSAFE, `has more than ${MAX_FAILSAFE} entries: the XDP filter holds at most ${MAX_FAILSAFE}`)
    .default([...DEFAULT_FAILSAFE_OUTBOUND]),
  /**
   * GlobalNetworkSets the rules' selectors can match: a selector is true for the addresses in a set
   * whose labels it matches.
   * @default - none
   */
  networkSets: z.array(xdpNetworkSetSchema).default([]),
  /**
   * HostEndpoints the rules' selectors can match: a selector is true for the expectedIPs of an
   * endpoint whose labels it matches.
   * @default - none
   */
  hostEndpoints: z.array(xdpHostEndpointSchema).default([]),
  /**
   * What a selector is for an address of no given object: `open`, unknown (other objects in the
   * cluster may match, so the packet goes on to Calico's rules); `closed`, false (these are all the
   * objects the selectors can match).
   * @default - "open"
   */
  selectorScope: exactEnum(SELECTOR_SCOPES, "a selector scope").default("open"),
  /**
   * Drop what the rules deny; `false` is shadow mode: every packet is passed, and what a Deny rule
   * would have dropped is counted (per rule, and as the reason `shadow-deny`).
   * @default - true
   */
  enforce: z.boolean().default(true),
}).superRefine((policy, ctx) => {
  const count = cidrCount(policy);
  if (count > MAX_CIDRS) {
    ctx.addIssue({
      code: "custom",
      path: ["ingress"],
      message: `holds ${count} addresses and CIDRs (rules' nets, failsafe nets and selected sets' members): the XDP filter holds at most ${MAX_CIDRS} per policy (move large lists into fewer, wider prefixes)`,
    });
  }
});
export type XdpPolicyInput = z.input<typeof xdpPolicySchema>;

/**
 * The IP family a rule applies to, as Felix renders it: explicit ipVersion, else implied by the
 * protocol names ICMP / ICMPv6 (a number, even 1 or 58, applies to both), else by its CIDRs;
 * undefined for both. Selectors apply to both families.
 */
export function ruleFamily(rule: Rule): 4 | 6 | undefined {
  if (rule.ipVersion !== undefined) return rule.ipVersion;
  if (rule.protocol === "ICMP") return 4;
  if (rule.protocol === "ICMPv6") return 6;
  for (const entity of [rule.source, rule.destination]) {
    for (const net of [...(entity?.nets ?? []), ...(entity?.notNets ?? [])]) {
      const parsed = parseCidr(net);
      if (parsed.ok) return parsed.network.version;
    }
  }
  return undefined;
}

const UNCOMPILABLE_ENTITY_FIELDS = ["namespaceSelector", "serviceAccounts", "services"] as const;

/**
 * Matchers XDP cannot evaluate (always unknown), as field paths. Named ports are partly evaluable;
 * selectors are resolved over the given network sets and host endpoints.
 */
export function uncompilableMatchers(rule: Rule): string[] {
  return (["source", "destination"] as const).flatMap((side) => {
    const entity = rule[side];
    const selectors = resolvesSelectors(entity) ? [] : (["selector", "notSelector"] as const);
    return [...UNCOMPILABLE_ENTITY_FIELDS, ...selectors]
      .filter((field) => entity?.[field] !== undefined)
      .map((field) => `${side}.${field}`);
  });
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
