import { z } from "zod";
import { ipVersionOf, normalizeCidr, parseCidr } from "./cidr";
import { resourceNameProblem } from "./names";
import { type Protocol, portSchema, protocolNumber, protocolSchema, supportsPorts } from "./ports";
import { parseSelector, SelectorSyntaxError, usesGlobal } from "./selector";
import { checkedString, exactEnum, sortKeys, strictObject } from "./zodkit";

export const ACTIONS = ["Allow", "Deny", "Log", "Pass"] as const;
export type Action = (typeof ACTIONS)[number];

function cidrProblem(text: string): string | undefined {
  const parsed = parseCidr(text);
  if (!parsed.ok) {
    if (parsed.reason === "no-prefix" && ipVersionOf(text) !== undefined) {
      return `has no prefix length: did you mean "${text}/${ipVersionOf(text) === 4 ? 32 : 128}"?`;
    }
    return parsed.reason === "bad-prefix" ? "has an invalid prefix length" : "is not a CIDR";
  }
  if (!parsed.masked) return `is not a network address: did you mean ${JSON.stringify(normalizeCidr(text))}?`;
  return undefined;
}

/** A policy CIDR: explicit prefix, host bits clear; rendered in canonical spelling. */
export const netSchema = checkedString(cidrProblem).transform((text) => normalizeCidr(text)!);

export const notNetSchema = netSchema.superRefine((text, ctx) => {
  if (parseCidr(text).ok && text.endsWith("/0")) {
    ctx.addIssue({
      code: "custom",
      message: `${JSON.stringify(text)} matches every address, so the rule could never match: remove it`,
    });
  }
});

/** Where a selector sits decides whether `global()` is allowed (only alone, in namespaceSelector). */
export function selectorSchema(where: "selector" | "namespaceSelector") {
  return z.string().superRefine((text, ctx) => {
    try {
      const node = parseSelector(text);
      if (usesGlobal(node) && (where !== "namespaceSelector" || node.kind !== "global")) {
        ctx.addIssue({
          code: "custom",
          message: `${JSON.stringify(text)}: global() is only allowed alone, in a namespaceSelector`,
        });
      }
    } catch (error) {
      if (!(error instanceof SelectorSyntaxError)) throw error;
      ctx.addIssue({
        code: "custom",
        message: `${JSON.stringify(text)} is not a valid selector: ${error.message}`,
      });
    }
  });
}

export const icmpSchema = strictObject({
  /** ICMP type, 0..254. */
  type: z.number().int().min(0).max(254).optional(),
  /** ICMP code, 0..255; needs `type`. */
  code: z.number().int().min(0).max(255).optional(),
}).superRefine((icmp, ctx) => {
  if (icmp.code !== undefined && icmp.type === undefined) {
    ctx.addIssue({ code: "custom", path: ["code"], message: "needs a type: set icmp.type too" });
  }
});

const nonEmpty = <T extends z.ZodType>(item: T) =>
  z.array(item).min(1, "must not be empty: omit the field instead");

export const entityRuleSchema = strictObject({
  /** Match packets whose address is in one of these CIDRs (explicit prefix, host bits clear). */
  nets: nonEmpty(netSchema).optional(),
  /** Match packets whose address is in none of these CIDRs. */
  notNets: nonEmpty(notNetSchema).optional(),
  /** Match endpoints (and GlobalNetworkSets) selected by this Calico selector. */
  selector: selectorSchema("selector").optional(),
  /** Match endpoints not selected by this selector. */
  notSelector: selectorSchema("selector").optional(),
  /** Match endpoints in namespaces selected by this selector (`global()` for non-namespaced ones). */
  namespaceSelector: selectorSchema("namespaceSelector").optional(),
  /** Ports: numbers, `"a:b"` ranges, or named ports. */
  ports: nonEmpty(portSchema).optional(),
  /** Ports not to match. */
  notPorts: nonEmpty(portSchema).optional(),
  /** Match workloads running as these service accounts. */
  serviceAccounts: strictObject({
    names: nonEmpty(z.string()).optional(),
    selector: selectorSchema("selector").optional(),
  }).optional(),
  /** Match the endpoints of a Kubernetes Service; excludes every other matcher. */
  services: strictObject({
    name: checkedString((v) => resourceNameProblem(v)),
    namespace: checkedString((v) => resourceNameProblem(v)).optional(),
  }).optional(),
});
export type EntityRule = z.output<typeof entityRuleSchema>;

const ruleShape = {
  /** What to do with a matching packet: `Allow`, `Deny`, `Log` or `Pass` (exact case). */
  action: exactEnum(ACTIONS, "an action"),
  /** `TCP`, `UDP`, `ICMP`, `ICMPv6`, `SCTP`, `UDPLite` (exact case) or a protocol number 1..255. */
  protocol: protocolSchema.optional(),
  /** Match packets whose protocol is not this one. */
  notProtocol: protocolSchema.optional(),
  /** Restrict the rule to IPv4 (4) or IPv6 (6). */
  ipVersion: z.union([z.literal(4), z.literal(6)], { error: "must be 4 or 6" }).optional(),
  /** ICMP type/code to match; needs protocol ICMP or ICMPv6. */
  icmp: icmpSchema.optional(),
  /** ICMP type/code not to match; needs protocol ICMP or ICMPv6. */
  notICMP: icmpSchema.optional(),
  /** Matchers on the packet's source. */
  source: entityRuleSchema.optional(),
  /** Matchers on the packet's destination. */
  destination: entityRuleSchema.optional(),
  /** Free-form annotations kept on the rule. */
  metadata: strictObject({
    annotations: z.record(z.string(), z.string()).transform(sortKeys).optional(),
  }).optional(),
};

