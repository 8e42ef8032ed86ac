import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AddressRanges } from "../../sdk/calico/addressRanges";
import { parseIp } from "../../sdk/calico/cidr";
import {
  DEFAULT_KEEP_REACHABLE,
  describeLockOut,
  lockOuts,
  type ReachabilityContext,
  type ReachableFlow,
  reachableFlowSchema,
} from "../../sdk/calico/reachability";
import { DEFAULT_FAILSAFE_INBOUND, type ProtoPort } from "../../sdk/calico/resources";
import { ingressRuleSchema, type RuleInput } from "../../sdk/calico/rule";
import { evaluatePolicy } from "../../sdk/xdp/evaluate";
import { parseSetNet } from "../../sdk/xdp/members";
import type { XdpPolicy } from "../../sdk/xdp/policy";

const rules = (input: RuleInput[]) => input.map((r) => ingressRuleSchema.parse(r));
const flow = (input: unknown) => reachableFlowSchema.parse(input);

function context(ingress: RuleInput[], extra: Partial<ReachabilityContext> = {}): ReachabilityContext {
  return {
    ingress: rules(ingress),
    failsafe: [DEFAULT_FAILSAFE_INBOUND],
    networkSets: [],
    hostEndpoints: [],
    selectorScope: "open",
    ...extra,
  };
}

const DENY_ALL: RuleInput = { action: "Deny" };

describe("AddressRanges", () => {
  const v4 = (...cidrs: string[]) =>
    AddressRanges.of(
      4,
      cidrs.map((c) => parseSetNet(c)!),
    );

  it("GIVEN overlapping and adjacent networks WHEN combined THEN union, intersection and difference are exact", () => {
    const a = v4("10.0.0.0/9", "10.128.0.0/9"); // adjacent halves merge into 10/8
    expect(a.covers(v4("10.0.0.0/8"))).toBe(true);
    expect(v4("10.0.0.0/8").minus(v4("10.0.0.0/9")).first()).toBe("10.128.0.0");
    expect(v4("10.0.0.0/8").intersect(v4("10.1.0.0/16", "11.0.0.0/8")).covers(v4("10.1.0.0/16"))).toBe(true);
    expect(v4("10.0.0.0/8").intersect(v4("11.0.0.0/8")).isEmpty()).toBe(true);
    expect(AddressRanges.all(4).minus(v4("0.0.0.0/1", "128.0.0.0/1")).isEmpty()).toBe(true);
    expect(v4("10.0.0.0/8").minus(v4("10.0.0.0/32", "10.255.255.255/32")).first()).toBe("10.0.0.1");
  });
});

