/**
 * The lock-out proof: whether an untracked policy's ingress rules, evaluated as Calico evaluates them
 * (first match; failsafe ports before any rule), can deny a flow that must stay reachable. A flow is a
 * range of sources, so the rules are walked with the set of sources not yet decided.
 */
import { z } from "zod";
import { parseSetNet, resolveSelections, type SideSelections } from "../xdp/members";
import { namedPorts, portRanges, ruleFamily, uncompilableMatchers, type XdpPolicy } from "../xdp/policy";
import { AddressRanges } from "./addressRanges";
import { type Protocol, protocolNumber } from "./ports";
import {
  DEFAULT_FAILSAFE_INBOUND,
  HOST_PORT_PROTOCOLS,
  networkSetNetSchema,
  type ProtoPort,
} from "./resources";
import type { EntityRule, Rule } from "./rule";
import { exactEnum, strictObject } from "./zodkit";

/** Documented on ReachableFlowArgs (sdk/inputs.ts). */
export const reachableFlowSchema = strictObject({
  from: networkSetNetSchema.optional(),
  to: networkSetNetSchema.optional(),
  protocol: exactEnum(HOST_PORT_PROTOCOLS, "a protocol").default("TCP"),
  port: z.number().int().min(0).max(65535),
});
export type ReachableFlow = z.output<typeof reachableFlowSchema>;

/** What keepReachable defaults to: Calico's default failsafe inbound ports, from anywhere. */
export const DEFAULT_KEEP_REACHABLE: readonly ReachableFlow[] = DEFAULT_FAILSAFE_INBOUND.map((entry) => ({
  protocol: entry.protocol,
  port: entry.port,
}));

/** A flow some rule denies (or may deny) to part of its sources. */
export interface LockOut {
  /** Index of the flow in keepReachable. */
  readonly flow: number;
  /** Index of the Deny rule in ingress. */
  readonly rule: number;
  /** False when the denial depends on what cannot be known here (see `unknown`). */
  readonly certain: boolean;
  /** The lowest source address denied. */
  readonly source: string;
  /** What the denial depends on, when uncertain. */
  readonly unknown: readonly string[];
}

export interface ReachabilityContext
  extends Pick<XdpPolicy, "networkSets" | "hostEndpoints" | "selectorScope"> {
  readonly ingress: readonly Rule[];
  /** Failsafe lists in force on the flow's path; a flow is failsafe only where every list keeps it open. */
  readonly failsafe: readonly (readonly ProtoPort[])[];
}

/** How a matcher other than the source address meets a flow: every packet, some packets or none. */
type Meets =
  | { readonly kind: "all" }
  | { readonly kind: "none" }
  | { readonly kind: "some"; readonly why: string };
const ALL: Meets = { kind: "all" };
const NONE: Meets = { kind: "none" };

function allOf(meets: readonly Meets[]): { kind: "all" | "none" } | { kind: "some"; why: string[] } {
  if (meets.some((m) => m.kind === "none")) return { kind: "none" };
  const why = meets.flatMap((m) => (m.kind === "some" ? [m.why] : []));
  return why.length === 0 ? { kind: "all" } : { kind: "some", why };
}

/** Addresses a side surely matches and those it may match (a selector in the open scope). */
interface Addresses {
  readonly surely: AddressRanges;
  readonly maybe: AddressRanges;
}

/** The addresses of CIDRs or addresses (host bits allowed) of one family. */
function netsOf(version: 4 | 6, texts: readonly string[]): AddressRanges {
  return AddressRanges.of(
    version,
    texts.flatMap((t) => parseSetNet(t) ?? []),
  );
}

function sideAddresses(
  version: 4 | 6,
  entity: EntityRule | undefined,
  chosen: SideSelections,
  open: boolean,
): Addresses {
  let surely = AddressRanges.all(version);
  let maybe = surely;
  if (entity?.nets !== undefined) {
    const nets = netsOf(version, entity.nets);
    surely = surely.intersect(nets);
    maybe = maybe.intersect(nets);
  }
  if (entity?.notNets !== undefined) {
    const nets = netsOf(version, entity.notNets);
    surely = surely.minus(nets);
    maybe = maybe.minus(nets);
  }
  const members = (selection: SideSelections["selector"]) =>
    AddressRanges.of(
      version,
      (selection?.objects ?? []).flatMap((o) => o.networks),
    );
  if (chosen.selector) {
    const selected = members(chosen.selector);
    surely = surely.intersect(selected);
    if (!open) maybe = maybe.intersect(selected);
  }
  if (chosen.notSelector) {
    const selected = members(chosen.notSelector);
    surely = open ? AddressRanges.none(version) : surely.minus(selected);
    maybe = maybe.minus(selected);
  }
  return { surely, maybe };
}

function protocolMeets(protocol: Protocol | undefined, negated: boolean, flow: ReachableFlow): Meets {
  if (protocol === undefined) return ALL;
  const hit = protocolNumber(protocol) === protocolNumber(flow.protocol);
  return hit !== negated ? ALL : NONE;
}

