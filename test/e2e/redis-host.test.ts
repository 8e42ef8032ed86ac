import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalWorkspace, type Stack } from "@pulumi/pulumi/automation";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { redisHostFromConfig } from "../../examples/redis-host/program";
import { PIN_ROOT } from "../../provider/xdp/node";
import { startRedis } from "../../scripts/redis";
import { engineWorkspace, setStackConfig } from "../../scripts/workspace";
import type { NodeAttachment } from "../../sdk/xdp/programArgs";
import { type ApiServer, apiServerBinary, startApiServer } from "../support/apiserver";
import { engine } from "../support/engine";
import { inNetns } from "../support/hosts";
import { kernelSkip } from "../support/kernel";
import { createTestbed, type Testbed } from "../support/netns";
import { REPO_ROOT } from "../support/paths";
import { redisPing } from "../support/redis";
import { calicoXdpStatus } from "../support/status";
import { attachedId, detachFromOutside } from "../support/xdpLink";

const skip = kernelSkip(["clang", "bpftool", "ip", "redis-server", "redis-cli"]);
const XDP = "pulumi-nodejs:dynamic/calico-xdp:XdpProgram";

describe.skipIf(skip)(
  "examples/redis-host through the real Pulumi engine (Automation API, file backend)",
  () => {
    let tb: Testbed;
    let redis: { stop: () => void };
    let stack: Stack;
    let work: string;
    let api: ApiServer;
    const policyPath = "/apis/projectcalico.org/v3/globalnetworkpolicies/redis-untracked";
    const hostEndpointPath = () => `/apis/projectcalico.org/v3/hostendpoints/redis-1-${tb.server.iface}`;

    const configure = (clientCidrs: string[]) =>
      setStackConfig(stack, {
        nodes: [
          { name: "redis-1", interfaceName: tb.server.iface, ip: tb.server.address, netns: tb.server.netns },
        ],
        clientCidrs,
      });
    const xdpState = async () => {
      const state = (await stack.exportStack()).deployment as {
        resources?: { type: string; outputs?: { attachments?: NodeAttachment[] } }[];
      };
      return state.resources?.find((r) => r.type === XDP)?.outputs?.attachments?.[0];
    };
    const deniedConnect = () =>
      inNetns(tb.client.netns, "tcp-connect", tb.server.address, "6379", tb.client.deniedAddress);

    beforeAll(async () => {
      const { bin, skip: noEngine } = engine();
      if (noEngine) throw new Error(noEngine);
      const { bin: apiServerBin, skip: noApiServer } = apiServerBinary();
      if (noApiServer) throw new Error(noApiServer);
      api = await startApiServer(apiServerBin!);
      tb = createTestbed();
      redis = await startRedis(tb.server.netns);
      work = mkdtempSync(join(tmpdir(), "calico-xdp-e2e-"));
      const workspace = await engineWorkspace(bin!, work, "calico-xdp-tests");
      stack = await LocalWorkspace.createOrSelectStack(
        { projectName: "redis-host", stackName: "e2e", program: async () => redisHostFromConfig() },
        // The Kubernetes provider finds the API server as kubectl would.
        { ...workspace, envVars: { ...workspace.envVars, KUBECONFIG: api.kubeconfig } },
      );
      await configure([`${tb.client.address}/32`]);
    }, 3_600_000);

    afterAll(async () => {
      try {
        await stack?.destroy();
      } finally {
        redis?.stop();
        tb?.destroy();
        api?.stop();
        if (work) rmSync(work, { recursive: true, force: true });
      }
    }, 300_000);

    it("1. preview plans the HostEndpoint, UntrackedPolicy and XdpProgram and touches no node", async () => {
      const preview = await stack.preview();
      expect(preview.changeSummary.create).toBeGreaterThanOrEqual(5);
      expect(preview.stdout).toMatch(/kubernetes:projectcalico.org\/v3:HostEndpoint/);
      expect(preview.stdout).toMatch(/calico-xdp:index:UntrackedPolicy/);
      expect(preview.stdout).toMatch(/pulumi-nodejs:dynamic\/calico-xdp:XdpProgram/);
      expect(attachedId(tb.server.netns, tb.server.iface)).toBeUndefined();
      expect((await api.get(policyPath))[0]).toBe(404);
    });

    it("2. up creates the Calico objects in the API server and attaches the filter: the allowed client PINGs, a denied source cannot connect", async () => {
      const up = await stack.up();
      expect(up.summary.result).toBe("succeeded");
      const [policyStatus, policy] = await api.get(policyPath);
      expect(policyStatus).toBe(200);
      expect(policy.spec).toMatchObject({
        doNotTrack: true,
        applyOnForward: true,
        selector: expect.stringContaining("redis-host"),
        ingress: [
          expect.objectContaining({ source: { nets: [`${tb.client.address}/32`] } }),
          expect.anything(),
        ],
      });
      // Applied with server-side apply.
      expect(JSON.stringify((policy.metadata as { managedFields: unknown }).managedFields)).toMatch(
        /"operation":"Apply"/,
      );
      const [hepStatus, hep] = await api.get(hostEndpointPath());
      expect(hepStatus).toBe(200);
      expect(hep.spec).toMatchObject({
        node: "redis-1",
        interfaceName: tb.server.iface,
        expectedIPs: [tb.server.address],
      });
      const attachment = (up.outputs.attachments!.value as NodeAttachment[])[0]!;
      expect(attachment).toMatchObject({ status: "attached", ruleCount: 2 });
      expect(attachedId(tb.server.netns, tb.server.iface)).toBe(attachment.programId);
      expect(await redisPing(tb.client.netns, tb.server.address)).toBe("PONG");
      expect(await deniedConnect()).toBe("timeout");
      const status = JSON.parse(calicoXdpStatus(tb.server.netns, "--json"));
      const rules = Object.fromEntries(
        (status[0].rules as { rule: number; packets: string }[]).map((r) => [r.rule, Number(r.packets)]),
      );
      expect(rules[0]).toBeGreaterThan(0);
      expect(rules[1]).toBeGreaterThan(0);
    });

    it("3. a second up with no change changes nothing", async () => {
      const up = await stack.up();
      expect(up.summary.resourceChanges).not.toHaveProperty("update");
      expect(up.summary.resourceChanges).not.toHaveProperty("create");
      expect(up.summary.resourceChanges).not.toHaveProperty("replace");
    });

    it("4. changing an allowed CIDR is an update of the XdpProgram and the policy, applied in place", async () => {
      const before = attachedId(tb.server.netns, tb.server.iface);
      await configure([`${tb.client.address}/32`, `${tb.client.deniedAddress}/32`]);
      const ops: Record<string, string> = {};
      const events: string[] = [];
      const preview = await stack.preview({
        diff: true,
        onEvent: (event) => {
          events.push(JSON.stringify(event));
          const meta = event.resourcePreEvent?.metadata;
          if (meta && meta.op !== "same") ops[meta.type] = meta.op;
        },
      });
      // The pull-request comment from this real preview's event log.
      const comment = execFileSync(
        process.execPath,
        [join(REPO_ROOT, "dist", "provider", "cli.js"), "preview-comment"],
        {
          input: events.join("\n"),
          encoding: "utf8",
        },
      );
      expect(comment).toMatch(/^### Pulumi preview: 2 to update\n/);
      expect(comment).toMatch(
        new RegExp(
          `\\| \`redis-untracked-xdp\` \\| update \\| \`redis-1\` \\(netns \`${tb.server.netns}\`\\) \\| \`${tb.server.iface}\` \\| 2 \\| \`[0-9a-f]{12}\` \\| \`[0-9a-f]{12}\` → \`[0-9a-f]{12}\` \\| \`redis-1\`: (native|generic) \\|`,
        ),
      );
      expect(comment).toMatch(/\| `GlobalNetworkPolicy` \| `redis-untracked` \| update/);
      expect(ops[XDP]).toBe("update");
      expect(ops["kubernetes:projectcalico.org/v3:GlobalNetworkPolicy"]).toBe("update");
      expect(preview.changeSummary.replace ?? 0).toBe(0);
      expect(preview.stdout).toMatch(/mapsSha256/);
      await stack.up();
      expect(attachedId(tb.server.netns, tb.server.iface)).toBe(before);
      expect(await deniedConnect()).toBe("connected");
      const [, policy] = await api.get(policyPath);
      expect(
        (policy.spec as { ingress: { source?: { nets?: string[] } }[] }).ingress[0]!.source!.nets,
      ).toEqual([`${tb.client.address}/32`, `${tb.client.deniedAddress}/32`]);
    });

    it("5. a program detached from outside shows as drift on refresh, and up re-attaches", async () => {
      detachFromOutside(tb.server.netns, tb.server.iface);
      await stack.refresh();
      expect(await xdpState()).toMatchObject({
        status: "detached",
        drift: `no XDP program on ${tb.server.iface}`,
      });
      await stack.up();
      const attachment = await xdpState();
      expect(attachment).toMatchObject({ status: "attached" });
      expect(attachedId(tb.server.netns, tb.server.iface)).toBe(attachment!.programId);
    });

    it("7. an invalid CIDR in the stack config fails preview with the field path and changes nothing", async () => {
      const before = attachedId(tb.server.netns, tb.server.iface);
      await configure(["198.18.0.1/24"]);
      await expect(stack.preview()).rejects.toThrow(
        /ingress\[0\]\.source\.nets\[0\] "198\.18\.0\.1\/24" is not a network address: did you mean "198\.18\.0\.0\/24"\?/,
      );
      expect(attachedId(tb.server.netns, tb.server.iface)).toBe(before);
      await configure([`${tb.client.address}/32`]);
    });

    it("6. destroy removes the Calico objects and detaches the program, leaving no pins", async () => {
      const deployment = (await stack.exportStack()).deployment as {
        resources?: { type: string; id?: string }[];
      };
      const id = deployment.resources?.find((r) => r.type === XDP)?.id;
      expect(id).toMatch(/^cx-[0-9a-f]{16}$/);
      const destroyed = await stack.destroy();
      expect(destroyed.summary.result).toBe("succeeded");
      expect(attachedId(tb.server.netns, tb.server.iface)).toBeUndefined();
      expect((await api.get(policyPath))[0]).toBe(404);
      expect((await api.get(hostEndpointPath()))[0]).toBe(404);
      expect(existsSync(join(PIN_ROOT, id!))).toBe(false);
      expect(await redisPing(tb.client.netns, tb.server.address)).toBe("PONG");
    });
  },
);