describe("keepReachable: the lock-out proof", () => {
  it("GIVEN Calico's default failsafe ports and a final Deny-all WHEN proved THEN the default flows stay reachable", () => {
    expect(
      lockOuts(DEFAULT_KEEP_REACHABLE, context([{ action: "Allow", protocol: "TCP" }, DENY_ALL])),
    ).toEqual([]);
  });

  it("GIVEN no failsafe ports and a final Deny-all WHEN proved THEN SSH is reported denied by that rule, from the lowest address, both families", () => {
    const found = lockOuts(DEFAULT_KEEP_REACHABLE, context([DENY_ALL], { failsafe: [[]] }));
    expect(found.filter((l) => l.flow === 0)).toEqual([
      { flow: 0, rule: 0, certain: true, source: "0.0.0.0", unknown: [] },
      { flow: 0, rule: 0, certain: true, source: "::", unknown: [] },
    ]);
    expect(describeLockOut(found[0]!, DEFAULT_KEEP_REACHABLE[0]!, rules([DENY_ALL])[0]!)).toBe(
      "keepReachable[0] (TCP port 22 from anywhere) is denied by ingress[0] (Deny), for example from 0.0.0.0, and no failsafe port keeps it open: allow it in an earlier rule, narrow the Deny, or keep it in the failsafe ports",
    );
  });

  it("GIVEN SSH allowed from 10/8 before a Deny-all WHEN 10/8 and then 10/7 must reach it THEN only the addresses outside 10/8 are reported", () => {
    const ctx = context(
      [
        { action: "Allow", protocol: "TCP", source: { nets: ["10.0.0.0/8"] }, destination: { ports: [22] } },
        DENY_ALL,
      ],
      { failsafe: [[]] },
    );
    expect(lockOuts([flow({ from: "10.0.0.0/8", port: 22 })], ctx)).toEqual([]);
    expect(lockOuts([flow({ from: "10.0.0.0/7", port: 22 })], ctx)).toEqual([
      { flow: 0, rule: 1, certain: true, source: "11.0.0.0", unknown: [] },
    ]);
    // The Allow is IPv4 only (its nets), so an IPv6 client meets the Deny.
    expect(lockOuts([flow({ port: 22 })], ctx).map((l) => l.source)).toEqual(["0.0.0.0", "::"]);
  });

  it("GIVEN a failsafe entry limited to a net WHEN the flow is wider THEN the rest of it is checked against the rules", () => {
    const failsafe: ProtoPort[] = [{ protocol: "TCP", port: 22, net: "10.0.0.0/8" }];
    const found = lockOuts(
      [flow({ from: "10.0.0.0/7", port: 22 })],
      context([DENY_ALL], { failsafe: [failsafe] }),
    );
    expect(found.map((l) => l.source)).toEqual(["11.0.0.0"]);
    // Two lists in force (Felix's and XDP's): a flow is failsafe only where both keep it open.
    expect(
      lockOuts([flow({ from: "10.0.0.0/8", port: 22 })], context([DENY_ALL], { failsafe: [failsafe, []] })),
    ).toHaveLength(1);
  });

  it("GIVEN a Deny over a selector WHEN the scope is open THEN it may deny; closed, with sets that hold none of the clients, it does not", () => {
    const deny: RuleInput = { action: "Deny", source: { selector: "dos-deny-list == 'true'" } };
    const sets = [{ name: "deny", labels: { "dos-deny-list": "true" }, nets: ["198.18.0.0/24"] }];
    const clients = flow({ from: "10.0.0.0/8", port: 6379 });
    expect(lockOuts([clients], context([deny], { networkSets: sets }))).toEqual([
      {
        flow: 0,
        rule: 0,
        certain: false,
        source: "10.0.0.0",
        unknown: ["source selectors over network sets and host endpoints not given (selectorScope: open)"],
      },
    ]);
    expect(lockOuts([clients], context([deny], { networkSets: sets, selectorScope: "closed" }))).toEqual([]);
    expect(
      lockOuts(
        [flow({ from: "198.18.0.7", port: 6379 })],
        context([deny], { networkSets: sets, selectorScope: "closed" }),
      ),
    ).toMatchObject([{ certain: true, source: "198.18.0.7" }]);
  });

  it("GIVEN matchers a flow does not fix WHEN a Deny uses them THEN it may deny, naming them; an Allow using them does not count", () => {
    const ctx = (ingress: RuleInput[]) => context(ingress, { failsafe: [[]] });
    const redis = [flow({ from: "10.0.0.0/8", port: 6379 })];
    expect(
      lockOuts(redis, ctx([{ action: "Deny", protocol: "TCP", destination: { ports: ["redis"] } }])),
    ).toMatchObject([{ certain: false, unknown: ['named ports "redis"'] }]);
    expect(
      lockOuts(redis, ctx([{ action: "Deny", protocol: "TCP", source: { ports: [1024] } }])),
    ).toMatchObject([{ certain: false, unknown: ["the clients' source ports"] }]);
    expect(
      lockOuts(
        redis,
        ctx([{ action: "Allow", protocol: "TCP", destination: { ports: ["redis"] } }, DENY_ALL]),
      ),
    ).toMatchObject([{ rule: 1, certain: true }]);
    // A rule for another protocol, port or family never meets the flow.
    expect(
      lockOuts(
        redis,
        ctx([
          { action: "Deny", protocol: "UDP" },
          { action: "Deny", protocol: "TCP", destination: { ports: [6380] } },
          { action: "Deny", source: { nets: ["fd00::/8"] } },
          { action: "Deny", protocol: "ICMP", icmp: { type: 8 } },
        ]),
      ),
    ).toEqual([]);
  });

  it("GIVEN a Deny of one host address WHEN the flow names another, or none THEN not denied, or may be", () => {
    const deny: RuleInput = { action: "Deny", destination: { nets: ["192.0.2.10/32"] } };
    const ctx = context([deny], { failsafe: [[]] });
    expect(lockOuts([flow({ to: "192.0.2.11", port: 22 })], ctx)).toEqual([]);
    expect(lockOuts([flow({ to: "192.0.2.10", port: 22 })], ctx)).toMatchObject([{ certain: true }]);
    expect(lockOuts([flow({ from: "10.0.0.0/8", port: 22 })], ctx)).toMatchObject([
      { certain: false, unknown: ["the host address the clients connect to"] },
    ]);
  });

  it("GIVEN a bad flow WHEN parsed THEN the field and the fix are named", () => {
    const problem = (input: unknown) => reachableFlowSchema.safeParse(input).error?.issues[0]?.message;
    expect(problem({ protocol: "tcp", port: 22 })).toContain('did you mean "TCP"');
    expect(problem({ from: "10.0.0.300/8", port: 22 })).toContain("is not an IP address or CIDR");
    expect(problem({ port: 70000 })).toBeDefined();
  });
});

