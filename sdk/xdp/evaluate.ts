import { containsAddress, parseCidr } from "../calico/cidr";
import { type Protocol, protocolNumber } from "../calico/ports";
import type { EntityRule, Rule } from "../calico/rule";
import type { Reason } from "./layout";
import { NetworkIndex, resolveSelections, type Selection, type SideSelections } from "./members";
import type { ParsedPacket } from "./packet";
import { namedPorts, portRanges, ruleFamily, uncompilableMatchers, type XdpPolicy } from "./policy";

/** true, false, or unknown (undefined). */
type Tri = boolean | undefined;

export interface Verdict {
  readonly verdict: "XDP_PASS" | "XDP_DROP";
  readonly reason: Reason;
  /** The ingress rule whose Allow, Deny or Pass decided; null otherwise. */
  readonly rule: number | null;
  /** Log rules that matched before the decision. */
  readonly logged: readonly number[];
}

const and = (values: readonly Tri[]): Tri =>
  values.includes(false) ? false : values.every((v) => v === true) ? true : undefined;
const or = (values: readonly Tri[]): Tri =>
  values.includes(true) ? true : values.includes(undefined) ? undefined : false;
const not = (value: Tri): Tri => (value === undefined ? undefined : !value);

type IpPacket = Extract<ParsedPacket, { kind: "ip" }>;

function inNets(nets: readonly string[], packet: IpPacket, address: bigint): boolean {
  return nets.some((net) => {
    const parsed = parseCidr(net);
    return parsed.ok && containsAddress(parsed.network, packet.family, address);
  });
}

function portMatcher(
  list: readonly (number | string)[] | undefined,
  negated: boolean,
  packet: IpPacket,
  port: number | undefined,
): Tri {
  if (list === undefined) return true;
  if (packet.l4 === "unknown") return undefined;
  if (packet.l4 !== "ports" || port === undefined) return false;
  const numeric = portRanges(list).some(([first, last]) => port >= first && port <= last);
  const hit: Tri = numeric ? true : namedPorts(list).length > 0 ? undefined : false;
  return negated ? not(hit) : hit;
}

function icmpMatcher(match: Rule["icmp"], negated: boolean, packet: IpPacket): Tri {
  if (match === undefined) return true;
  if (packet.l4 === "unknown") return undefined;
  if (packet.l4 !== "icmp") return false;
  const hit =
    (match.type === undefined || match.type === packet.icmpType) &&
    (match.code === undefined || match.code === packet.icmpCode);
  return negated ? !hit : hit;
}

function protocolMatcher(protocol: Protocol | undefined, negated: boolean, packet: IpPacket): Tri {
  if (protocol === undefined) return true;
  if (packet.protocol === undefined) return undefined;
  const hit = protocolNumber(protocol) === packet.protocol;
  return negated ? !hit : hit;
}

/** Membership in what a selector selects, indexed once per selection. */
class Members {
  private readonly indexes = new Map<Selection, NetworkIndex>();
  constructor(readonly open: boolean) {}
  /** true for a member; else unknown (open scope) or false (closed scope). */
  selects(selection: Selection, packet: IpPacket, address: bigint): Tri {
    let index = this.indexes.get(selection);
    if (!index) {
      index = new NetworkIndex(selection.objects.flatMap((o) => o.networks));
      this.indexes.set(selection, index);
    }
    return index.contains(packet.family, address) ? true : this.open ? undefined : false;
  }
}

function entityMatchers(
  entity: EntityRule | undefined,
  chosen: SideSelections,
  members: Members,
  packet: IpPacket,
  side: "source" | "destination",
): Tri[] {
  const address = side === "source" ? packet.source : packet.destination;
  const port = side === "source" ? packet.sourcePort : packet.destinationPort;
  return [
    entity?.nets === undefined ? true : inNets(entity.nets, packet, address),
    entity?.notNets === undefined ? true : !inNets(entity.notNets, packet, address),
    portMatcher(entity?.ports, false, packet, port),
    portMatcher(entity?.notPorts, true, packet, port),
    chosen.selector ? members.selects(chosen.selector, packet, address) : true,
    chosen.notSelector ? not(members.selects(chosen.notSelector, packet, address)) : true,
  ];
}

/** A rule's three-valued match against a packet, straight from Calico's Rule semantics. */
function matchRule(
  rule: Rule,
  chosen: { source: SideSelections; destination: SideSelections },
  members: Members,
  packet: IpPacket,
): Tri {
  const family = ruleFamily(rule);
  return and([
    family === undefined || family === packet.family,
    protocolMatcher(rule.protocol as Protocol | undefined, false, packet),
    protocolMatcher(rule.notProtocol as Protocol | undefined, true, packet),
    icmpMatcher(rule.icmp, false, packet),
    icmpMatcher(rule.notICMP, true, packet),
    ...entityMatchers(rule.source, chosen.source, members, packet, "source"),
    ...entityMatchers(rule.destination, chosen.destination, members, packet, "destination"),
    ...uncompilableMatchers(rule).map(() => undefined),
  ]);
}

/** Inbound entries by destination port, outbound ones (their replies) by source port; nets on the source. */
function failsafeMatch(policy: XdpPolicy, packet: IpPacket): Tri {
  const entries = [
    ...policy.failsafeInbound.map((entry) => ({ entry, port: packet.destinationPort })),
    ...policy.failsafeOutbound.map((entry) => ({ entry, port: packet.sourcePort })),
  ];
  return or(
    entries.map(({ entry, port }) =>
      and([
        protocolMatcher(entry.protocol, false, packet),
        portMatcher([entry.port], false, packet, port),
        entry.net === undefined ? true : inNets([entry.net], packet, packet.source),
      ]),
    ),
  );
}

const decided = (reason: Reason, rule: number | null = null, logged: number[] = []): Verdict => ({
  verdict: reason === "deny" ? "XDP_DROP" : "XDP_PASS",
  reason,
  rule,
  logged,
});

/**
 * The reference evaluator: the filter's contract evaluated directly on the rules, with no compiled
 * tables. The differential test holds the BPF program to it.
 */
export function evaluatePolicy(policy: XdpPolicy, packet: ParsedPacket): Verdict {
  return policyEvaluator(policy)(packet);
}

/** The evaluator for one policy, its selectors resolved once, for many packets. */
export function policyEvaluator(policy: XdpPolicy): (packet: ParsedPacket) => Verdict {
  const selections = resolveSelections(policy);
  const members = new Members(policy.selectorScope === "open");
  return (packet) => evaluateWith(policy, selections, members, packet);
}

function evaluateWith(
  policy: XdpPolicy,
  selections: ReturnType<typeof resolveSelections>,
  members: Members,
  packet: ParsedPacket,
): Verdict {
  if (packet.kind !== "ip") return decided(packet.kind);
  const safe = failsafeMatch(policy, packet);
  if (safe === true) return decided("failsafe");
  if (safe === undefined) return decided("undecidable");
  const logged: number[] = [];
  for (const [index, rule] of policy.ingress.entries()) {
    const match = matchRule(rule, selections[index]!, members, packet);
    if (match === false) continue;
    if (match === undefined) return decided("undecidable", null, logged);
    if (rule.action === "Log") {
      logged.push(index);
      continue;
    }
    const deny = policy.enforce ? "deny" : "shadow-deny";
    return decided(rule.action === "Allow" ? "allow" : rule.action === "Deny" ? deny : "pass", index, logged);
  }
  return decided("no-match", null, logged);
}
