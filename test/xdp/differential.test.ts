import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { buildObject } from "../../provider/bpf/build";
import { LoadedFilter } from "../../provider/bpf/filter";
import { ingressRuleSchema } from "../../sdk/calico/rule";
import { evaluatePolicy } from "../../sdk/xdp/evaluate";
import { REASONS } from "../../sdk/xdp/layout";
import { buildPacket, type PacketSpec, parsePacket } from "../../sdk/xdp/packet";
import { xdpPolicySchema } from "../../sdk/xdp/policy";
import { kernelSkip } from "../support/kernel";

const POLICIES = 100;
const PACKETS_PER_POLICY = 20; // 2,000 cases per run

// Small pools, so random rules and random packets actually meet.
const NETS = {
  4: ["198.18.0.0/15", "198.18.1.0/24", "198.18.1.7/32", "198.18.1.128/25", "198.19.0.0/16"],
  6: ["fd00::/8", "fd00:1::/32", "fd00:1::7/128"],
};
const ADDRESSES = {
  4: ["198.18.1.7", "198.18.1.9", "198.18.1.200", "198.18.200.1", "198.19.3.3", "192.0.2.1"],
  6: ["fd00:1::7", "fd00:1::8", "fd00:2::1", "fe80::1"],
};
const PORTS = [22, 53, 68, 80, 1024, 6379, 6380, 2379];
// Selectors and the labels of the objects they may select; set members overlap ADDRESSES.
const SELECTORS = [
  "role == 'x'",
  "role == 'partner'",
  "has(deny)",
  "deny == 'true' && role != 'partner'",
  "role in {'db', 'x'}",
  "all()",
];
const LABELS: Record<string, string>[] = [
  { role: "partner" },
  { role: "db" },
  { deny: "true" },
  { deny: "true", role: "partner" },
  {},
];
const SET_NETS = [
  "198.18.1.0/24",
  "198.18.1.7",
  "198.19.3.3",
  "198.18.200.9/16",
  "fd00:1::/32",
  "fd00:2::1",
  "fe80::/10",
];
const PROTOCOLS = [6, 17, 132, 136, 1, 58, 47];

const port = fc.oneof(
  fc.constantFrom(...PORTS),
  fc.constantFrom("1000:2000", "6379:6380", "1:100"),
  fc.constant("redis"),
);
const entity = (family: 4 | 6) =>
  fc.record(
    {
      nets: fc.uniqueArray(fc.constantFrom(...NETS[family]), { minLength: 1, maxLength: 2 }),
      notNets: fc.uniqueArray(fc.constantFrom(...NETS[family].filter((n) => !n.endsWith("/0"))), {
        minLength: 1,
        maxLength: 2,
      }),
      ports: fc.uniqueArray(port, { minLength: 1, maxLength: 3 }),
      notPorts: fc.uniqueArray(port, { minLength: 1, maxLength: 2 }),
      selector: fc.constantFrom(...SELECTORS),
      notSelector: fc.constantFrom(...SELECTORS),
    },
    { requiredKeys: [] },
  );

const rule = fc
  .tuple(fc.constantFrom(4 as const, 6 as const), fc.boolean())
  .chain(([family, pinFamily]) =>
    fc.record(
      {
        action: fc.constantFrom("Allow", "Deny", "Deny", "Log", "Pass"),
        protocol: fc.constantFrom("TCP", "UDP", "SCTP", "UDPLite", family === 4 ? "ICMP" : "ICMPv6", 47),
        notProtocol: fc.constantFrom("TCP", "UDP", 47),
        ipVersion: fc.constant(pinFamily ? family : undefined),
        icmp: fc.record(
          { type: fc.constantFrom(0, 3, 8, 128), code: fc.constantFrom(0, 1) },
          { requiredKeys: ["type"] },
        ),
        notICMP: fc.record({ type: fc.constantFrom(0, 8, 129) }),
        source: entity(family),
        destination: entity(family),
      },
      { requiredKeys: ["action"] },
    ),
  )
  .filter((r) => ingressRuleSchema.safeParse(JSON.parse(JSON.stringify(r))).success);

/** Rules where a selector is (nearly) all there is, so it decides; now and then beside a namespaceSelector. */
const selectorRule = fc.record(
  {
    action: fc.constantFrom("Allow", "Deny", "Deny", "Log", "Pass"),
    protocol: fc.constantFrom("TCP", "UDP"),
    source: fc
      .tuple(
        fc.record(
          { selector: fc.constantFrom(...SELECTORS), notSelector: fc.constantFrom(...SELECTORS) },
          { requiredKeys: [] },
        ),
        fc.option(fc.constantFrom("all()", "global()"), { freq: 5, nil: undefined }),
      )
      .map(([side, namespaceSelector]) => (namespaceSelector ? { ...side, namespaceSelector } : side)),
    destination: fc.record(
      { selector: fc.constantFrom(...SELECTORS), notSelector: fc.constantFrom(...SELECTORS) },
      { requiredKeys: [] },
    ),
  },
  { requiredKeys: ["action"] },
);

/** Rules of source matchers only, which the source address alone may decide (addr_match.by_source). */
const sourceRule = fc.constantFrom(4 as const, 6 as const).chain((family) =>
  fc.record(
    {
      action: fc.constantFrom("Allow", "Deny", "Deny", "Log", "Pass"),
      ipVersion: fc.option(fc.constant(family), { nil: undefined }),
      source: entity(family).map(({ ports: _ports, notPorts: _notPorts, ...side }) => side),
    },
    { requiredKeys: ["action"] },
  ),
);

