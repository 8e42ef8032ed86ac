import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it, vi } from "vitest";
import { validateArgs } from "../sdk/args";
import { hostEndpointArgsSchema } from "../sdk/hostEndpoint";
import { selectorForHostEndpoints } from "../sdk/hostEndpointPolicy";
import {
  FelixConfiguration,
  GlobalNetworkSet,
  HostEndpoint,
  PreDnatPolicy,
  UntrackedPolicy,
} from "../sdk/index";
import { installMocks, outputValue, promiseOf, type Registered, settle } from "./support/pulumiMocks";

// One mock monitor for the file: registrations from one test may still resolve while the next runs.
const registered: Registered[] = installMocks();

const byType = (type: string, name: string) => registered.filter((r) => r.type === type && r.name === name);

describe("components under Pulumi mocks", () => {
  it("GIVEN a HostEndpoint WHEN constructed THEN it registers one resource: its Calico CustomResource", async () => {
    const hep = new HostEndpoint("Redis 1/eth0", {
      node: "redis-1",
      interfaceName: "eth0",
      expectedIPs: ["198.18.0.1"],
      labels: { hep: "redis-host" },
    });
    expect(await outputValue(hep.selector)).toBe('hep == "redis-host"');
    expect(await outputValue(hep.resourceName)).toBe("redis-1-eth0");
    await settle();
    expect(registered.filter((r) => r.name === "Redis 1/eth0")).toHaveLength(1);
    const [cr] = byType("kubernetes:projectcalico.org/v3:HostEndpoint", "Redis 1/eth0");
    expect(cr?.inputs).toEqual({
      apiVersion: "projectcalico.org/v3",
      kind: "HostEndpoint",
      metadata: { name: "redis-1-eth0", labels: { hep: "redis-host" } },
      spec: {
        node: "redis-1",
        interfaceName: "eth0",
        expectedIPs: ["198.18.0.1"],
        profiles: ["projectcalico-default-allow"],
      },
    });
  });

  it("GIVEN an invalid plain value WHEN constructing THEN the constructor throws a ResourceError naming the field", () => {
    expect(
      () => new HostEndpoint("bad", { node: "n", interfaceName: "eth0; reboot", labels: { a: "b" } }),
    ).toThrow(/HostEndpoint "bad": interfaceName "eth0; reboot" is not an interface name/);
    try {
      new UntrackedPolicy("bad", { selector: "all()", ingress: [{ action: "Allow", protocol: "tcp" }] });
    } catch (error) {
      expect(pulumi.ResourceError.isInstance(error)).toBe(true);
      expect((error as Error).message).toMatch(
        /ingress\[0\]\.protocol "tcp" is not a protocol: did you mean "TCP"\?/,
      );
    }
    expect.assertions(3);
  });

  it("GIVEN an invalid value inside an Output WHEN it resolves THEN validation fails with the same message", async () => {
    const args = { node: pulumi.output("Node_1"), interfaceName: "eth0", labels: { a: "b" } };
    const valid = validateArgs(hostEndpointArgsSchema, args, 'HostEndpoint "later"', undefined);
    await expect(promiseOf(valid)).rejects.toThrow(
      /^HostEndpoint "later": node "Node_1" .*did you mean "node-1"\?/,
    );
    const fine = validateArgs(
      hostEndpointArgsSchema,
      { ...args, node: pulumi.output("node-1") },
      "x",
      undefined,
    );
    expect((await promiseOf(fine)).node).toBe("node-1");
  });

  it("GIVEN defaultAction Deny WHEN constructed THEN it warns what failsafe ports leave blocked and adds no profile", async () => {
    const warn = vi.spyOn(pulumi.log, "warn").mockImplementation(() => Promise.resolve());
    const hep = new HostEndpoint("strict", {
      node: "n",
      interfaceName: "eth0",
      labels: { a: "b" },
      defaultAction: "Deny",
    });
    const rendered = await outputValue(hep.rendered);
    expect(rendered.spec.profiles).toBeUndefined();
    expect(warn).toHaveBeenCalledWith(
      expect.stringMatching(/failsafe ports do not cover: outbound TCP 443.*inbound TCP 10250/),
      hep,
    );
    warn.mockRestore();
  });

  it("GIVEN a host endpoint without labels WHEN built THEN Calico's objects accept it, its selector matches nothing, and a policy refuses it", async () => {
    const bare = new HostEndpoint("bare-eth0", { node: "bare", interfaceName: "eth0" });
    expect(await outputValue(bare.selector)).toBe("!all()");
    await settle();
    expect(byType("kubernetes:projectcalico.org/v3:HostEndpoint", "bare-eth0")[0]?.inputs.metadata).toEqual({
      name: "bare-eth0",
    });
    // What UntrackedPolicy and PreDnatPolicy build their selector with (a component would fail its preview).
    expect(() =>
      selectorForHostEndpoints(
        [{ selector: "!all()", resourceName: "bare-eth0", labelled: false }],
        'UntrackedPolicy "p"',
      ),
    ).toThrow(
      /UntrackedPolicy "p": hostEndpoints\[0\] \("bare-eth0"\) has no labels, so no selector can apply the policy to it/,
    );
  });

  it("GIVEN Calico's automatic all-interfaces host endpoint WHEN a PreDnatPolicy closes NodePorts on it THEN it renders preDNAT ingress rules", async () => {
    const auto = new HostEndpoint("node-1-auto", {
      node: "node-1",
      interfaceName: "*",
      labels: { "kubernetes-host": "" },
    });
    const policy = new PreDnatPolicy("close-nodeports", {
      hostEndpoints: [auto],
      order: 20,
      ingress: [
        {
          action: "Allow",
          protocol: "TCP",
          source: { nets: ["198.18.0.0/16"] },
          destination: { ports: ["30000:32767"] },
        },
        { action: "Deny", protocol: "TCP", destination: { ports: ["30000:32767"] } },
      ],
    });
    expect(await outputValue(policy.selector)).toBe('kubernetes-host == ""');
    await settle();
    const [gnp] = byType("kubernetes:projectcalico.org/v3:GlobalNetworkPolicy", "close-nodeports");
    expect(gnp?.inputs).toMatchObject({
      metadata: { name: "close-nodeports" },
      spec: {
        order: 20,
        preDNAT: true,
        applyOnForward: true,
        types: ["Ingress"],
        selector: 'kubernetes-host == ""',
      },
    });
    expect(registered.filter((r) => r.name === "close-nodeports")).toHaveLength(1);
  });

  it("GIVEN a PreDnatPolicy with egress rules or no ingress WHEN constructed THEN it says pre-DNAT policy is ingress only", () => {
    expect(
      () =>
        new PreDnatPolicy("egress", {
          selector: "all()",
          ingress: [{ action: "Deny" }],
          egress: [],
        } as never),
    ).toThrow(/PreDnatPolicy "egress": unknown field "egress"/);
    expect(() => new PreDnatPolicy("empty", { selector: "all()", ingress: [] })).toThrow(
      /PreDnatPolicy "empty": ingress is empty: a pre-DNAT policy has only ingress rules/,
    );
  });

  it("GIVEN host endpoints WHEN an UntrackedPolicy selects them THEN its selector ORs their labels and the policy is untracked", async () => {
    const a = new HostEndpoint("a", { node: "a", interfaceName: "eth0", labels: { hep: "redis-host" } });
    const b = new HostEndpoint("b", {
      node: "b",
      interfaceName: "eth1",
      labels: { hep: "redis-host", rack: "r2" },
    });
    const policy = new UntrackedPolicy("redis", {
      hostEndpoints: [a, b],
      ingress: [
        {
          action: "Allow",
          protocol: "TCP",
          source: { nets: ["198.18.1.0/24"] },
          destination: { ports: [6379] },
        },
      ],
    });
    expect(await outputValue(policy.selector)).toBe(
      '(hep == "redis-host" || (hep == "redis-host" && rack == "r2"))',
    );
    expect(await outputValue(policy.xdpEligibility)).toEqual([
      { rule: 0, eligible: false, reason: expect.stringMatching(/action is Allow/) },
    ]);
    await settle();
    const [gnp] = byType("kubernetes:projectcalico.org/v3:GlobalNetworkPolicy", "redis");
    expect(gnp?.inputs).toMatchObject({
      metadata: { name: "redis" },
      spec: { doNotTrack: true, applyOnForward: true, types: ["Ingress", "Egress"] },
    });
  });

  it("GIVEN a HostEndpoint on all interfaces WHEN a policy selects it THEN the selector is refused", () => {
    const endpoints = [
      { selector: "a == 'b'", interfaceName: "eth0", resourceName: "one" },
      { selector: "a == 'c'", interfaceName: "*", resourceName: "all" },
    ];
    expect(() => selectorForHostEndpoints(endpoints, 'UntrackedPolicy "p"')).toThrow(
      /UntrackedPolicy "p": hostEndpoints\[1\] \("all"\) has interfaceName "\*": Calico does not apply untracked policy/,
    );
    expect(selectorForHostEndpoints(endpoints.slice(0, 1), "p")).toBe('a == "b"');
  });

  it("GIVEN both or neither of selector and hostEndpoints WHEN constructing THEN it throws", () => {
    const hep = new HostEndpoint("h", { node: "a", interfaceName: "eth0", labels: { a: "b" } });
    expect(() => new UntrackedPolicy("p1", { ingress: [{ action: "Deny" }] })).toThrow(
      /exactly one of selector or a non-empty hostEndpoints \(got neither\)/,
    );
    expect(
      () =>
        new UntrackedPolicy("p2", { selector: "all()", hostEndpoints: [hep], ingress: [{ action: "Deny" }] }),
    ).toThrow(/got both/);
    expect(() => new UntrackedPolicy("p3", { hostEndpoints: [], ingress: [{ action: "Deny" }] })).toThrow(
      /got no host endpoints/,
    );
  });

  it("GIVEN a kubernetes provider WHEN a Calico object registers THEN it uses it", async () => {
    const provider = new k8s.Provider("cluster", { renderYamlToDirectory: "/tmp/unused" });
    const set = new GlobalNetworkSet(
      "deny",
      { nets: ["198.18.9.0/24"], labels: { "dos-deny-list": "true" } },
      { provider },
    );
    expect(await outputValue(set.selector)).toBe('dos-deny-list == "true"');
    await settle();
    const [cr] = byType("kubernetes:projectcalico.org/v3:GlobalNetworkSet", "deny");
    expect(cr?.provider).toMatch(/::pulumi:providers:kubernetes::cluster::/);
  });

  it("GIVEN apiVersion crd.projectcalico.org/v1 WHEN constructed THEN the backing CRD type is registered", async () => {
    new GlobalNetworkSet("v1set", {
      nets: ["198.18.9.0/24"],
      labels: { a: "b" },
      apiVersion: "crd.projectcalico.org/v1",
    });
    await settle();
    expect(byType("kubernetes:crd.projectcalico.org/v1:GlobalNetworkSet", "v1set")).toHaveLength(1);
    expect(
      () =>
        new GlobalNetworkSet("bad", {
          nets: ["1.1.1.1"],
          labels: { a: "b" },
          apiVersion: pulumi.output("projectcalico.org/v3") as never,
        }),
    ).toThrow(/apiVersion .* must be a plain string/);
  });

  it("GIVEN FelixConfiguration knobs WHEN constructed THEN a server-side-apply patch of node.<name> is registered", async () => {
    new FelixConfiguration("felix", { node: "redis-1", xdpEnabled: false });
    await settle();
    const [patch] = byType("kubernetes:projectcalico.org/v3:FelixConfigurationPatch", "felix");
    expect(patch?.inputs).toMatchObject({ metadata: { name: "node.redis-1" }, spec: { xdpEnabled: false } });
  });
});
