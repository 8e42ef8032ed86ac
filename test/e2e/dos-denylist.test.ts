import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalWorkspace, type Stack } from "@pulumi/pulumi/automation";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dosDenylistFromConfig } from "../../examples/dos-denylist/program";
import { PIN_ROOT } from "../../provider/xdp/node";
import { engineWorkspace, setStackConfig } from "../../scripts/workspace";
import type { NodeAttachment } from "../../sdk/xdp/programArgs";
import { XDP_PROGRAM_TYPE } from "../../sdk/xdpProgram";
import { engine } from "../support/engine";
import { background, inNetns } from "../support/hosts";
import { kernelSkip } from "../support/kernel";
import { createTestbed, type Testbed } from "../support/netns";
import { calicoXdpStatus } from "../support/status";
import { attachedId } from "../support/xdpLink";

const skip = kernelSkip();

describe.skipIf(skip)(
  "examples/dos-denylist through the real engine: a GlobalNetworkSet dropped in XDP",
  () => {
    let tb: Testbed;
    let server: Awaited<ReturnType<typeof background>>;
    let stack: Stack;
    let work: string;
    const configure = (denyNets: string[]) =>
      setStackConfig(stack, {
        nodes: [
          { name: "edge-1", interfaceName: tb.server.iface, ip: tb.server.address, netns: tb.server.netns },
        ],
        denyNets,
        renderYamlTo: join(work, "rendered"),
      });
    const connect = (from: string) =>
      inNetns(tb.client.netns, "tcp-connect", tb.server.address, "8080", from);
    const xdpState = async () => {
      const deployment = (await stack.exportStack()).deployment as {
        resources?: { type: string; id?: string; outputs?: { attachments?: NodeAttachment[] } }[];
      };
      const resource = deployment.resources?.find((r) => r.type === XDP_PROGRAM_TYPE);
      return { id: resource?.id, attachment: resource?.outputs?.attachments?.[0] };
    };
    const status = () =>
      JSON.parse(calicoXdpStatus(tb.server.netns, "--json"))[0] as {
        programId: number;
        rules: { rule: number; packets: string }[];
        verdicts: Record<string, { packets: string }>;
      };

    beforeAll(async () => {
      const { bin, skip: noEngine } = engine();
      if (noEngine) throw new Error(noEngine);
      tb = createTestbed();
      server = await background(tb.server.netns, "tcp-server", "8080");
      work = mkdtempSync(join(tmpdir(), "calico-xdp-dos-"));
      stack = await LocalWorkspace.createOrSelectStack(
        { projectName: "dos-denylist", stackName: "e2e", program: async () => dosDenylistFromConfig() },
        await engineWorkspace(bin!, work, "calico-xdp-tests", "dos-denylist"),
      );
      await configure([`${tb.client.deniedAddress}/32`, "198.18.222.0/24"]);
    }, 3_600_000);
    afterAll(async () => {
      try {
        await stack?.destroy();
      } finally {
        await server?.stop();
        tb?.destroy();
        if (work) rmSync(work, { recursive: true, force: true });
      }
    }, 300_000);

    it("1. up attaches the filter: a listed source is dropped in XDP (rule 0 counts it), an unlisted client is served", async () => {
      const up = await stack.up();
      expect(up.outputs.xdpDecides!.value).toEqual([
        expect.objectContaining({ rule: 0, decides: "members" }),
      ]);
      expect(await connect(tb.client.deniedAddress)).toBe("timeout");
      expect(await connect(tb.client.address)).toBe("connected");
      const seen = status();
      expect(Number(seen.rules.find((r) => r.rule === 0)?.packets)).toBeGreaterThan(0);
      expect(Number(seen.verdicts.deny!.packets)).toBeGreaterThan(0);
      // Everyone else is left to Calico's own rules: undecidable in XDP (open scope), passed.
      expect(Number(seen.verdicts.undecidable!.packets)).toBeGreaterThan(0);
    });

    it("2. enforce false is shadow mode: the listed source is served and counted as shadow-deny on the same program; true drops it again", async () => {
      const before = await xdpState();
      await stack.setConfig("enforce", { value: "false" });
      await stack.up();
      expect((await xdpState()).attachment!.programId).toBe(before.attachment!.programId);
      expect(await connect(tb.client.deniedAddress)).toBe("connected");
      expect(Number(status().verdicts["shadow-deny"]!.packets)).toBeGreaterThan(0);
      await stack.setConfig("enforce", { value: "true" });
      await stack.up();
      expect((await xdpState()).attachment!.programId).toBe(before.attachment!.programId);
      expect(await connect(tb.client.deniedAddress)).toBe("timeout");
    });

    it("3. changing the set's nets is an update of the XdpProgram's maps only: same program, new verdicts", async () => {
      const before = await xdpState();
      await configure(["198.18.222.0/24"]);
      const ops: Record<string, string> = {};
      const preview = await stack.preview({
        onEvent: (event) => {
          const meta = event.resourcePreEvent?.metadata;
          if (meta && meta.op !== "same") ops[meta.type] = meta.op;
        },
      });
      expect(ops[XDP_PROGRAM_TYPE]).toBe("update");
      expect(preview.changeSummary.replace ?? 0).toBe(0);
      await stack.up();
      const after = await xdpState();
      expect(after.attachment!.programId).toBe(before.attachment!.programId);
      expect(after.attachment!.attachedAt).toBe(before.attachment!.attachedAt);
      expect(after.attachment!.mapsSha256).not.toBe(before.attachment!.mapsSha256);
      expect(attachedId(tb.server.netns, tb.server.iface)).toBe(before.attachment!.programId);
      expect(await connect(tb.client.deniedAddress)).toBe("connected");
    });

    it("4. destroy detaches the filter and leaves no pins", async () => {
      const { id } = await xdpState();
      await stack.destroy();
      expect(attachedId(tb.server.netns, tb.server.iface)).toBeUndefined();
      expect(existsSync(join(PIN_ROOT, id!))).toBe(false);
    });
  },
);
