import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PIN_ROOT } from "../../provider/xdp/node";
import type { NodeAttachment } from "../../sdk/xdp/programArgs";
import { engine } from "../support/engine";
import { kernelSkip } from "../support/kernel";
import { attachedId } from "../support/xdpLink";
import { type StackNode, type XdpStack, xdpStack } from "../support/xdpStack";

const skip = kernelSkip();
const RULES = [{ action: "Deny", protocol: "UDP", destination: { ports: [9] } }];

describe.skipIf(skip)(
  "changing the nodes or the interface is an update that touches only what changed",
  () => {
    const tag = randomBytes(3).toString("hex");
    const nodes: StackNode[] = ["a", "b", "c"].map((n) => ({
      name: `nodes-${tag}-${n}`,
      netns: `cxn-${tag}-${n}`,
    }));
    const [first, second] = [`cxn${tag}0`, `cxn${tag}1`];
    let work: string;
    let xdp: XdpStack;
    const byNode = async () =>
      Object.fromEntries(((await xdp.state()).attachments ?? []).map((a) => [a.node, a])) as Record<
        string,
        NodeAttachment
      >;
    /** What an up did to the XdpProgram, from the engine's own summary. */
    const upOps = async () => (await xdp.stack.up()).summary.resourceChanges ?? {};

    beforeAll(async () => {
      const { bin, skip: noEngine } = engine();
      if (noEngine) throw new Error(noEngine);
      for (const { netns } of nodes) {
        execFileSync("ip", ["netns", "add", netns]);
        for (const iface of [first, second]) {
          execFileSync("ip", [
            "-n",
            netns,
            "link",
            "add",
            iface,
            "type",
            "veth",
            "peer",
            "name",
            `${iface}p`,
          ]);
          execFileSync("ip", ["-n", netns, "link", "set", iface, "up"]);
        }
      }
      work = mkdtempSync(join(tmpdir(), "calico-xdp-nodes-"));
      xdp = await xdpStack(bin!, work, "nodes");
    }, 3_600_000);
    afterAll(async () => {
      try {
        await xdp?.stack.destroy();
      } finally {
        for (const { netns } of nodes) execFileSync("ip", ["netns", "del", netns], { stdio: "ignore" });
        if (work) rmSync(work, { recursive: true, force: true });
      }
    }, 300_000);

    it("GIVEN two nodes WHEN a third is added THEN it is attached and the others keep their program and attachedAt", async () => {
      await xdp.configure(nodes.slice(0, 2), first, RULES);
      await xdp.stack.up();
      const before = await byNode();
      await xdp.configure(nodes, first, RULES);
      expect(await upOps()).toMatchObject({ update: 1 });
      const after = await byNode();
      for (const n of nodes.slice(0, 2)) expect(after[n.name]).toEqual(before[n.name]);
      expect(after[nodes[2]!.name]).toMatchObject({ status: "attached" });
      for (const n of nodes) expect(attachedId(n.netns, first)).toBe(after[n.name]!.programId);
    });

    it("GIVEN three nodes WHEN one is removed THEN it is detached and unpinned, and the others are untouched", async () => {
      const before = await byNode();
      const removed = nodes[1]!;
      const { id } = await xdp.state();
      await xdp.configure([nodes[0]!, nodes[2]!], first, RULES);
      expect(await upOps()).toMatchObject({ update: 1 });
      const after = await byNode();
      expect(Object.keys(after).sort()).toEqual([nodes[0]!.name, nodes[2]!.name].sort());
      expect(after[nodes[0]!.name]).toEqual(before[nodes[0]!.name]);
      expect(after[nodes[2]!.name]).toEqual(before[nodes[2]!.name]);
      expect(attachedId(removed.netns, first)).toBeUndefined();
      expect(existsSync(join(PIN_ROOT, id!, removed.name))).toBe(false);
    });

    it("GIVEN attached nodes WHEN the interface changes THEN the same program moves to the new interface and leaves the old", async () => {
      const kept = [nodes[0]!, nodes[2]!];
      const before = await byNode();
      await xdp.configure(kept, second, RULES);
      expect(await upOps()).toMatchObject({ update: 1 });
      const after = await byNode();
      for (const n of kept) {
        expect(after[n.name]!.programId).toBe(before[n.name]!.programId);
        expect(attachedId(n.netns, second)).toBe(after[n.name]!.programId);
        expect(attachedId(n.netns, first)).toBeUndefined();
      }
    });

    it("GIVEN the stack WHEN destroyed THEN no node keeps a program or a pin", async () => {
      await xdp.stack.destroy();
      for (const n of nodes) {
        for (const iface of [first, second]) expect(attachedId(n.netns, iface)).toBeUndefined();
        const left = existsSync(PIN_ROOT)
          ? readdirSync(PIN_ROOT).filter((r) => existsSync(join(PIN_ROOT, r, n.name)))
          : [];
        expect(left).toEqual([]);
      }
    });
  },
);