const failsafe = fc.uniqueArray(
  fc.record(
    {
      protocol: fc.constantFrom("TCP", "UDP", "SCTP"),
      port: fc.constantFrom(...PORTS),
      net: fc.constantFrom("198.18.1.0/24", "fd00:1::/32"),
    },
    { requiredKeys: ["protocol", "port"] },
  ),
  { maxLength: 4, selector: (e) => `${e.protocol}/${e.port}/${e.net}` },
);

const networkSet = fc.record({
  name: fc.constantFrom("a", "b", "c"),
  labels: fc.constantFrom(...LABELS),
  nets: fc.uniqueArray(fc.constantFrom(...SET_NETS), { maxLength: 4 }),
});
const hostEndpoint = fc.record({
  name: fc.constantFrom("hep-1", "hep-2"),
  labels: fc.constantFrom(...LABELS),
  expectedIPs: fc.uniqueArray(fc.constantFrom(...ADDRESSES[4], ...ADDRESSES[6]), { maxLength: 2 }),
});

const policy = fc.record({
  ingress: fc.array(fc.oneof(rule, selectorRule, sourceRule), { maxLength: 8 }),
  failsafeInbound: failsafe,
  failsafeOutbound: failsafe,
  networkSets: fc.array(networkSet, { maxLength: 3 }),
  hostEndpoints: fc.array(hostEndpoint, { maxLength: 2 }),
  selectorScope: fc.constantFrom("open", "closed"),
  enforce: fc.boolean(),
});

const packet: fc.Arbitrary<PacketSpec> = fc.constantFrom(4 as const, 6 as const).chain((family) =>
  fc.record(
    {
      family: fc.constant(family),
      source: fc.constantFrom(...ADDRESSES[family]),
      destination: fc.constantFrom(...ADDRESSES[family]),
      protocol: fc.constantFrom(...PROTOCOLS),
      sourcePort: fc.constantFrom(...PORTS, 40000),
      destinationPort: fc.constantFrom(...PORTS, 1500, 7000),
      icmpType: fc.constantFrom(0, 3, 8, 128, 129),
      icmpCode: fc.constantFrom(0, 1),
      vlans: fc.constantFrom([], [], [0x8100], [0x88a8, 0x8100], [0x8100, 0x8100, 0x8100]),
      fragmentOffset: fc.constantFrom(0, 0, 0, 7),
      extensions:
        family === 6
          ? fc.array(
              fc.record({
                type: fc.constantFrom(0, 43, 60, 51, 44),
                fragmentOffset: fc.constantFrom(0, 0, 5),
              }),
              { maxLength: 5 },
            )
          : fc.constant([]),
      l4Bytes: fc.option(fc.integer({ min: 0, max: 12 }), { freq: 6, nil: undefined }),
      padding: fc.option(fc.integer({ min: 1, max: 24 }), { freq: 6, nil: undefined }),
      ipLength: fc.option(fc.integer({ min: 0, max: 120 }), { freq: 12, nil: undefined }),
      truncate: fc.option(fc.integer({ min: 14, max: 90 }), { freq: 8, nil: undefined }),
    },
    { requiredKeys: ["family", "source", "destination", "protocol"] },
  ),
);

const skip = kernelSkip();

describe.skipIf(skip)("differential: the BPF program agrees with the reference evaluator", () => {
  it(`PROPERTY ${POLICIES} random policies x ${PACKETS_PER_POLICY} random packets: same verdicts and counters`, async () => {
    const object = await buildObject();
    let cases = 0;
    await fc.assert(
      fc.asyncProperty(
        policy,
        fc.array(packet, { minLength: PACKETS_PER_POLICY, maxLength: PACKETS_PER_POLICY }),
        async (input, specs) => {
          const parsed = xdpPolicySchema.parse(JSON.parse(JSON.stringify(input)));
          const filter = await LoadedFilter.load(parsed, object);
          try {
            const expectedRules = new Array<bigint>(64).fill(0n);
            const expectedReasons = Object.fromEntries(REASONS.map((r) => [r, 0n]));
            for (const spec of specs) {
              const frame = buildPacket(spec);
              const expected = evaluatePolicy(parsed, parsePacket(frame));
              const { action } = await filter.run(frame);
              expect(action === 1 ? "XDP_DROP" : "XDP_PASS", JSON.stringify({ spec, expected })).toBe(
                expected.verdict,
              );
              expectedReasons[expected.reason]! += 1n;
              for (const i of [...expected.logged, ...(expected.rule === null ? [] : [expected.rule])])
                expectedRules[i]! += 1n;
              cases++;
            }
            const counters = await filter.counters();
            expect(counters.rules.map((c) => c.packets)).toEqual(expectedRules);
            expect(Object.fromEntries(REASONS.map((r) => [r, counters.reasons[r].packets]))).toEqual(
              expectedReasons,
            );
          } finally {
            await filter.close();
          }
        },
      ),
      { numRuns: POLICIES },
    );
    expect(cases).toBeGreaterThanOrEqual(POLICIES * PACKETS_PER_POLICY);
  }, 600_000);
});
