import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { LocalWorkspace } from "@pulumi/pulumi/automation";
import { FelixConfiguration, GlobalNetworkSet, HostEndpoint } from "pulumi-calico-xdp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { engineWorkspace } from "../../scripts/workspace";
import { engine } from "../support/engine";

/** How 0.1.0 registered a Calico object: a component with the object as its child of the same name. */
class FormerComponent extends pulumi.ComponentResource {
  constructor(type: string, name: string, object: Calico, opts: pulumi.ComponentResourceOptions) {
    super(type, name, {}, opts);
    const { patch, ...args } = object;
    if (patch) new k8s.apiextensions.CustomResourcePatch(name, args, { parent: this });
    else new k8s.apiextensions.CustomResource(name, args, { parent: this });
    this.registerOutputs({});
  }
}

interface Calico {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { name: string; labels?: Record<string, string> };
  readonly spec: Record<string, unknown>;
  readonly patch?: true;
}

const v3 = "projectcalico.org/v3";
const FORMER: readonly (readonly [string, string, Calico])[] = [
  [
    "calico-xdp:index:HostEndpoint",
    "redis-1-eth0",
    {
      apiVersion: v3,
      kind: "HostEndpoint",
      metadata: { name: "redis-1-eth0", labels: { hep: "redis-host" } },
      spec: { node: "redis-1", interfaceName: "eth0", profiles: ["projectcalico-default-allow"] },
    },
  ],
  [
    "calico-xdp:index:GlobalNetworkSet",
    "deny",
    {
      apiVersion: v3,
      kind: "GlobalNetworkSet",
      metadata: { name: "deny", labels: { "dos-deny-list": "true" } },
      spec: { nets: ["198.18.9.0/24"] },
    },
  ],
  [
    "calico-xdp:index:FelixConfiguration",
    "felix",
    {
      apiVersion: v3,
      kind: "FelixConfiguration",
      metadata: { name: "default" },
      spec: { xdpEnabled: false },
      patch: true,
    },
  ],
];

/** The first endpoint's object for node redis-2. */
const rackEndpoint = (object: Calico): Calico => ({
  ...object,
  metadata: { ...object.metadata, name: "redis-2-eth0" },
  spec: { ...object.spec, node: "redis-2" },
});

describe("upgrading a stack from 0.1.0's component-wrapped Calico objects", () => {
  let work: string;
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), "calico-xdp-upgrade-"));
  });
  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("GIVEN a stack made by 0.1.0 WHEN the program uses this release THEN every Calico object is kept (aliased) and only the empty components are deleted", async () => {
    const { bin, skip } = engine();
    if (skip) throw new Error(skip);
    let former = true;
    const stack = await LocalWorkspace.createOrSelectStack(
      {
        projectName: "upgrade",
        stackName: "upgrade",
        program: async () => {
          const provider = new k8s.Provider("render", { renderYamlToDirectory: join(work, "yaml") });
          // A user's own component around one endpoint: the alias must keep its parent too.
          const rack = new pulumi.ComponentResource("example:index:Rack", "rack-1", {}, { provider });
          if (former) {
            for (const [type, name, object] of FORMER) new FormerComponent(type, name, object, { provider });
            const [type, , object] = FORMER[0]!;
            new FormerComponent(type, "redis-2-eth0", rackEndpoint(object), { parent: rack });
            return;
          }
          new HostEndpoint(
            "redis-2-eth0",
            { node: "redis-2", interfaceName: "eth0", labels: { hep: "redis-host" } },
            { parent: rack },
          );
          new HostEndpoint(
            "redis-1-eth0",
            { node: "redis-1", interfaceName: "eth0", labels: { hep: "redis-host" } },
            { provider },
          );
          new GlobalNetworkSet(
            "deny",
            { nets: ["198.18.9.0/24"], labels: { "dos-deny-list": "true" } },
            { provider },
          );
          new FelixConfiguration("felix", { xdpEnabled: false }, { provider });
        },
      },
      await engineWorkspace(bin!, work, "calico-xdp-tests", "upgrade"),
    );
    expect((await stack.up()).summary.result).toBe("succeeded");

    former = false;
    const preview = await stack.preview({ diff: true });
    // The stack, the provider, the rack and the four objects stay; nothing is created, updated or replaced.
    expect(preview.changeSummary).toEqual({ same: 7, delete: 4 });
    const up = await stack.up();
    expect(up.summary.resourceChanges).toEqual({ same: 7, delete: 4 });
    const urns = (await stack.exportStack()).deployment.resources.map((r: { urn: string }) => r.urn);
    expect(urns.filter((u: string) => u.includes("calico-xdp:index:"))).toEqual([]);
    expect(urns).toContain(
      "urn:pulumi:upgrade::upgrade::kubernetes:projectcalico.org/v3:HostEndpoint::redis-1-eth0",
    );
    expect(urns).toContain(
      "urn:pulumi:upgrade::upgrade::kubernetes:projectcalico.org/v3:FelixConfigurationPatch::felix",
    );
    expect(urns).toContain(
      "urn:pulumi:upgrade::upgrade::example:index:Rack$kubernetes:projectcalico.org/v3:HostEndpoint::redis-2-eth0",
    );
  }, 300_000);
});