type RuleShape = z.output<z.ZodObject<typeof ruleShape>>;

const ICMP_VERSION: Readonly<Record<number, 4 | 6>> = { 1: 4, 58: 6 };

function checkEntity(
  entity: EntityRule | undefined,
  side: "source" | "destination",
  rule: RuleShape,
  ctx: z.RefinementCtx,
) {
  if (entity === undefined) return;
  for (const field of ["ports", "notPorts"] as const) {
    (entity[field] ?? []).forEach((port, i) => {
      const path = [side, field, i];
      const named = typeof port === "string" && !/^\d+:\d+$/.test(port);
      if (rule.protocol === undefined && !named) {
        ctx.addIssue({
          code: "custom",
          path,
          message: `${JSON.stringify(port)} needs a protocol: set protocol to "TCP", "UDP" or "SCTP"`,
        });
      } else if (rule.protocol !== undefined && !supportsPorts(rule.protocol)) {
        ctx.addIssue({
          code: "custom",
          path,
          message: `${JSON.stringify(port)}: protocol ${JSON.stringify(rule.protocol)} has no ports; only TCP, UDP and SCTP do`,
        });
      }
    });
  }
  if (entity.services !== undefined) {
    const others = (Object.keys(entity) as (keyof EntityRule)[]).filter(
      (k) => k !== "services" && entity[k] !== undefined && !(k === "ports" && side === "destination"),
    );
    if (others.length > 0) {
      ctx.addIssue({
        code: "custom",
        path: [side, "services"],
        message: `cannot be combined with ${others.join(", ")}: services selects its own endpoints`,
      });
    }
  }
}

function netsOf(rule: RuleShape): { path: (string | number)[]; net: string }[] {
  return (["source", "destination"] as const).flatMap((side) =>
    (["nets", "notNets"] as const).flatMap((field) =>
      (rule[side]?.[field] ?? []).map((net, i) => ({ path: [side, field, i], net })),
    ),
  );
}

function checkRule(rule: RuleShape, ctx: z.RefinementCtx) {
  checkEntity(rule.source, "source", rule, ctx);
  checkEntity(rule.destination, "destination", rule, ctx);

  const icmpVersion =
    rule.protocol === undefined ? undefined : ICMP_VERSION[protocolNumber(rule.protocol as Protocol)];
  for (const field of ["icmp", "notICMP"] as const) {
    if (rule[field] !== undefined && icmpVersion === undefined) {
      ctx.addIssue({ code: "custom", path: [field], message: 'needs protocol "ICMP" or "ICMPv6"' });
    }
  }
  if (icmpVersion !== undefined && rule.ipVersion !== undefined && rule.ipVersion !== icmpVersion) {
    ctx.addIssue({
      code: "custom",
      path: ["ipVersion"],
      message: `${rule.ipVersion} contradicts protocol ${JSON.stringify(rule.protocol)}: did you mean ${icmpVersion}?`,
    });
  }

  const nets = netsOf(rule);
  const expected = rule.ipVersion ?? icmpVersion ?? ipVersionOf(nets[0]?.net.split("/")[0] ?? "");
  const why =
    rule.ipVersion !== undefined
      ? `ipVersion ${rule.ipVersion}`
      : icmpVersion !== undefined
        ? `protocol ${JSON.stringify(rule.protocol)}`
        : `the rule's first net ${JSON.stringify(nets[0]?.net)}`;
  for (const { path, net } of nets) {
    const version = ipVersionOf(net.split("/")[0] ?? "");
    if (version !== undefined && version !== expected) {
      ctx.addIssue({
        code: "custom",
        path,
        message: `${JSON.stringify(net)} is IPv${version} but ${why} makes this an IPv${expected} rule: IPv4 and IPv6 cannot be mixed in one rule`,
      });
    }
  }
}

/** A Calico policy rule; `direction` decides where `services` may appear. */
export function ruleSchema(direction: "ingress" | "egress") {
  const forbiddenServices = direction === "ingress" ? "destination" : "source";
  return strictObject(ruleShape).superRefine((rule, ctx) => {
    checkRule(rule, ctx);
    if (rule[forbiddenServices]?.services !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: [forbiddenServices, "services"],
        message: `is not allowed in ${direction} rules' ${forbiddenServices}`,
      });
    }
  });
}

export const ingressRuleSchema = ruleSchema("ingress");
export const egressRuleSchema = ruleSchema("egress");
export type Rule = z.output<typeof ingressRuleSchema>;
export type RuleInput = z.input<typeof ingressRuleSchema>;
