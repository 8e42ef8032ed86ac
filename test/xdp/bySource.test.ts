import { describe, expect, it } from "vitest";
import { formatCidr } from "../../sdk/calico/cidr";
import { compileXdpPolicy } from "../../sdk/xdp/compile";
import { BY_SOURCE_NO_MATCH } from "../../sdk/xdp/layout";

type Rules = Parameters<typeof compileXdpPolicy>[0];
type Context = Parameters<typeof compileXdpPolicy>[1];

/** by_source of every source entry (CIDR -> answer), and of an absent source per family. */
function bySource(rules: Rules, context?: Context) {
  const compiled = compileXdpPolicy(rules, context);
  const entries = [...compiled.addresses.src[4], ...compiled.addresses.src[6]];
  return {
    entries: Object.fromEntries(entries.map((e) => [formatCidr(e.network), e.match.by_source])),
    absent: { 4: compiled.config.v4_absent_by_source, 6: compiled.config.v6_absent_by_source },
  };
}

const NONE = BY_SOURCE_NO_MATCH;

describe("by_source: the source address alone decides", () => {
  it("GIVEN a deny list WHEN compiled THEN a listed source is its Deny rule and any other source no rule", () => {
    expect(bySource([{ action: "Deny", source: { nets: ["198.18.0.1/32", "198.18.1.0/24"] } }])).toEqual({
      entries: { "198.18.0.1/32": 1, "198.18.1.0/24": 1 },
      absent: { 4: NONE, 6: NONE },
    });
  });

  it("GIVEN a rule before the list that matches on another field WHEN compiled THEN no source decides alone", () => {
    const answer = bySource([
      { action: "Allow", protocol: "TCP", destination: { ports: [22] } },
      { action: "Deny", source: { nets: ["198.18.0.1/32"] } },
    ]);
    expect(answer).toEqual({ entries: { "198.18.0.1/32": 0 }, absent: { 4: 0, 6: 0 } });
  });

  it("GIVEN an earlier rule that is false for the source WHEN compiled THEN the later rule decides", () => {
    const answer = bySource([
      { action: "Allow", protocol: "TCP", source: { nets: ["198.18.9.0/24"] } },
      { action: "Deny", source: { nets: ["198.18.0.1/32"] } },
      { action: "Allow", source: { notNets: ["198.18.0.0/16"] } },
    ]);
    // Not in rule 0's nets: rule 1 decides. In rule 0's nets: its protocol is left to the packet.
    // Absent: rule 2's notNets miss it (true), but only for IPv4: the rule has IPv4 nets only.
    expect(answer).toEqual({
      entries: { "198.18.0.0/16": NONE, "198.18.0.1/32": 2, "198.18.9.0/24": 0 },
      absent: { 4: 3, 6: NONE },
    });
  });

  it("GIVEN a Log rule that matches the source WHEN compiled THEN it is counted by the rules, not decided", () => {
    expect(
      bySource([
        { action: "Log", source: { nets: ["198.18.0.0/16"] } },
        { action: "Deny", source: { nets: ["198.18.0.1/32", "198.19.0.1/32"] } },
      ]).entries,
    ).toEqual({ "198.18.0.0/16": 0, "198.18.0.1/32": 0, "198.19.0.1/32": 2 });
  });

  it("GIVEN a rule of no matchers WHEN compiled THEN it decides every source it is reached by", () => {
    expect(bySource([{ action: "Deny", source: { nets: ["198.18.0.1/32"] } }, { action: "Allow" }])).toEqual({
      entries: { "198.18.0.1/32": 1 },
      absent: { 4: 2, 6: 2 },
    });
  });

  it("GIVEN selectors WHEN compiled THEN a non-member is false in a closed scope and left to the rules in an open one", () => {
    const rules: Rules = [
      { action: "Deny", source: { selector: "deny == 'true'" } },
      { action: "Allow", source: { notSelector: "role == 'partner'" } },
    ];
    const networkSets: { name: string; labels: Record<string, string>; nets: string[] }[] = [
      { name: "deny", labels: { deny: "true" }, nets: ["198.18.100.0/24"] },
      { name: "partner", labels: { role: "partner" }, nets: ["198.18.200.0/24"] },
    ];
    expect(bySource(rules, { networkSets, selectorScope: "closed" })).toEqual({
      entries: { "198.18.100.0/24": 1, "198.18.200.0/24": NONE },
      absent: { 4: 2, 6: 2 },
    });
    // Open: an address of no given object may be a member of an object not given.
    expect(bySource(rules, { networkSets, selectorScope: "open" })).toEqual({
      entries: { "198.18.100.0/24": 1, "198.18.200.0/24": 0 },
      absent: { 4: 0, 6: 0 },
    });
  });
});
