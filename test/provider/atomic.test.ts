import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { localLoader } from "../../provider/bpf/filter";
import { loader } from "../../provider/bpf/loader";
import * as provider from "../../provider/xdp/provider";
import { formatIp } from "../../sdk/calico/cidr";
import type { RuleInput } from "../../sdk/calico/rule";
import { buildPacket } from "../../sdk/xdp/packet";
import type { NodeAttachment } from "../../sdk/xdp/programArgs";
import { testIdentity } from "../support/identity";
import { kernelSkip } from "../support/kernel";
import { createTestbed, type Testbed } from "../support/netns";

const skip = kernelSkip();
const UPDATES = 50;
const CIDRS_PER_LIST = 10_000;
const XDP_DROP = 1;
const XDP_PASS = 2;

/** Both policies deny DENIED and allow ALLOWED, through rules in opposite order and other neighbours. */
const DENIED = "198.18.250.1";
const ALLOWED = "198.18.251.1";

/** `count` CIDRs from `base`: /32s (the hash maps) and /30s (the LPM tries), alternating. */
function cidrs(base: bigint, count: number): string[] {
  return Array.from({ length: count }, (_, i) =>
    i % 2 === 0
      ? `${formatIp(4, base + BigInt(i))}/32`
      : `${formatIp(4, base + 0x8000n + (BigInt(i) << 2n))}/30`,
  );
}

/**
 * A and B agree on DENIED and ALLOWED but disagree on everything else, rule order included: a packet
 * decided by A's config with B's address tables (or the reverse) gets the other rule's action.
 */
const POLICY_A: RuleInput[] = [
  {
    action: "Allow",
    protocol: "UDP",
    source: { nets: [`${ALLOWED}/32`, ...cidrs(0xc6120000n, CIDRS_PER_LIST - 1)] },
  },
  {
    action: "Deny",
    protocol: "UDP",
    source: { nets: [`${DENIED}/32`, ...cidrs(0xc6130000n, CIDRS_PER_LIST - 1)] },
  },
];
const POLICY_B: RuleInput[] = [
  {
    action: "Deny",
    protocol: "UDP",
    source: { nets: [`${DENIED}/32`, ...cidrs(0xc6128000n, CIDRS_PER_LIST - 1)] },
  },
  {
    action: "Allow",
    protocol: "UDP",
    source: { nets: [`${ALLOWED}/32`, ...cidrs(0xc6138000n, CIDRS_PER_LIST - 1)] },
  },
];

describe.skipIf(skip)("rules-only updates are atomic for every packet", () => {
  let tb: Testbed;
  let dir: string;
  let id: string;
  let outs: Record<string, unknown> & { attachments: NodeAttachment[] };
  const identity = testIdentity();
  const inputs = (rules: RuleInput[]) => ({
    identity,
    nodes: [{ name: "n1", connection: { type: "netns", netns: tb.server.netns } }],
    interfaceName: tb.server.iface,
    rules,
  });

  beforeAll(() => {
    tb = createTestbed();
    dir = mkdtempSync(join(tmpdir(), "calico-xdp-atomic-"));
  });
  afterAll(async () => {
    try {
      if (id) await provider.delete(id, outs as never);
    } finally {
      tb?.destroy();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it(`GIVEN a sampler running the attached program WHEN ${UPDATES} updates alternate two policies of ${2 * CIDRS_PER_LIST} CIDRs THEN a packet both deny is never passed and one both allow is never dropped`, async () => {
    const created = await provider.create((await provider.check({}, inputs(POLICY_A))).inputs as never);
    id = created.id;
    outs = created.outs as typeof outs;
    const programId = outs.attachments[0]!.programId!;
    const frames = {
      denied: join(dir, "denied"),
      allowed: join(dir, "allowed"),
    };
    for (const [name, source] of [
      ["denied", DENIED],
      ["allowed", ALLOWED],
    ] as const) {
      writeFileSync(
        frames[name],
        buildPacket({
          protocol: 17,
          source,
          destination: tb.server.address,
          sourcePort: 4000,
          destinationPort: 9000,
        }),
      );
    }
    const on = await localLoader();
    const seen = { denied: [0, 0, 0], allowed: [0, 0, 0] };
    let updating = true;
    let rounds = 0;
    const sampler = (async () => {
      while (updating) {
        for (const name of ["denied", "allowed"] as const) {
          const { retvals } = await loader.run(on, programId, frames[name], 200);
          for (const r of [XDP_DROP, XDP_PASS]) seen[name][r]! += retvals[r]!;
          seen[name][0]! += retvals.reduce((a, b) => a + b, 0) - retvals[XDP_DROP]! - retvals[XDP_PASS]!;
        }
        rounds++;
      }
    })();
    try {
      for (let i = 1; i <= UPDATES; i++) {
        const news = (await provider.check(outs, inputs(i % 2 === 1 ? POLICY_B : POLICY_A))).inputs;
        outs = (await provider.update(id, outs as never, news as never)).outs as typeof outs;
        expect(outs.attachments[0]!.programId).toBe(programId);
      }
    } finally {
      updating = false;
      await sampler;
    }
    expect(rounds).toBeGreaterThan(UPDATES);
    expect(seen.denied[XDP_PASS]).toBe(0);
    expect(seen.allowed[XDP_DROP]).toBe(0);
    expect(seen.denied[0]).toBe(0); // nothing but drop and pass
    expect(seen.denied[XDP_DROP]).toBeGreaterThan(0);
    expect(seen.allowed[XDP_PASS]).toBeGreaterThan(0);
  }, 900_000);
});
