/**
 * Which packets XDP can decide for each ingress rule, and why not the others: the `xdpDecides` output,
 * beside Calico's own `xdpEligibility`.
 */
import type { Rule } from "../calico/rule";
import { resolveSelections, type Selection, type SideSelections } from "./members";
import { namedPorts, portRanges, uncompilableMatchers, type XdpPolicy } from "./policy";

export interface XdpDecision {
  readonly rule: number;
  /**
   * `always`: XDP decides every packet for this rule. `members`: it decides some packets (those whose
   * addresses are members of the selected objects, or whose ports are the listed numbers) and passes the
   * rest to Calico's rules. `never`: a matcher XDP cannot evaluate is always unknown.
   */
  readonly decides: "always" | "members" | "never";
  readonly reason: string;
}

const SIDES = ["source", "destination"] as const;

function selectionNotes(side: (typeof SIDES)[number], chosen: SideSelections, open: boolean) {
  const never: string[] = [];
  const partly: string[] = [];
  for (const [field, selection] of [
    ["selector", chosen.selector],
    ["notSelector", chosen.notSelector],
  ] as const) {
    if (!selection || !open) continue;
    const members = (selection as Selection).objects.reduce((n, o) => n + o.networks.length, 0);
    if (members === 0)
      never.push(
        `${side}.${field} "${selection.selector}" selects none of the given network sets and host endpoints`,
      );
    else
      partly.push(
        `${side}.${field} "${selection.selector}" is decided for the ${members} addresses of ${selection.objects.map((o) => o.name).join(", ")}; other addresses may belong to objects XDP was not given (selectorScope "open")`,
      );
  }
  return { never, partly };
}

function portNotes(rule: Rule) {
  const never: string[] = [];
  const partly: string[] = [];
  for (const side of SIDES) {
    for (const field of ["ports", "notPorts"] as const) {
      const list = rule[side]?.[field];
      const named = namedPorts(list);
      if (named.length === 0) continue;
      const note = `${side}.${field} names ${named.map((p) => `"${p}"`).join(", ")}`;
      if (portRanges(list).length === 0) never.push(note);
      else partly.push(`${note}: decided for its numeric ports only`);
    }
  }
  return { never, partly };
}

/** Per ingress rule: whether XDP decides its packets always, for some (members), or never, and why. */
export function xdpDecisions(policy: XdpPolicy): XdpDecision[] {
  const selections = resolveSelections(policy);
  const open = policy.selectorScope === "open";
  return policy.ingress.map((rule, index) => {
    const selectors = SIDES.map((side) => selectionNotes(side, selections[index]![side], open));
    const ports = portNotes(rule);
    const never = [
      ...uncompilableMatchers(rule).map((m) => `${m} cannot be evaluated in XDP`),
      ...ports.never,
      ...selectors.flatMap((s) => s.never),
    ];
    const partly = [...ports.partly, ...selectors.flatMap((s) => s.partly)];
    if (never.length > 0)
      return {
        rule: index,
        decides: "never" as const,
        reason: `${never.join("; ")}: where the rule's other matchers hold, the packet is passed for Calico's rules to decide`,
      };
    if (partly.length > 0) return { rule: index, decides: "members" as const, reason: partly.join("; ") };
    return { rule: index, decides: "always" as const, reason: "every matcher is evaluated in XDP" };
  });
}
