import { z } from "zod";
import { ipVersionOf, normalizeCidr, parseCidr } from "./cidr";
import { labelKeyProblem, resourceNameProblem } from "./names";
import { type Protocol, portSchema, protocolSchema, supportsPorts } from "./ports";
import { parseSelector, SelectorSyntaxError } from "./selector";
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

/**
 * Where a selector sits decides whether `global()` may appear, as Calico's validator checks it: not in
 * a `selector` (of a rule side or a policy), only alone in a rule's `namespaceSelector`, and anywhere
 * in the other fields, where Calico does not look for it.
 */
export function selectorSchema(where: "selector" | "namespaceSelector" | "any") {
  return z.string().superRefine((text, ctx) => {
    try {
      const node = parseSelector(text);
      const misplaced =
        where === "selector"
          ? text.includes("global()")
          : where === "namespaceSelector" && text.includes("global(") && node.kind !== "global";
      if (misplaced) {
        ctx.addIssue({
          code: "custom",
          message: `${JSON.stringify(text)}: global() is only allowed alone, in a rule's namespaceSelector`,
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

/** Calico's validateObjectMetaAnnotations: keys are qualified names (case aside), 256 kB in all. */
const ANNOTATIONS_LIMIT = 256 * 1024;
export const annotationsSchema = z
  .record(z.string(), z.string())
  .superRefine((annotations, ctx) => {
    let size = 0;
    for (const [key, value] of Object.entries(annotations)) {
      const problem = labelKeyProblem(key.toLowerCase());
      if (problem)
        ctx.addIssue({
          code: "custom",
          path: [key],
          message: `annotation key ${JSON.stringify(key)}: ${problem}`,
        });
      size += Buffer.byteLength(key) + Buffer.byteLength(value);
    }
    if (size > ANNOTATIONS_LIMIT)
      ctx.addIssue({
        code: "custom",
        message: `total ${size} bytes, over Calico's limit of ${ANNOTATIONS_LIMIT}: shorten or drop some`,
      });
  })
  .transform(sortKeys);

/** Documented on IcmpArgs, EntityRuleArgs and RuleArgs (sdk/inputs.ts), which are checked against these. */
export const icmpSchema = strictObject({
  type: z.number().int().min(0).max(254).optional(),
  code: z.number().int().min(0).max(255).optional(),
}).superRefine((icmp, ctx) => {
  if (icmp.code !== undefined && icmp.type === undefined) {
    ctx.addIssue({ code: "custom", path: ["code"], message: "needs a type: set icmp.type too" });
  }
});

/**
 * Deliberately stricter than Calico, which reads an empty list as no restriction at all (every port,
 * every address): written out, `[]` reads as "none", the opposite, so it is refused.
 */
const nonEmpty = <T extends z.ZodType>(item: T) =>
  z
    .array(item)
    .min(1, "must not be empty: Calico reads [] as no restriction, so omit the field to match everything");

export const entityRuleSchema = strictObject({
  nets: nonEmpty(netSchema).optional(),
  notNets: nonEmpty(notNetSchema).optional(),
  selector: selectorSchema("selector").optional(),
  notSelector: selectorSchema("any").optional(),
  namespaceSelector: selectorSchema("namespaceSelector").optional(),
  ports: nonEmpty(portSchema).optional(),
  notPorts: nonEmpty(portSchema).optional(),
  serviceAccounts: strictObject({
    names: nonEmpty(z.string()).optional(),
    selector: selectorSchema("any").optional(),
  }).optional(),
  services: strictObject({
    name: checkedString((v) => resourceNameProblem(v)),
    namespace: checkedString((v) => resourceNameProblem(v)).optional(),
  }).optional(),
});
export type EntityRule = z.output<typeof entityRuleSchema>;

const ruleShape = {
  action: exactEnum(ACTIONS, "an action"),
  protocol: protocolSchema.optional(),
  notProtocol: protocolSchema.optional(),
  ipVersion: z.union([z.literal(4), z.literal(6)], { error: "must be 4 or 6" }).optional(),
  icmp: icmpSchema.optional(),
  notICMP: icmpSchema.optional(),
  source: entityRuleSchema.optional(),
  destination: entityRuleSchema.optional(),
  metadata: strictObject({
    annotations: annotationsSchema.optional(),
  }).optional(),
  http: z
    .unknown()
    .superRefine((_, ctx) => {
      ctx.addIssue({
        code: "custom",
        message:
          "is application layer policy, which applies to workloads through Calico's proxy, not to untracked host endpoint policy: remove it",
      });
    })
    .optional(),
};

type RuleShape = z.output<z.ZodObject<typeof ruleShape>>;

/** Calico compares protocols by name here: `protocol: 1` is not "ICMP" to its validator. */
const ICMP_VERSION: Readonly<Record<string, 4 | 6>> = { ICMP: 4, ICMPv6: 6 };
const icmpVersionOf = (protocol: Protocol | undefined) =>
  typeof protocol === "string" ? ICMP_VERSION[protocol] : undefined;

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
      // A named port resolves to each endpoint's own protocol, so it needs none in the rule.
      const named = typeof port === "string" && !/^\d+(:\d+)?$/.test(port);
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
    // A destination service brings its own ports (its endpoints'); a source service's may be narrowed.
    if (side === "destination" && entity.services !== undefined && entity[field] !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: [side, field],
        message: "cannot be combined with services: a destination service matches its endpoints' own ports",
      });
    }
  }
  if (entity.services !== undefined) {
    const others = SERVICE_EXCLUDES.filter((k) => entity[k] !== undefined);
    if (others.length > 0) {
      ctx.addIssue({
        code: "custom",
        path: [side, "services"],
        message: `cannot be combined with ${others.join(", ")}: services selects its own endpoints`,
      });
    }
  }
}

/** What Calico's validateEntityRule refuses beside `services`. */
const SERVICE_EXCLUDES = [
  "nets",
  "notNets",
  "selector",
  "notSelector",
  "namespaceSelector",
  "serviceAccounts",
] as const;

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

  const icmpVersion = icmpVersionOf(rule.protocol);
  if (rule.icmp !== undefined && icmpVersion === undefined) {
    ctx.addIssue({
      code: "custom",
      path: ["icmp"],
      message: `needs protocol "ICMP" or "ICMPv6" by name${typeof rule.protocol === "number" ? ` (not ${rule.protocol})` : ""}`,
    });
  }
  for (const field of ["protocol", "notProtocol"] as const) {
    const version = icmpVersionOf(rule[field]);
    if (version !== undefined && rule.ipVersion !== undefined && rule.ipVersion !== version) {
      ctx.addIssue({
        code: "custom",
        path: ["ipVersion"],
        message: `${rule.ipVersion} contradicts ${field} ${JSON.stringify(rule[field])}: did you mean ${version}?`,
      });
    }
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

/**
 * A Calico policy rule (Calico's validateRule). In a GlobalNetworkPolicy's `direction` list, `services`
 * may appear only on the remote side (ingress source, egress destination) and must name a namespace,
 * since service names are not global (validateGlobalNetworkPolicySpec).
 */
export function ruleSchema(direction?: "ingress" | "egress", scope: "global" | "namespaced" = "global") {
  return strictObject(ruleShape).superRefine((rule, ctx) => {
    checkRule(rule, ctx);
    if (direction === undefined) return;
    const [remote, local] =
      direction === "ingress" ? (["source", "destination"] as const) : (["destination", "source"] as const);
    if (rule[local]?.services !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: [local, "services"],
        message: `is not allowed in ${direction} rules' ${local}: match the service on the ${remote}`,
      });
    }
    const services = rule[remote]?.services;
    if (scope === "global" && services !== undefined && !services.namespace) {
      ctx.addIssue({
        code: "custom",
        path: [remote, "services", "namespace"],
        message: "is required in a GlobalNetworkPolicy: service names are per namespace",
      });
    }
  });
}

export const ingressRuleSchema = ruleSchema("ingress");
export const egressRuleSchema = ruleSchema("egress");
export type Rule = z.output<typeof ingressRuleSchema>;
export type RuleInput = z.input<typeof ingressRuleSchema>;
