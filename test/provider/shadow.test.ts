import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readCounters } from "../../provider/bpf/bpftool";
import * as provider from "../../provider/xdp/provider";
import { REASONS } from "../../sdk/xdp/layout";
import type { NodeAttachment } from "../../sdk/xdp/programArgs";
import { background, inNetns } from "../support/hosts";
import { testIdentity } from "../support/identity";
import { kernelSkip } from "../support/kernel";
import { createTestbed, type Testbed } from "../support/netns";
import { calicoXdpStatus } from "../support/status";
import { attachedId } from "../support/xdpLink";

const skip = kernelSkip();
const SHADOW_DENY = REASONS.indexOf("shadow-deny");

describe.skipIf(skip)(
  "shadow mode: enforce false counts what would be dropped, and enforcing is a maps update",
  () => {
    let tb: Testbed;
    let server: Awaited<ReturnType<typeof background>>;
    let id: string;
    let outs: Record<string, unknown> & { attachments: NodeAttachment[] };
    const identity = testIdentity();
    const inputs = (enforce: boolean) => ({
      identity,
      nodes: [{ name: "edge-1", connection: { type: "netns", netns: tb.server.netns } }],
      interfaceName: tb.server.iface,
      enforce,
      rules: [
        {
          action: "Allow",
          protocol: "TCP",
          source: { nets: [`${tb.client.address}/32`] },
          destination: { ports: [6379] },
        },
        { action: "Deny", protocol: "TCP", destination: { ports: [6379] } },
      ],
    });
    const connect = (from: string) =>
      inNetns(tb.client.netns, "tcp-connect", tb.server.address, "6379", from);
    const counters = async () => {
      const dir = outs.attachments[0]!.pinDir!;
      return {
        rules: await readCounters(join(dir, "rule_stats")),
        reasons: await readCounters(join(dir, "verdict_stats")),
      };
    };

    beforeAll(async () => {
      tb = createTestbed();
      server = await background(tb.server.netns, "tcp-server", "6379");
    });
    afterAll(async () => {
      try {
        if (id) await provider.delete(id, outs as never);
      } finally {
        await server?.stop();
        tb?.destroy();
      }
    });

    it("GIVEN enforce false WHEN a denied source connects THEN it is served, and rule 1 and shadow-deny count it", async () => {
      const created = await provider.create((await provider.check({}, inputs(false))).inputs as never);
      id = created.id;
      outs = created.outs;
      expect(await connect(tb.client.deniedAddress)).toBe("connected");
      const { rules, reasons } = await counters();
      expect(rules[1]!.packets).toBeGreaterThan(0n);
      expect(reasons[SHADOW_DENY]!.packets).toBeGreaterThan(0n);
      expect(calicoXdpStatus(tb.server.netns)).toMatch(/shadow-deny [1-9]/);
    });

    it("GIVEN the shadow filter WHEN enforce becomes true THEN it is an update of the maps: same program, the source is dropped", async () => {
      const news = (await provider.check(outs, inputs(true))).inputs;
      expect(await provider.diff(id, outs as never, news as never)).toEqual({ changes: true });
      const before = outs.attachments[0]!.programId;
      outs = (await provider.update(id, outs as never, news as never)).outs;
      expect(outs.attachments[0]!.programId).toBe(before);
      expect(attachedId(tb.server.netns, tb.server.iface)).toBe(before);
      expect(await connect(tb.client.deniedAddress)).toBe("timeout");
      expect(await connect(tb.client.address)).toBe("connected");
    });
  },
);
