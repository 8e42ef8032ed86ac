import { z } from "zod";
import { ipVersionOf, normalizeCidr, parseCidr } from "./cidr";
import {
  DNS1123_SUBDOMAIN,
  INTERFACE_NAME,
  labelKeyProblem,
  labelValueProblem,
  POLICY_NAME,
  portNameProblem,
  resourceNameProblem,
} from "./names";
import { protocolSchema, supportsPorts } from "./ports";
import { egressRuleSchema, ingressRuleSchema, selectorSchema } from "./rule";
import { checkedString, exactEnum, sortKeys, strictObject } from "./zodkit";

export const resourceNameSchema = checkedString((v) => resourceNameProblem(v, DNS1123_SUBDOMAIN));
export const policyNameSchema = checkedString((v) => resourceNameProblem(v, POLICY_NAME));

export const labelsSchema = z
  .record(z.string(), z.string())
  .superRefine((labels, ctx) => {
    for (const [key, value] of Object.entries(labels)) {
      const keyProblem = labelKeyProblem(key);
      if (keyProblem)
        ctx.addIssue({
          code: "custom",
          path: [key],
          message: `label key ${JSON.stringify(key)}: ${keyProblem}`,
        });
      const valueProblem = labelValueProblem(value);
      if (valueProblem)
        ctx.addIssue({ code: "custom", path: [key], message: `${JSON.stringify(value)} ${valueProblem}` });
    }
  })
  .transform(sortKeys);

export const interfaceNameSchema = checkedString((name) => {
  if (name === "*") return undefined;
  if (INTERFACE_NAME.test(name)) return undefined;
  if (name.includes("*")) return 'uses a wildcard: only "*" alone (all interfaces) is allowed';
  return name.length > 15
    ? `is ${name.length} characters long: Linux interface names have at most 15`
    : "is not an interface name: use letters, digits, '_', '.' and '-'";
});

export const ipAddressSchema = checkedString((ip) => {
  if (ipVersionOf(ip) !== undefined) return undefined;
  const cidr = parseCidr(ip);
  return cidr.ok
    ? `is a CIDR: expectedIPs takes addresses, did you mean ${JSON.stringify(ip.split("/")[0])}?`
    : "is not an IP address";
});

/** Calico (and the CRD's CEL rule) needs an interface name or expected IPs to find the endpoint. */
export function checkEndpointIdentity(
  spec: { interfaceName?: string | undefined; expectedIPs?: string[] | undefined },
  ctx: z.RefinementCtx,
): void {
  if (!spec.interfaceName && !spec.expectedIPs?.length) {
    ctx.addIssue({
      code: "custom",
      path: ["interfaceName"],
      message:
        "is required when expectedIPs is empty: at least one of interfaceName or expectedIPs must be specified",
    });
  }
}

export const HOST_PORT_PROTOCOLS = ["TCP", "UDP", "SCTP"] as const;

export const hostEndpointSpecSchema = strictObject({
  node: resourceNameSchema,
  // Calico treats "" as unset (an endpoint found by its expected IPs).
  interfaceName: z
    .literal("")
    .transform(() => undefined)
    .or(interfaceNameSchema)
    .optional(),
  expectedIPs: z.array(ipAddressSchema).optional(),
  profiles: z.array(resourceNameSchema).optional(),
  ports: z
    .array(
      strictObject({
        name: checkedString(portNameProblem),
        port: z.number().int().min(1).max(65535),
        // Any protocol with ports, by name or number, as Calico's validateEndpointPort allows.
        protocol: protocolSchema.superRefine((protocol, ctx) => {
          if (!supportsPorts(protocol))
            ctx.addIssue({
              code: "custom",
              message: `${JSON.stringify(protocol)} has no ports: use "TCP", "UDP" or "SCTP" (or 6, 17, 132)`,
            });
        }),
      }),
    )
    .optional(),
}).superRefine(checkEndpointIdentity);
export type HostEndpointSpec = z.output<typeof hostEndpointSpecSchema>;

export const POLICY_TYPES = ["Ingress", "Egress"] as const;

/** What a NetworkPolicy and a GlobalNetworkPolicy spec share. */
export const policySpecShape = {
  tier: resourceNameSchema.optional(),
  order: z.number().finite().optional(),
  selector: selectorSchema("selector").optional(),
  types: z.array(exactEnum(POLICY_TYPES, "a policy type")).max(2).optional(),
  serviceAccountSelector: selectorSchema("selector").optional(),
  performanceHints: z.array(exactEnum(["AssumeNeededOnEveryNode"], "a performance hint")).optional(),
};

/** Calico refuses a repeated policy type or performance hint. */
export function checkPolicyLists(
  spec: { types?: readonly string[] | undefined; performanceHints?: readonly string[] | undefined },
  ctx: z.RefinementCtx,
): void {
  for (const field of ["types", "performanceHints"] as const) {
    const list = spec[field];
    if (list && new Set(list).size !== list.length)
      ctx.addIssue({ code: "custom", path: [field], message: "must not repeat an entry" });
  }
}

