import { describe, expect, it } from "vitest";
import { LoadedFilter } from "../../provider/bpf/filter";
import { formatIp } from "../../sdk/calico/cidr";
import { compileXdpPolicy } from "../../sdk/xdp/compile";
import { policyEvaluator } from "../../sdk/xdp/evaluate";
import { MAX_CIDRS, MAX_FAILSAFE, MAX_RULES } from "../../sdk/xdp/layout";
import { buildPacket, parsePacket } from "../../sdk/xdp/packet";
import { type XdpPolicyInput, xdpPolicySchema } from "../../sdk/xdp/policy";
import { kernelSkip } from "../support/kernel";

const V4_BASE = 0x0a000000n; // 10.0.0.0/8: only map entries, no packet is sent to it
const V6_BASE = 0xfd00n << 112n;

/** Entry i of a deny list: IPv4 /32s, IPv4 /24s, and IPv6 /64s, in turn. */
function listed(i: number): string {
  if (i % 3 === 0) return formatIp(4, V4_BASE + BigInt(i));
  if (i % 3 === 1) return `${formatIp(4, ((V4_BASE + (1n << 22n) + BigInt(i)) << 8n) & 0xffffff00n)}/24`;
  return `${formatIp(6, V6_BASE | (BigInt(i) << 64n))}/64`;
}

/**
 * 64 rules and 1,000,000 address entries: 63 rules with two nets each, and a deny list of the rest in
 * four GlobalNetworkSets selected by the last rule's source selector.
 */
function largestPolicy(): XdpPolicyInput {
  const ruleNets = (MAX_RULES - 1) * 2;
  const members = MAX_CIDRS - ruleNets;
  const perSet = Math.ceil(members / 4);
  const networkSets = Array.from({ length: 4 }, (_, s) => ({
    name: `deny-${s}`,
    labels: { "dos-deny-list": "true" },
    nets: Array.from({ length: Math.min(perSet, members - s * perSet) }, (_, i) => listed(s * perSet + i)),
  }));
  const ingress: XdpPolicyInput["ingress"] = [
    ...Array.from({ length: MAX_RULES - 1 }, (_, i) => ({
      action: "Allow" as const,
      protocol: "UDP",
      source: { nets: [`198.18.${i}.0/24`, `198.18.${i}.128/25`] },
      destination: { ports: [1000 + i] },
    })),
    { action: "Deny", source: { selector: "dos-deny-list == 'true'" } },
  ];
  return { ingress, networkSets, failsafeInbound: [], failsafeOutbound: [], selectorScope: "closed" };
}

describe("policy size limits", () => {
  it("GIVEN 65 rules WHEN compiled THEN it is rejected with the limit", () => {
    const ingress = Array.from({ length: MAX_RULES + 1 }, () => ({ action: "Deny" as const }));
    expect(() => compileXdpPolicy(ingress)).toThrow(
      /ingress has more than 64 rules: the XDP filter holds at most 64/,
    );
  });

  it("GIVEN 1,000,001 entries between rule nets and a selected set WHEN compiled THEN it is rejected with the count and the limit", () => {
    const nets = Array.from({ length: MAX_CIDRS }, (_, i) => listed(i));
    expect(() =>
      compileXdpPolicy([{ action: "Deny", source: { nets: ["198.18.0.0/24"], selector: "all()" } }], {
        networkSets: [{ name: "big", nets }],
      }),
    ).toThrow(
      /ingress holds 1000001 addresses and CIDRs .*: the XDP filter holds at most 1000000 per policy/,
    );
  });

  it("GIVEN a set that no selector selects WHEN counted THEN its entries do not count", () => {
    const nets = Array.from({ length: MAX_CIDRS + 1 }, (_, i) => listed(i));
    expect(
      compileXdpPolicy([{ action: "Deny", source: { selector: "role == 'x'" } }], {
        networkSets: [{ name: "big", nets }],
      }).ruleCount,
    ).toBe(1);
  });

  it.each(["failsafeInbound", "failsafeOutbound"] as const)(
    "GIVEN 33 %s entries WHEN compiled THEN it is rejected with the limit",
    (list) => {
      const entries = Array.from({ length: MAX_FAILSAFE + 1 }, (_, i) => ({
        protocol: "TCP" as const,
        port: 1000 + i,
      }));
      expect(() => compileXdpPolicy([], { [list]: entries })).toThrow(
        new RegExp(`${list} has more than 32 entries`),
      );
    },
  );
});

const skip = kernelSkip();

describe.skipIf(skip)("the verifier and the maps at the largest policy", () => {
  it("GIVEN 64 rules and 1,000,000 entries (IPv4 and IPv6, addresses and prefixes, in four sets) WHEN loaded THEN sampled packets agree with the evaluator", async () => {
    const input = largestPolicy();
    const policy = xdpPolicySchema.parse(input);
    const evaluate = policyEvaluator(policy);
    const filter = await LoadedFilter.load(input);
    try {
      // Every 4,999th member, the rules' nets on and off their ports, and addresses in no list.
      const probes = [
        ...Array.from({ length: 200 }, (_, k) => {
          const text = listed(k * 4999);
          const family = text.includes(":") ? (6 as const) : (4 as const);
          return { family, source: text.split("/")[0]!, destinationPort: 9 };
        }),
        ...Array.from({ length: 63 }, (_, i) => ({
          family: 4 as const,
          source: `198.18.${i}.7`,
          destinationPort: 1000 + i,
        })),
        ...Array.from({ length: 63 }, (_, i) => ({
          family: 4 as const,
          source: `198.18.${i}.200`,
          destinationPort: 999,
        })),
        { family: 4 as const, source: "192.0.2.1", destinationPort: 9 },
        { family: 6 as const, source: "fd01::1", destinationPort: 9 },
      ];
      const reasons = new Map<string, number>();
      for (const spec of probes) {
        const frame = buildPacket({ ...spec, protocol: 17 });
        const expected = evaluate(parsePacket(frame));
        const { action } = await filter.run(frame);
        expect(action === 1 ? "XDP_DROP" : "XDP_PASS", JSON.stringify(spec)).toBe(expected.verdict);
        reasons.set(expected.reason, (reasons.get(expected.reason) ?? 0) + 1);
      }
      // The samples cover denied members, allowed rule traffic and unlisted sources.
      expect(Object.fromEntries(reasons)).toEqual({ deny: 200, allow: 63, "no-match": 65 });
    } finally {
      await filter.close();
    }
  }, 600_000);
});
