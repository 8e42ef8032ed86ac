import type { EntityRule, Rule } from "./rule";

/**
 * The stateless return rules for an untracked policy's ingress Allow rules (Calico's memcached guide):
 * for each Allow rule with a protocol and destination ports, an egress Allow of the same protocol from
 * those ports back to the ingress rule's sources.
 */
export function mirrorReturnRules(ingress: readonly Rule[]): Rule[] {
  return ingress.flatMap((rule): Rule[] => {
    const ports = rule.destination?.ports;
    if (rule.action !== "Allow" || rule.protocol === undefined || ports === undefined) return [];
    const source: EntityRule = { ports, notPorts: rule.destination?.notPorts };
    return [
      {
        action: "Allow",
        protocol: rule.protocol,
        ipVersion: rule.ipVersion,
        source,
        destination: rule.source,
      },
    ];
  });
}

/** Calico's `types`: one per non-empty rule list. */
export function policyTypes(ingress: readonly Rule[], egress: readonly Rule[]): ("Ingress" | "Egress")[] {
  return [
    ...(ingress.length > 0 ? ["Ingress" as const] : []),
    ...(egress.length > 0 ? ["Egress" as const] : []),
  ];
}

export interface XdpEligibility {
  /** Index of the ingress rule. */
  readonly rule: number;
  /** Whether Felix's own XDP fast path would accelerate this rule. */
  readonly eligible: boolean;
  /** Why not, when not. */
  readonly reason?: string;
}

/**
 * Whether Calico's Felix XDP would accelerate each ingress rule: only the first ingress rule of an
 * untracked policy, when it is a Deny whose only matcher is one source selector (IPv4 CIDRs of the
 * selected GlobalNetworkSets).
 */
export function felixXdpEligibility(ingress: readonly Rule[]): XdpEligibility[] {
  return ingress.map((rule, index) => {
    const reason = ineligibility(rule, index);
    return reason === undefined ? { rule: index, eligible: true } : { rule: index, eligible: false, reason };
  });
}

function ineligibility(rule: Rule, index: number): string | undefined {
  if (index > 0) return "only the first ingress rule of an untracked policy is accelerated";
  if (rule.action !== "Deny") return `action is ${rule.action}: only Deny rules are accelerated`;
  const extra = (["protocol", "notProtocol", "ipVersion", "icmp", "notICMP", "destination"] as const).filter(
    (k) => rule[k] !== undefined,
  );
  const source = rule.source ?? {};
  const sourceExtra = (Object.keys(source) as (keyof EntityRule)[]).filter(
    (k) => k !== "selector" && source[k] !== undefined,
  );
  const matchers = [...extra, ...sourceExtra.map((k) => `source.${k}`)];
  if (matchers.length > 0)
    return `matches on ${matchers.join(", ")}: only a single source selector is accelerated`;
  if (source.selector === undefined)
    return "has no source selector: only a Deny from a source selector is accelerated";
  return undefined;
}
