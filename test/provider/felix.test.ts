import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildObject, packageRoot } from "../../provider/bpf/build";
import * as provider from "../../provider/xdp/provider";
import type { NodeAttachment } from "../../sdk/xdp/programArgs";
import { background, inNetns } from "../support/hosts";
import { testIdentity } from "../support/identity";
import { kernelSkip } from "../support/kernel";
import { createTestbed, type Testbed } from "../support/netns";
import { attachedId } from "../support/xdpLink";

const skip = kernelSkip();

/**
 * How Calico Felix removes XDP programs it does not own (its startup wipe and its xdpRefreshInterval
 * resync go through netlink), and how an operator would replace one with `ip`.
 */
const FELIX_WAYS = (iface: string, other: string) => [
  ["link", "set", "dev", iface, "xdp", "off"],
  ["link", "set", "dev", iface, "xdpgeneric", "off"],
  ["link", "set", "dev", iface, "xdpdrv", "off"],
  ["link", "set", "dev", iface, "xdpoffload", "off"],
  ["link", "set", "dev", iface, "xdp", "obj", other, "sec", "xdp"],
  ["link", "set", "dev", iface, "xdpgeneric", "obj", other, "sec", "xdp"],
  ["link", "set", "dev", iface, "xdpdrv", "obj", other, "sec", "xdp"],
];

describe.skipIf(skip).each(["native", "generic"] as const)(
  "the filter in %s mode survives Felix's XDP wipe",
  (mode) => {
    let tb: Testbed;
    let server: Awaited<ReturnType<typeof background>>;
    let id: string;
    let outs: { attachments: NodeAttachment[] };
    const connect = (from: string) =>
      inNetns(tb.client.netns, "tcp-connect", tb.server.address, "6379", from);

    beforeAll(async () => {
      tb = createTestbed();
      server = await background(tb.server.netns, "tcp-server", "6379");
      const inputs = (
        await provider.check(
          {},
          {
            identity: testIdentity(),
            nodes: [{ name: "n1", connection: { type: "netns", netns: tb.server.netns } }],
            interfaceName: tb.server.iface,
            mode,
            rules: [
              { action: "Allow", protocol: "TCP", source: { nets: [`${tb.client.address}/32`] } },
              { action: "Deny", protocol: "TCP", destination: { ports: [6379] } },
            ],
          },
        )
      ).inputs;
      const created = await provider.create(inputs as never);
      id = created.id;
      outs = created.outs as typeof outs;
    });
    afterAll(async () => {
      try {
        if (id) await provider.delete(id, outs as never);
      } finally {
        await server?.stop();
        tb?.destroy();
      }
    });

    it("GIVEN the filter attached WHEN every netlink way of removing or replacing it runs THEN each is refused and ours keeps deciding", async () => {
      const ours = outs.attachments[0]!;
      expect(ours).toMatchObject({ status: "attached", mode });
      expect(await connect(tb.client.deniedAddress)).toBe("timeout");
      const other = (await buildObject(join(packageRoot(), "bench", "programs", "empty.c"))).path;
      for (const command of FELIX_WAYS(tb.server.iface, other)) {
        try {
          execFileSync("ip", ["-n", tb.server.netns, ...command], { stdio: "pipe" });
        } catch {
          // "Can't replace active BPF XDP link" or "Native and generic XDP can't be active at the same time"
        }
        expect(attachedId(tb.server.netns, tb.server.iface), command.join(" ")).toBe(ours.programId);
      }
      expect(await connect(tb.client.deniedAddress)).toBe("timeout");
      expect(await connect(tb.client.address)).toBe("connected");
      const refreshed = (await provider.read(id, outs as never)).props as typeof outs;
      expect(refreshed.attachments[0]).toMatchObject({ status: "attached", programId: ours.programId });
      expect(refreshed.attachments[0]!.drift).toBeUndefined();
    });
  },
);