// The proof against the reference evaluator: on closed-scope policies without named ports (where
// Calico's evaluation is exact), "reachable" means no packet of the flow meets a Deny, and a certain
// lock-out names a source whose packet the evaluator denies at that rule.
const ADDRESSES = [
  "10.0.0.0",
  "10.0.0.7",
  "10.1.2.3",
  "10.255.255.255",
  "11.0.0.1",
  "198.18.0.5",
  "fd00::1",
  "fd00:1::7",
];
const NETS4 = ["10.0.0.0/8", "10.0.0.0/16", "10.0.0.7/32", "11.0.0.0/8", "198.18.0.0/24"];
const NETS6 = ["fd00::/8", "fd00:1::/32"];
const PORTS = [22, 80, 6379];
const nets = fc.uniqueArray(fc.constantFrom(...NETS4), { minLength: 1, maxLength: 2 });
const rule = fc
  .record(
    {
      action: fc.constantFrom("Allow", "Deny", "Deny", "Log", "Pass"),
      protocol: fc.constantFrom("TCP", "UDP"),
      source: fc.record(
        {
          nets: fc.oneof(nets, fc.uniqueArray(fc.constantFrom(...NETS6), { minLength: 1, maxLength: 1 })),
          notNets: fc.uniqueArray(fc.constantFrom(...NETS4.slice(1)), { minLength: 1, maxLength: 2 }),
          selector: fc.constantFrom("deny == 'true'", "role == 'partner'"),
          notSelector: fc.constantFrom("deny == 'true'", "role == 'partner'"),
        },
        { requiredKeys: [] },
      ),
      destination: fc.record(
        { ports: fc.uniqueArray(fc.constantFrom(...PORTS), { minLength: 1, maxLength: 2 }) },
        {
          requiredKeys: [],
        },
      ),
    },
    { requiredKeys: ["action"] },
  )
  .filter((r) => ingressRuleSchema.safeParse(r).success);
const flowArb = fc.record(
  {
    from: fc.constantFrom(...NETS4, ...NETS6, "10.0.0.7"),
    protocol: fc.constantFrom("TCP", "UDP"),
    port: fc.constantFrom(...PORTS),
  },
  { requiredKeys: ["protocol", "port"] },
);

describe("keepReachable against the reference evaluator", () => {
  it("PROPERTY 300 random policies and flows: no reported lock-out means no packet denied; a certain one is denied where it says", () => {
    let denials = 0;
    fc.assert(
      fc.property(
        fc.array(rule, { maxLength: 6 }),
        fc.uniqueArray(fc.constantFrom(...PORTS), { maxLength: 2 }),
        fc.array(flowArb, { minLength: 1, maxLength: 3 }),
        (ingressInput, failsafePorts, flowInputs) => {
          const ingress = rules(ingressInput as RuleInput[]);
          const failsafe = failsafePorts.map((port) => ({ protocol: "TCP" as const, port }));
          const policy: XdpPolicy = {
            ingress,
            failsafeInbound: failsafe,
            failsafeOutbound: [],
            networkSets: [
              { name: "deny", labels: { deny: "true" }, nets: ["10.0.0.0/16", "fd00:1::7"] },
              { name: "partners", labels: { role: "partner" }, nets: ["11.0.0.0/8"] },
            ],
            hostEndpoints: [],
            selectorScope: "closed",
            enforce: true,
          };
          const flows = flowInputs.map(flow);
          const found = lockOuts(flows, { ...policy, failsafe: [failsafe] });
          for (const [i, f] of flows.entries()) {
            for (const text of ADDRESSES) {
              const ip = parseIp(text)!;
              const range =
                f.from === undefined
                  ? AddressRanges.all(ip.version)
                  : AddressRanges.of(ip.version, [parseSetNet(f.from)!]);
              if (!range.covers(AddressRanges.of(ip.version, [parseSetNet(text)!]))) continue;
              const verdict = evaluate(policy, f, ip);
              const reported = found.find(
                (l) => l.flow === i && l.source.includes(":") === (ip.version === 6),
              );
              if (verdict.reason === "deny") {
                denials++;
                expect(
                  reported,
                  `flow ${i} from ${text} is denied at ingress[${verdict.rule}]`,
                ).toBeDefined();
                // The first Deny meeting any undecided source is reported, so none after this one.
                expect(reported!.rule).toBeLessThanOrEqual(verdict.rule!);
              }
            }
          }
          for (const l of found.filter((x) => x.certain)) {
            const verdict = evaluate(policy, flows[l.flow]!, parseIp(l.source)!);
            expect(verdict).toMatchObject({ reason: "deny", rule: l.rule });
          }
        },
      ),
      { numRuns: 300 },
    );
    expect(denials).toBeGreaterThan(20);
  });
});

function evaluate(policy: XdpPolicy, f: ReachableFlow, ip: { version: 4 | 6; address: bigint }) {
  return evaluatePolicy(policy, {
    kind: "ip",
    family: ip.version,
    source: ip.address,
    destination: ip.version === 4 ? 0xc0000201n : 1n,
    protocol: f.protocol === "TCP" ? 6 : f.protocol === "UDP" ? 17 : 132,
    nonFirstFragment: false,
    l4: "ports",
    sourcePort: 40000,
    destinationPort: f.port,
  });
}
