import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as k8s from "@pulumi/kubernetes";
import { LocalWorkspace } from "@pulumi/pulumi/automation";
import {
  FelixConfiguration,
  HostEndpoint,
  UntrackedPolicy,
  type UntrackedPolicyArgs,
} from "pulumi-calico-xdp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { engineWorkspace } from "../../scripts/workspace";
import { engine } from "../support/engine";

const REDIS_CLIENTS = "198.18.0.0/24";

describe("keepReachable through the real engine", () => {
  let work: string;
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), "calico-xdp-lockout-"));
  });
  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  async function preview(stackName: string, policy: Partial<UntrackedPolicyArgs>): Promise<string> {
    const { bin, skip } = engine();
    if (skip) throw new Error(skip);
    const out = join(work, stackName);
    const stack = await LocalWorkspace.createOrSelectStack(
      {
        projectName: "lockout",
        stackName,
        program: async () => {
          const render = new k8s.Provider("render", { renderYamlToDirectory: out });
          // Felix with its failsafe ports turned off: only the policy's rules keep SSH open.
          const felix = new FelixConfiguration(
            "felix",
            { failsafeInboundHostPorts: [] },
            { provider: render },
          );
          const hep = new HostEndpoint(
            "redis-1-eth0",
            { node: "redis-1", interfaceName: "eth0", labels: { role: "redis" } },
            { provider: render },
          );
          new UntrackedPolicy(
            "redis",
            {
              hostEndpoints: [hep],
              ingress: [
                {
                  action: "Allow",
                  protocol: "TCP",
                  source: { nets: [REDIS_CLIENTS] },
                  destination: { ports: [6379] },
                },
                { action: "Deny" },
              ],
              ...policy,
              xdp: {
                nodes: [{ name: "redis-1", connection: { type: "local" } }],
                interfaceName: "eth0",
                felixConfiguration: felix,
              },
            },
            { provider: render },
          );
        },
      },
      await engineWorkspace(bin!, work, "calico-xdp-tests", "lockout"),
    );
    const result = await stack.preview();
    return result.stdout;
  }

  it("GIVEN Felix's failsafe ports off and a final Deny WHEN previewed THEN preview fails naming SSH and the rule", async () => {
    await expect(preview("locked", {})).rejects.toThrow(
      /UntrackedPolicy "redis": [\s\S]*keepReachable\[0\] \(TCP port 22 from anywhere\) is denied by ingress\[1\] \(Deny\), for example from 0\.0\.0\.0/,
    );
  }, 300_000);

  it("GIVEN the flows that must stay open are the Redis clients WHEN previewed THEN it passes; a wider client range fails on its first outsider", async () => {
    const stdout = await preview("clients", { keepReachable: [{ from: REDIS_CLIENTS, port: 6379 }] });
    expect(stdout).toMatch(/calico-xdp:index:UntrackedPolicy/);
    await expect(
      preview("outsiders", { keepReachable: [{ from: "198.18.0.0/23", port: 6379 }] }),
    ).rejects.toThrow(
      /keepReachable\[0\] \(TCP port 6379 from 198\.18\.0\.0\/23\) is denied by ingress\[1\] \(Deny\), for example from 198\.18\.1\.0/,
    );
  }, 300_000);
});