function destinationPortMeets(
  list: readonly (number | string)[] | undefined,
  negated: boolean,
  port: number,
): Meets {
  if (list === undefined) return ALL;
  const hit = portRanges(list).some(([first, last]) => port >= first && port <= last);
  if (hit) return negated ? NONE : ALL;
  const named = namedPorts(list);
  if (named.length > 0)
    return { kind: "some", why: `named ports ${named.map((p) => JSON.stringify(p)).join(", ")}` };
  return negated ? ALL : NONE;
}

/** Every matcher of a rule but the source address, for one flow of one family. */
function otherMatchers(
  rule: Rule,
  destination: SideSelections,
  flow: ReachableFlow,
  version: 4 | 6,
  to: AddressRanges,
  open: boolean,
): ReturnType<typeof allOf> {
  const family = ruleFamily(rule);
  const meets: Meets[] = [
    family === undefined || family === version ? ALL : NONE,
    protocolMeets(rule.protocol as Protocol | undefined, false, flow),
    protocolMeets(rule.notProtocol as Protocol | undefined, true, flow),
    // The flows are TCP, UDP or SCTP: an ICMP match never meets them, a negated one always does.
    rule.icmp === undefined ? ALL : NONE,
    destinationPortMeets(rule.destination?.ports, false, flow.port),
    destinationPortMeets(rule.destination?.notPorts, true, flow.port),
    rule.source?.ports === undefined && rule.source?.notPorts === undefined
      ? ALL
      : { kind: "some", why: "the clients' source ports" },
    ...uncompilableMatchers(rule).map((field): Meets => ({ kind: "some", why: field })),
  ];
  const target = sideAddresses(version, rule.destination, destination, open);
  if (!target.maybe.intersect(to).isEmpty()) {
    if (!target.surely.covers(to))
      meets.push({ kind: "some", why: "the host address the clients connect to" });
  } else meets.push(NONE);
  return allOf(meets);
}

const rangeOf = (text: string | undefined, version: 4 | 6) =>
  text === undefined ? AddressRanges.all(version) : netsOf(version, [text]);

/** The sources of a flow that every failsafe list keeps open. */
function failsafeSources(
  flow: ReachableFlow,
  version: 4 | 6,
  lists: ReachabilityContext["failsafe"],
): AddressRanges {
  let open = AddressRanges.all(version);
  for (const list of lists) {
    const entries = list.filter((e) => e.protocol === flow.protocol && e.port === flow.port);
    open = open.intersect(
      entries.some((e) => e.net === undefined)
        ? AddressRanges.all(version)
        : netsOf(
            version,
            entries.map((e) => e.net!),
          ),
    );
  }
  return open;
}

/** Per flow and family, the first Deny rule that denies or may deny part of it to some source. */
export function lockOuts(flows: readonly ReachableFlow[], context: ReachabilityContext): LockOut[] {
  const selections = resolveSelections(context);
  const open = context.selectorScope === "open";
  const found: LockOut[] = [];
  for (const [index, flow] of flows.entries()) {
    for (const version of [4, 6] as const) {
      let undecided = rangeOf(flow.from, version).minus(failsafeSources(flow, version, context.failsafe));
      const to = rangeOf(flow.to, version);
      if (to.isEmpty()) continue;
      for (const [i, rule] of context.ingress.entries()) {
        if (undecided.isEmpty() || rule.action === "Log") continue;
        const others = otherMatchers(rule, selections[i]!.destination, flow, version, to, open);
        if (others.kind === "none") continue;
        const source = sideAddresses(version, rule.source, selections[i]!.source, open);
        if (rule.action === "Deny") {
          const surely =
            others.kind === "all" ? undecided.intersect(source.surely) : AddressRanges.none(version);
          const maybe = undecided.intersect(source.maybe);
          if (maybe.isEmpty()) continue;
          const certain = !surely.isEmpty();
          found.push({
            flow: index,
            rule: i,
            certain,
            source: (certain ? surely : maybe).first()!,
            unknown: certain
              ? []
              : others.kind === "some"
                ? others.why
                : ["source selectors over network sets and host endpoints not given (selectorScope: open)"],
          });
          break;
        }
        // Allow and Pass end this policy's evaluation for the sources they surely take.
        if (others.kind === "all") undecided = undecided.minus(source.surely);
      }
    }
  }
  return found;
}

/** A lock-out as a sentence naming the flow, the rule and what to change. */
export function describeLockOut(lockOut: LockOut, flow: ReachableFlow, rule: Rule): string {
  const what = `${flow.protocol} port ${flow.port} from ${flow.from ?? "anywhere"}${flow.to ? ` to ${flow.to}` : ""}`;
  const verb = lockOut.certain ? "is denied" : `may be denied (depending on ${lockOut.unknown.join(", ")})`;
  return (
    `keepReachable[${lockOut.flow}] (${what}) ${verb} by ingress[${lockOut.rule}] (${rule.action}), for example from ${lockOut.source}, ` +
    "and no failsafe port keeps it open: allow it in an earlier rule, narrow the Deny, or keep it in the failsafe ports"
  );
}
