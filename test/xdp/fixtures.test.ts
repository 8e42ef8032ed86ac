import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LoadedFilter } from "../../provider/bpf/filter";
import { evaluatePolicy } from "../../sdk/xdp/evaluate";
import { buildPacket, parsePacket } from "../../sdk/xdp/packet";
import { xdpPolicySchema } from "../../sdk/xdp/policy";
import { kernelSkip } from "../support/kernel";
import { FIXTURE_GROUPS } from "./fixtures";

describe("the reference evaluator states the contract", () => {
  describe.each(FIXTURE_GROUPS.map((g) => [g.name, g] as const))("policy: %s", (_name, group) => {
    const policy = xdpPolicySchema.parse(group.policy);
    it.each(group.fixtures.map((f) => [f.name, f] as const))(
      "GIVEN %s THEN the evaluator agrees",
      (_n, fixture) => {
        const result = evaluatePolicy(policy, parsePacket(buildPacket(fixture.packet)));
        expect({
          verdict: result.verdict,
          reason: result.reason,
          rule: result.rule,
          counted: [...result.logged, ...(result.rule === null ? [] : [result.rule])],
        }).toEqual({
          verdict: fixture.verdict,
          reason: fixture.reason,
          rule: fixture.rule,
          counted: fixture.counted,
        });
      },
    );
  });
});

const skip = kernelSkip();

describe.skipIf(skip)("the BPF program, through BPF_PROG_RUN", () => {
  describe.each(FIXTURE_GROUPS.map((g) => [g.name, g] as const))("policy: %s", (_name, group) => {
    let filter: LoadedFilter;
    beforeAll(async () => {
      filter = await LoadedFilter.load(group.policy);
    });
    afterAll(() => filter?.close());

    it.each(group.fixtures.map((f) => [f.name, f] as const))(
      "GIVEN %s THEN verdict, reason and counters match",
      async (_n, fixture) => {
        const frame = buildPacket(fixture.packet);
        const before = await filter.counters();
        const result = await filter.verdict(frame);
        const after = await filter.counters();
        expect(result).toEqual({ verdict: fixture.verdict, reason: fixture.reason, rule: fixture.rule });
        const moved = after.rules.flatMap((c, i) => (c.packets > before.rules[i]!.packets ? [i] : []));
        expect(moved).toEqual(fixture.counted);
        for (const i of moved)
          expect(after.rules[i]!.bytes - before.rules[i]!.bytes).toBe(BigInt(frame.length));
      },
    );
  });
});
