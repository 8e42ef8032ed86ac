/**
 * What a rule's selector means for XDP: the network sets and host endpoints it selects among those the
 * policy was given, and the addresses they hold (what Felix puts in the selector's IP set for them).
 */
import { addressKey, bitsOf, type IpNetwork, maskOf, parseCidr, parseIp } from "../calico/cidr";
import type { EntityRule } from "../calico/rule";
import { matchesSelector, parseSelector } from "../calico/selector";
import type { XdpPolicy } from "./policy";

/**
 * Whether a side's selector and notSelector are resolved into address tables: not beside a
 * namespaceSelector, which makes them select namespaced endpoints, none of which XDP knows.
 */
export const resolvesSelectors = (entity: EntityRule | undefined) => entity?.namespaceSelector === undefined;

/** A selected object: a network set (its nets) or a host endpoint (its expectedIPs). */
export interface SelectedObject {
  readonly kind: "GlobalNetworkSet" | "HostEndpoint";
  readonly name: string;
  readonly networks: readonly IpNetwork[];
}

/** The objects one selector selects. */
export interface Selection {
  readonly selector: string;
  readonly objects: readonly SelectedObject[];
}

export interface SideSelections {
  readonly selector?: Selection;
  readonly notSelector?: Selection;
}

/** A network set entry: an address (a host network) or a CIDR, host bits allowed. */
export function parseSetNet(text: string): IpNetwork | undefined {
  if (!text.includes("/")) {
    const ip = parseIp(text);
    return ip && { version: ip.version, address: ip.address, prefixLength: bitsOf(ip.version) };
  }
  const parsed = parseCidr(text);
  return parsed.ok ? parsed.network : undefined;
}

/** Parsed lists, by list: the schema's count, the compiler and xdpDecides all read the same lists. */
const parsed = new WeakMap<readonly string[], IpNetwork[]>();

function parseAll(texts: readonly string[]): IpNetwork[] {
  let networks = parsed.get(texts);
  if (!networks) {
    networks = [];
    for (const text of texts) {
      const network = parseSetNet(text);
      if (network) networks.push(network);
    }
    parsed.set(texts, networks);
  }
  return networks;
}

/** The policy's objects with their addresses parsed once, whatever number of selectors select them. */
function objectsOf(
  policy: Pick<XdpPolicy, "networkSets" | "hostEndpoints">,
): { labels: Readonly<Record<string, string>>; object: SelectedObject }[] {
  return [
    ...policy.networkSets.map((s) => ({
      labels: s.labels,
      object: { kind: "GlobalNetworkSet" as const, name: s.name, networks: parseAll(s.nets) },
    })),
    ...policy.hostEndpoints.map((h) => ({
      labels: h.labels,
      object: { kind: "HostEndpoint" as const, name: h.name, networks: parseAll(h.expectedIPs) },
    })),
  ];
}

/** Per rule and side, what its resolved selector and notSelector select. */
export function resolveSelections(
  policy: Pick<XdpPolicy, "ingress" | "networkSets" | "hostEndpoints">,
): { source: SideSelections; destination: SideSelections }[] {
  const objects = objectsOf(policy);
  const cache = new Map<string, Selection>();
  const select = (text: string | undefined): Selection | undefined => {
    if (text === undefined) return undefined;
    let selection = cache.get(text);
    if (!selection) {
      const node = parseSelector(text);
      selection = {
        selector: text,
        objects: objects.filter((o) => matchesSelector(node, o.labels)).map((o) => o.object),
      };
      cache.set(text, selection);
    }
    return selection;
  };
  const side = (entity: EntityRule | undefined): SideSelections => {
    if (!resolvesSelectors(entity)) return {};
    const selector = select(entity?.selector);
    const notSelector = select(entity?.notSelector);
    return { ...(selector ? { selector } : {}), ...(notSelector ? { notSelector } : {}) };
  };
  return policy.ingress.map((rule) => ({ source: side(rule.source), destination: side(rule.destination) }));
}

/** Address entries the selections add to the tables: each selected object once per side. */
export function memberCount(policy: XdpPolicy): number {
  const selections = resolveSelections(policy);
  let count = 0;
  for (const side of ["source", "destination"] as const) {
    const seen = new Set<SelectedObject>();
    for (const rule of selections) {
      for (const selection of [rule[side].selector, rule[side].notSelector]) {
        for (const object of selection?.objects ?? []) seen.add(object);
      }
    }
    for (const object of seen) count += object.networks.length;
  }
  return count;
}

/** Membership of an address in many networks: one set lookup per distinct prefix length. */
export class NetworkIndex {
  private readonly byLength = {
    4: new Map<number, Set<number | string>>(),
    6: new Map<number, Set<number | string>>(),
  };

  constructor(networks: Iterable<IpNetwork>) {
    for (const n of networks) {
      const lengths = this.byLength[n.version];
      const set = lengths.get(n.prefixLength) ?? new Set<number | string>();
      lengths.set(n.prefixLength, set);
      set.add(addressKey(n.version, n.address));
    }
  }

  contains(version: 4 | 6, address: bigint): boolean {
    for (const [length, set] of this.byLength[version]) {
      if (set.has(addressKey(version, address & maskOf(version, length)))) return true;
    }
    return false;
  }
}
