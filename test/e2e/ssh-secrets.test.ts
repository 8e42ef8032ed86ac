import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { LocalWorkspace, type Stack } from "@pulumi/pulumi/automation";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { engineWorkspace } from "../../scripts/workspace";
import { XdpProgram } from "../../sdk/index";
import type { NodeAttachment } from "../../sdk/xdp/programArgs";
import { engine } from "../support/engine";
import { kernelSkip } from "../support/kernel";
import { createSshFleet, type SshFleet, sshSkip } from "../support/sshd";
import { attachedId } from "../support/xdpLink";

const skip = kernelSkip() ?? sshSkip();
const XDP = "pulumi-nodejs:dynamic/calico-xdp:XdpProgram";

describe.skipIf(skip)("an SSH key through the real Pulumi engine", () => {
  let fleet: SshFleet;
  let stack: Stack;
  let work: string;
  /**
   * Everything the engine, the program and the provider printed with --debug at -v=6. From -v=7 up the
   * engine logs the planner's inputs and every RPC's properties in the clear, the stack's own secret
   * config included (Pulumi's design, outside any provider's reach), so such logs are never shared.
   */
  let logs = "";

  const program = async () => {
    const config = new pulumi.Config();
    const host = fleet.hosts[0]!;
    const xdp = new XdpProgram("edge", {
      nodes: [
        {
          name: "edge-1",
          connection: {
            type: "ssh",
            host: host.address,
            privateKey: config.requireSecret("nodeKey"),
            hostKey: config.require("hostKey"),
            dialErrorLimit: 2,
          },
        },
      ],
      interfaceName: host.iface,
      rules: [{ action: "Deny", protocol: "UDP", destination: { ports: [9] } }],
    });
    return { attachments: xdp.attachments };
  };
  /** Lines of the key's body: any of them in a log or in state would be a leak. */
  const keyLines = () =>
    fleet.clientKey
      .split("\n")
      .filter((line) => line && !line.startsWith("-----"))
      .map((line) => line.slice(0, 40));
  const expectNoKey = (text: string) => {
    for (const line of keyLines()) expect(text).not.toContain(line);
  };
  const verbose = {
    logVerbosity: 6,
    logToStdErr: true,
    debug: true,
    onOutput: (out: string) => {
      logs += out;
    },
  };

  beforeAll(async () => {
    const { bin, skip: noEngine } = engine();
    if (noEngine) throw new Error(noEngine);
    fleet = await createSshFleet(1);
    work = mkdtempSync(join(tmpdir(), "calico-xdp-ssh-e2e-"));
    stack = await LocalWorkspace.createOrSelectStack(
      { projectName: "ssh-edge", stackName: "e2e", program },
      await engineWorkspace(bin!, work, "calico-xdp-tests", "ssh-edge"),
    );
    await stack.setConfig("nodeKey", { value: fleet.clientKey, secret: true });
    await stack.setConfig("hostKey", { value: fleet.hosts[0]!.hostKey });
  }, 3_600_000);

  afterAll(async () => {
    try {
      await stack?.destroy();
    } finally {
      fleet?.destroy();
      if (work) rmSync(work, { recursive: true, force: true });
    }
  }, 300_000);

  it("GIVEN a secret key WHEN up and refresh run with --debug -v=6 THEN the program is attached and the key is in neither the logs nor the state", async () => {
    const result = await stack.up(verbose);
    logs += result.stdout + result.stderr;
    const attachments = result.outputs.attachments!.value as NodeAttachment[];
    expect(attachments).toEqual([expect.objectContaining({ node: "edge-1", status: "attached" })]);
    expect(attachedId(fleet.hosts[0]!.netns, fleet.hosts[0]!.iface)).toBe(attachments[0]!.programId);

    // Refresh reads the node again through the provider and writes state again.
    const refreshed = await stack.refresh({ ...verbose });
    logs += refreshed.stdout + refreshed.stderr;
    expect(refreshed.summary.result).toBe("succeeded");

    // What the file backend stores (checkpoint, backups, history), as a user would back it up.
    // (The Automation API's exportStack decrypts secrets, so the files are read instead.)
    const stateFiles = readdirSync(join(work, "state"), { recursive: true, withFileTypes: true }).filter(
      (e) => e.isFile(),
    );
    expect(stateFiles.length).toBeGreaterThan(0);
    const stored = stateFiles.map((e) => readFileSync(join(e.parentPath, e.name), "utf8")).join("\n");
    expectNoKey(stored);
    expectNoKey(logs);
    expect(logs).toContain("handling default provider request for package pulumi-nodejs"); // engine -v=5 logs
    expect(logs).toContain("RegisterResource RPC finished: resource:edge"); // and the program's debug logs
    const checkpoint = JSON.parse(
      readFileSync(join(work, "state", ".pulumi", "stacks", "ssh-edge", "e2e.json"), "utf8"),
    ) as {
      checkpoint: {
        latest: {
          resources: { type: string; inputs: Record<string, unknown>; outputs: Record<string, unknown> }[];
        };
      };
    };
    const resource = checkpoint.checkpoint.latest.resources.find((r) => r.type === XDP)!;
    // Encrypted in inputs and outputs; the nodes stay readable.
    for (const props of [resource.inputs, resource.outputs]) {
      expect(props.credentials).toMatchObject({ ciphertext: expect.any(String) });
      expect(JSON.stringify(props.nodes)).toContain(fleet.hosts[0]!.address);
    }
  }, 600_000);

  it("GIVEN a rotated key WHEN previewed THEN it is an update of credentials shown as secret, never in the clear", async () => {
    await stack.setConfig("nodeKey", { value: fleet.wrongKey, secret: true });
    try {
      const preview = await stack.preview({ diff: true, onOutput: verbose.onOutput });
      expect(preview.changeSummary.update).toBe(1);
      expect(preview.stdout).toMatch(/credentials/);
      expect(preview.stdout).toMatch(/\[secret\]/);
      expectNoKey(preview.stdout);
      for (const line of fleet.wrongKey.split("\n").filter((l) => l && !l.startsWith("-----")))
        expect(preview.stdout).not.toContain(line.slice(0, 40));
    } finally {
      await stack.setConfig("nodeKey", { value: fleet.clientKey, secret: true });
    }
  }, 600_000);
});
