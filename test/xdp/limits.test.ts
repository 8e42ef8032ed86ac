import { describe, expect, it } from "vitest";
import { LoadedFilter } from "../../provider/bpf/filter";
import { formatIp } from "../../sdk/calico/cidr";
import { compileXdpPolicy } from "../../sdk/xdp/compile";
import { evaluatePolicy } from "../../sdk/xdp/evaluate";
import { MAX_CIDRS, MAX_FAILSAFE, MAX_RULES } from "../../sdk/xdp/layout";
import { buildPacket, parsePacket } from "../../sdk/xdp/packet";
import { type XdpPolicyInput, xdpPolicySchema } from "../../sdk/xdp/policy";
import { kernelSkip } from "../support/kernel";

/** `count` distinct networks: IPv4 /32s inside 198.18.0.0/15, then IPv6 /64s inside fd00::/16. */
function networks(count: number, offset = 0): string[] {
  return Array.from({ length: count }, (_, i) => {
    const n = i + offset;
    return n < 131072
      ? `${formatIp(4, 0xc6120000n + BigInt(n))}/32`
      : `${formatIp(6, (0xfd00n << 112n) | (BigInt(n) << 64n))}/64`;
  });
}

/** 64 rules holding 100,000 CIDRs between them: the largest policy the filter accepts. */
function largestPolicy(): XdpPolicyInput {
  const perRule = Math.floor(MAX_CIDRS / MAX_RULES);
  const ingress = Array.from({ length: MAX_RULES }, (_, i) => {
    const count = i === MAX_RULES - 1 ? MAX_CIDRS - perRule * (MAX_RULES - 1) : perRule;
    // Rules alternate families so both tries fill up; each rule's nets are one family.
    const nets = i % 2 === 0 ? networks(count, i * perRule) : networks(count, 140000 + i * perRule);
    return {
      action: i === MAX_RULES - 1 ? ("Allow" as const) : ("Deny" as const),
      protocol: "UDP",
      source: { nets },
      destination: { ports: [1000 + i] },
    };
  });
  return { ingress, failsafeInbound: [] };
}

describe("policy size limits", () => {
  it("GIVEN 65 rules WHEN compiled THEN it is rejected with the limit", () => {
    const ingress = Array.from({ length: MAX_RULES + 1 }, () => ({ action: "Deny" as const }));
    expect(() => compileXdpPolicy(ingress)).toThrow(
      /ingress has more than 64 rules: the XDP filter holds at most 64/,
    );
  });

  it("GIVEN 100,001 CIDRs WHEN compiled THEN it is rejected with the limit", () => {
    const ingress = [
      { action: "Deny" as const, source: { nets: networks(60_000) } },
      { action: "Deny" as const, source: { notNets: networks(40_001, 70_000) } },
    ];
    expect(() => compileXdpPolicy(ingress)).toThrow(
      /ingress holds 100001 CIDRs: the XDP filter holds at most 100000 per policy/,
    );
  });

  it("GIVEN 33 failsafe entries WHEN compiled THEN it is rejected with the limit", () => {
    const failsafeInbound = Array.from({ length: MAX_FAILSAFE + 1 }, (_, i) => ({
      protocol: "TCP" as const,
      port: 1000 + i,
    }));
    expect(() => compileXdpPolicy([], { failsafeInbound })).toThrow(
      /failsafeInbound has more than 32 entries/,
    );
  });
});

const skip = kernelSkip();

describe.skipIf(skip)("the verifier and the maps at the largest policy", () => {
  it("GIVEN 64 rules and 100,000 CIDRs WHEN loaded THEN the program runs and agrees with the evaluator", async () => {
    const input = largestPolicy();
    const policy = xdpPolicySchema.parse(input);
    const filter = await LoadedFilter.load(input);
    try {
      const probes = [
        { family: 4 as const, source: formatIp(4, 0xc6120000n + 5n), destinationPort: 1000 }, // rule 0
        { family: 4 as const, source: formatIp(4, 0xc6120000n + 5n), destinationPort: 1001 }, // not rule 1's family
        {
          family: 6 as const,
          source: formatIp(6, (0xfd00n << 112n) | (BigInt(140000 + 1 * 1562 + 3) << 64n) | 9n),
          destinationPort: 1001,
        },
        {
          family: 4 as const,
          source: formatIp(4, 0xc6120000n + BigInt(62 * 1562 + 10)),
          destinationPort: 1062,
        },
        { family: 6 as const, source: "fd00:ffff::1", destinationPort: 1063 },
      ];
      const verdicts = [];
      for (const spec of probes) {
        const frame = buildPacket({ ...spec, protocol: 17 });
        const expected = evaluatePolicy(policy, parsePacket(frame));
        const actual = await filter.verdict(frame);
        expect(actual).toEqual({ verdict: expected.verdict, reason: expected.reason, rule: expected.rule });
        verdicts.push(actual.reason);
      }
      expect(verdicts).toEqual(["deny", "no-match", "deny", "deny", "no-match"]);
    } finally {
      filter.close();
    }
  }, 300_000);
});
