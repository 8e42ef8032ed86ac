import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { LocalWorkspace } from "@pulumi/pulumi/automation";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FAULT_STEPS } from "../../provider/xdp/fault";
import { PIN_ROOT } from "../../provider/xdp/node";
import { engine } from "../support/engine";
import { background, inNetns } from "../support/hosts";
import { kernelSkip } from "../support/kernel";
import { createTestbed, type Testbed } from "../support/netns";
import { attachedId } from "../support/xdpLink";
import { type XdpStack, xdpStack } from "../support/xdpStack";

const skip = kernelSkip();

const rules = (deniedPort: number) => [
  { action: "Deny", protocol: "TCP", destination: { ports: [deniedPort] } },
];

describe.skipIf(skip)(
  "the provider killed at any step: the next up converges and destroy leaves nothing",
  () => {
    let tb: Testbed;
    let work: string;
    let xdp: XdpStack;
    let servers: Awaited<ReturnType<typeof background>>[] = [];
    // Unique, so every pin directory of this node, under any resource id, is this test's.
    const node = `faults-${randomBytes(3).toString("hex")}`;
    const connect = (port: number) =>
      inNetns(tb.client.netns, "tcp-connect", tb.server.address, String(port), tb.client.address);
    const configure = (deniedPort: number) =>
      xdp.configure([{ name: node, netns: tb.server.netns }], tb.server.iface, rules(deniedPort));

    /** Our pins for the resource: exactly one program version and its link. */
    const pinsOf = (id: string) => readdirSync(join(PIN_ROOT, id, node)).sort();

    beforeAll(async () => {
      const { bin, skip: noEngine } = engine();
      if (noEngine) throw new Error(noEngine);
      tb = createTestbed();
      servers = await Promise.all(
        [7001, 7002].map((p) => background(tb.server.netns, "tcp-server", String(p))),
      );
      work = mkdtempSync(join(tmpdir(), "calico-xdp-faults-"));
      xdp = await xdpStack(bin!, work, "faults");
    }, 3_600_000);
    afterAll(async () => {
      try {
        await xdp?.stack.destroy();
      } finally {
        await Promise.all(servers.map((s) => s.stop()));
        tb?.destroy();
        if (work) rmSync(work, { recursive: true, force: true });
      }
    }, 300_000);

    /** Runs `up` with the provider set to kill itself at `step`; the up must fail. */
    async function upKilledAt(step: string): Promise<void> {
      const { envVars } = xdp.stack.workspace as LocalWorkspace;
      envVars.CALICO_XDP_FAULT = step;
      try {
        // The engine loses the provider mid-operation.
        await expect(xdp.stack.up()).rejects.toThrow(
          /XdpProgram filter \*\*(creating|updating) failed\*\*.* error: error reading from server: EOF/,
        );
      } finally {
        delete envVars.CALICO_XDP_FAULT;
      }
    }

    /** The stack converged: our program attached as state says, the policy enforced, one version pinned. */
    async function expectConverged(deniedPort: number, allowedPort: number): Promise<string> {
      const { id, attachments } = await xdp.state();
      expect(attachments).toEqual([expect.objectContaining({ node: node, status: "attached" })]);
      expect(attachedId(tb.server.netns, tb.server.iface)).toBe(attachments![0]!.programId);
      expect(pinsOf(id!)).toEqual([
        `link-${tb.server.iface}`,
        expect.stringMatching(/^v-[0-9a-f]{16}-[0-9a-f]{8}$/),
      ]);
      expect(await connect(deniedPort)).toBe("timeout");
      expect(await connect(allowedPort)).toBe("connected");
      await xdp.stack.refresh();
      expect((await xdp.state()).attachments![0]!.drift).toBeUndefined();
      return id!;
    }

    async function destroyLeavesNothing(id: string): Promise<void> {
      await xdp.stack.destroy();
      expect(attachedId(tb.server.netns, tb.server.iface)).toBeUndefined();
      expect(existsSync(join(PIN_ROOT, id))).toBe(false);
      const anywhere = existsSync(PIN_ROOT)
        ? readdirSync(PIN_ROOT).filter((r) => existsSync(join(PIN_ROOT, r, node)))
        : [];
      expect(anywhere).toEqual([]);
      expect(await connect(7001)).toBe("connected");
    }

    it.each(FAULT_STEPS)("GIVEN a create killed %s WHEN up runs again THEN it converges", async (step) => {
      await configure(7001);
      await upKilledAt(step);
      await xdp.stack.up();
      await destroyLeavesNothing(await expectConverged(7001, 7002));
    });

    it.each(["mid-map-update", "before-state"])(
      "GIVEN a rules update killed %s WHEN up runs again THEN the new rules hold, on the same program",
      async (step) => {
        await configure(7001);
        await xdp.stack.up();
        const before = (await xdp.state()).attachments![0]!.programId;
        await configure(7002);
        await upKilledAt(step);
        await xdp.stack.up();
        const id = await expectConverged(7002, 7001);
        expect(attachedId(tb.server.netns, tb.server.iface)).toBe(before);
        await destroyLeavesNothing(id);
      },
    );
  },
);