export const globalNetworkPolicySpecSchema = strictObject({
  ...policySpecShape,
  ingress: z.array(ingressRuleSchema).optional(),
  egress: z.array(egressRuleSchema).optional(),
  doNotTrack: z.boolean().optional(),
  preDNAT: z.boolean().optional(),
  applyOnForward: z.boolean().optional(),
  namespaceSelector: selectorSchema("selector").optional(),
}).superRefine((spec, ctx) => {
  checkPolicyLists(spec, ctx);
  if (spec.doNotTrack && spec.preDNAT) {
    ctx.addIssue({ code: "custom", path: ["preDNAT"], message: "cannot be true together with doNotTrack" });
  }
  if (spec.preDNAT && (spec.egress?.length || spec.types?.includes("Egress"))) {
    ctx.addIssue({
      code: "custom",
      path: ["egress"],
      message: "preDNAT policies cannot have egress rules or the Egress type",
    });
  }
  if ((spec.doNotTrack || spec.preDNAT) && !spec.applyOnForward) {
    ctx.addIssue({
      code: "custom",
      path: ["applyOnForward"],
      message: `must be true when ${spec.doNotTrack ? "doNotTrack" : "preDNAT"} is true`,
    });
  }
});
export type GlobalNetworkPolicySpec = z.output<typeof globalNetworkPolicySpecSchema>;

/** GlobalNetworkSet nets may be bare IPs or unmasked CIDRs (unlike policy nets). */
export const networkSetNetSchema = checkedString((net) => {
  if (ipVersionOf(net) !== undefined) return undefined;
  const parsed = parseCidr(net);
  return parsed.ok ? undefined : "is not an IP address or CIDR";
});

/** GlobalNetworkSet labels: Calico reserves projectcalico.org/namespace for its own v1 data model. */
export const networkSetLabelsSchema = labelsSchema.superRefine((labels, ctx) => {
  if ("projectcalico.org/namespace" in labels)
    ctx.addIssue({
      code: "custom",
      path: ["projectcalico.org/namespace"],
      message: "is reserved by Calico for namespaced objects: use another label key",
    });
});

export const globalNetworkSetSpecSchema = strictObject({
  nets: z.array(networkSetNetSchema).optional(),
});
export type GlobalNetworkSetSpec = z.output<typeof globalNetworkSetSpecSchema>;

/** Documented on ProtoPortArgs (sdk/inputs.ts). */
export const protoPortSchema = strictObject({
  protocol: z
    .string()
    .transform((p) => p.toUpperCase())
    .pipe(exactEnum(HOST_PORT_PROTOCOLS, "a failsafe protocol"))
    .default("TCP"),
  port: z.number().int().min(0).max(65535),
  net: checkedString((net) => (parseCidr(net).ok ? undefined : "is not a CIDR"))
    .transform((net) => normalizeCidr(net)!)
    .optional(),
});
export type ProtoPort = z.output<typeof protoPortSchema>;

export const felixConfigurationSpecSchema = strictObject({
  xdpEnabled: z.boolean().optional(),
  xdpRefreshInterval: checkedString((v) =>
    /^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$/.test(v) ? undefined : 'is not a duration: write e.g. "90s" or "1m30s"',
  ).optional(),
  genericXDPEnabled: z.boolean().optional(),
  bpfEnabled: z.boolean().optional(),
  failsafeInboundHostPorts: z.array(protoPortSchema).optional(),
  failsafeOutboundHostPorts: z.array(protoPortSchema).optional(),
});
export type FelixConfigurationSpec = z.output<typeof felixConfigurationSpecSchema>;

/** Calico's FelixConfiguration defaults. */
export const DEFAULT_FAILSAFE_INBOUND: readonly ProtoPort[] = [
  { protocol: "TCP", port: 22 },
  { protocol: "UDP", port: 68 },
  { protocol: "TCP", port: 179 },
  { protocol: "TCP", port: 2379 },
  { protocol: "TCP", port: 2380 },
  { protocol: "TCP", port: 5473 },
  { protocol: "TCP", port: 6443 },
  { protocol: "TCP", port: 6666 },
  { protocol: "TCP", port: 6667 },
];
export const DEFAULT_FAILSAFE_OUTBOUND: readonly ProtoPort[] = [
  { protocol: "UDP", port: 53 },
  { protocol: "UDP", port: 67 },
  { protocol: "TCP", port: 179 },
  { protocol: "TCP", port: 2379 },
  { protocol: "TCP", port: 2380 },
  { protocol: "TCP", port: 5473 },
  { protocol: "TCP", port: 6443 },
  { protocol: "TCP", port: 6666 },
  { protocol: "TCP", port: 6667 },
];

export const API_VERSIONS = ["projectcalico.org/v3", "crd.projectcalico.org/v1"] as const;
export type ApiVersion = (typeof API_VERSIONS)[number];
export const apiVersionSchema = exactEnum(API_VERSIONS, "a Calico API version").default(
  "projectcalico.org/v3",
);
