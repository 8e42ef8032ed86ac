import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it, vi } from "vitest";
import {
  FelixConfiguration,
  GlobalNetworkSet,
  HostEndpoint,
  UntrackedPolicy,
  XdpProgram,
} from "../sdk/index";
import { failsafeLists } from "../sdk/xdpProgram";
import { installMocks, outputValue, promiseOf, settle } from "./support/pulumiMocks";

const registered = installMocks();
const XDP_TYPE = "pulumi-nodejs:dynamic/calico-xdp:XdpProgram";

describe("XdpProgram wiring under Pulumi mocks", () => {
  it("GIVEN an UntrackedPolicy with xdp WHEN constructed THEN it registers an XdpProgram child with the validated ingress rules", async () => {
    const hep = new HostEndpoint("redis-1-eth0", {
      node: "redis-1",
      interfaceName: "eth0",
      labels: { hep: "redis-host" },
    });
    const policy = new UntrackedPolicy("redis", {
      hostEndpoints: [hep],
      ingress: [
        {
          action: "Allow",
          protocol: "TCP",
          source: { nets: ["198.18.1.0/24"] },
          destination: { ports: ["6379"] },
        },
        { action: "Deny", protocol: "TCP", destination: { ports: [6379] } },
      ],
      xdp: {
        nodes: [{ name: "redis-1", connection: { type: "netns", netns: "redis-1" } }],
        interfaceName: "eth0",
      },
    });
    expect(policy.xdpProgram).toBeInstanceOf(XdpProgram);
    await outputValue(policy.rendered);
    await settle();
    const [xdp] = registered.filter((r) => r.type === XDP_TYPE && r.name === "redis-xdp");
    expect(xdp?.inputs).toMatchObject({
      nodes: [{ name: "redis-1", connection: { type: "netns", netns: "redis-1" } }],
      interfaceName: "eth0",
      mode: "auto",
      takeOver: false,
      rules: [
        {
          action: "Allow",
          protocol: "TCP",
          source: { nets: ["198.18.1.0/24"] },
          destination: { ports: [6379] },
        },
        { action: "Deny", protocol: "TCP", destination: { ports: [6379] } },
      ],
    });
    expect(xdp?.inputs.failsafeInbound).toHaveLength(9);
  });

  it("GIVEN a DoS deny list as a GlobalNetworkSet WHEN the policy's xdp is given it THEN the XdpProgram gets the set and the policy's endpoints, and xdpDecides says members", async () => {
    const denyList = new GlobalNetworkSet("dos-deny-list", {
      nets: ["198.18.100.0/24", "198.18.101.7"],
      labels: { "dos-deny-list": "true" },
    });
    const edge = new HostEndpoint("edge-1-eth0", {
      node: "edge-1",
      interfaceName: "eth0",
      expectedIPs: ["198.18.0.1"],
      labels: { "apply-dos-mitigation": "true" },
    });
    const policy = new UntrackedPolicy("dos", {
      hostEndpoints: [edge],
      ingress: [
        { action: "Deny", source: { selector: denyList.selector } },
        {
          action: "Allow",
          protocol: "TCP",
          destination: { selector: "apply-dos-mitigation == 'true'", ports: [443] },
        },
      ],
      xdp: {
        nodes: [{ name: "edge-1", connection: { type: "netns", netns: "edge-1" } }],
        interfaceName: "eth0",
        networkSets: [denyList],
        force: true,
      },
    });
    expect(await outputValue(policy.xdpDecides)).toEqual([
      {
        rule: 0,
        decides: "members",
        reason: expect.stringMatching(/decided for the 2 addresses of dos-deny-list/),
      },
      {
        rule: 1,
        decides: "members",
        reason: expect.stringMatching(/decided for the 1 addresses of edge-1-eth0/),
      },
    ]);
    await settle();
    const [xdp] = registered.filter((r) => r.type === XDP_TYPE && r.name === "dos-xdp");
    expect(xdp?.inputs).toMatchObject({
      networkSets: [
        {
          name: "dos-deny-list",
          labels: { "dos-deny-list": "true" },
          nets: ["198.18.100.0/24", "198.18.101.7"],
        },
      ],
      hostEndpoints: [
        { name: "edge-1-eth0", labels: { "apply-dos-mitigation": "true" }, expectedIPs: ["198.18.0.1"] },
      ],
      selectorScope: "open",
      force: true,
    });
    expect(xdp?.inputs.failsafeOutbound).toHaveLength(9);
  });

  it("GIVEN a network set with a bad entry WHEN passed as a plain object THEN construction fails naming the field", () => {
    expect(
      () =>
        new UntrackedPolicy("bad-set", {
          selector: "all()",
          ingress: [{ action: "Deny", source: { selector: "x == 'y'" } }],
          xdp: {
            nodes: [{ name: "n", connection: { type: "local" } }],
            interfaceName: "eth0",
            networkSets: [{ name: "bad", labels: { x: "y" }, nets: ["198.18.0.1", "not-a-net"] }],
          },
        }),
    ).toThrow(
      /UntrackedPolicy "bad-set": xdp\.networkSets\[0\]\.nets\[1\] "not-a-net" in network set "bad" is not an IP address or CIDR/,
    );
  });

  it("GIVEN the provider object WHEN serialized by Pulumi's closure serializer THEN it captures no local module", async () => {
    new XdpProgram("plain", {
      nodes: [{ name: "n", connection: { type: "local" } }],
      interfaceName: "eth0",
      rules: [{ action: "Deny" }],
    });
    await settle();
    const [xdp] = registered.filter((r) => r.type === XDP_TYPE && r.name === "plain");
    const serialized = xdp?.inputs.__provider as string;
    expect(serialized).toMatch(/require\("pulumi-calico-xdp\/provider"\)\.create/);
    expect(serialized.length).toBeLessThan(20_000);
    expect(serialized).not.toMatch(/zod|ZodObject|compileXdpPolicy/);
  });

  it("GIVEN an invalid plain argument WHEN constructing THEN it throws before registering", () => {
    expect(
      () =>
        new XdpProgram("bad", {
          nodes: [{ name: "n", connection: { type: "local" } }],
          interfaceName: "eth0 ; reboot",
          rules: [],
        }),
    ).toThrow(/XdpProgram "bad": interfaceName "eth0 ; reboot" is not an interface name/);
    expect(registered.some((r) => r.name === "bad" && r.type === XDP_TYPE)).toBe(false);
  });

  /** The value of a secret as the mock monitor receives it (Pulumi's secret signature); fails when not secret. */
  const secretValue = (wire: unknown) => {
    expect(wire).toEqual({
      "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",
      value: expect.anything(),
    });
    return (wire as { value: unknown }).value;
  };
  const KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nnot-a-real-key\n-----END OPENSSH PRIVATE KEY-----\n";
  const sshNode = (name: string, privateKey: pulumi.Input<string>, extra: Record<string, unknown> = {}) => ({
    name,
    connection: { type: "ssh" as const, host: "198.19.0.2", privateKey, ...extra },
  });

  it("GIVEN SSH nodes with keys WHEN constructed THEN nodes are registered without them and credentials carry them", async () => {
    new XdpProgram("ssh-split", {
      nodes: [
        sshNode("a", pulumi.secret(KEY), { hostKey: "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU" }),
        sshNode("b", KEY, {
          hostKey: "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU",
          proxy: {
            host: "bastion.example",
            privateKey: KEY,
            privateKeyPassword: "pw",
            hostKey: "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU",
          },
        }),
      ],
      interfaceName: "eth0",
      rules: [{ action: "Deny" }],
    });
    await settle();
    const [xdp] = registered.filter((r) => r.type === XDP_TYPE && r.name === "ssh-split");
    expect(JSON.stringify(xdp?.inputs.nodes)).not.toContain("PRIVATE KEY");
    expect(JSON.stringify(xdp?.inputs.nodes)).not.toContain("pw");
    expect(xdp?.inputs.nodes).toEqual([
      { name: "a", connection: expect.objectContaining({ type: "ssh", host: "198.19.0.2" }) },
      {
        name: "b",
        connection: expect.objectContaining({ proxy: expect.objectContaining({ host: "bastion.example" }) }),
      },
    ]);
    expect(secretValue(xdp?.inputs.credentials)).toEqual({
      a: { privateKey: KEY },
      b: { privateKey: KEY, proxy: { privateKey: KEY, privateKeyPassword: "pw" } },
    });
  });

  it("GIVEN nodes as one secret Output WHEN constructed THEN the nodes stay secret and the keys go to credentials", async () => {
    const hostKey = "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU";
    new XdpProgram("ssh-secret-list", {
      nodes: pulumi.secret([sshNode("a", KEY, { hostKey })]),
      interfaceName: "eth0",
      rules: [{ action: "Deny" }],
    });
    await settle();
    const [xdp] = registered.filter((r) => r.type === XDP_TYPE && r.name === "ssh-secret-list");
    expect(secretValue(xdp?.inputs.nodes)).toEqual([
      { name: "a", connection: { type: "ssh", host: "198.19.0.2", hostKey } },
    ]);
    expect(secretValue(xdp?.inputs.credentials)).toEqual({ a: { privateKey: KEY } });
  });

  it("GIVEN a secret key in an UntrackedPolicy's xdp nodes WHEN rendered THEN the policy is not secret and the child gets the key", async () => {
    const policy = new UntrackedPolicy("ssh-policy", {
      selector: "has(redis)",
      ingress: [{ action: "Deny", protocol: "UDP" }],
      xdp: {
        nodes: [
          sshNode("redis-1", pulumi.secret(KEY), {
            hostKey: "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU",
          }),
        ],
        interfaceName: "eth0",
      },
    });
    expect(await pulumi.isSecret(policy.rendered)).toBe(false);
    await outputValue(policy.rendered);
    await settle();
    const [xdp] = registered.filter((r) => r.type === XDP_TYPE && r.name === "ssh-policy-xdp");
    expect(JSON.stringify(xdp?.inputs.nodes)).not.toContain("PRIVATE KEY");
    expect(secretValue(xdp?.inputs.credentials)).toEqual({ "redis-1": { privateKey: KEY } });
  });

  it("GIVEN an SSH node without hostKey WHEN constructed THEN a warning says the host is not verified", async () => {
    const warn = vi.spyOn(pulumi.log, "warn").mockImplementation(() => Promise.resolve());
    try {
      new XdpProgram("unpinned", {
        nodes: [sshNode("a", KEY)],
        interfaceName: "eth0",
        rules: [{ action: "Deny" }],
      });
      await settle();
      expect(warn).toHaveBeenCalledWith(
        expect.stringMatching(
          /^XdpProgram "unpinned": node a connects to root@198\.19\.0\.2:22 without hostKey, so that host is not verified/,
        ),
        expect.anything(),
      );
      expect(warn.mock.calls.flat().join(" ")).not.toContain("PRIVATE KEY");
    } finally {
      warn.mockRestore();
    }
  });

  it("GIVEN an SSH node with neither key nor agent WHEN constructed THEN it throws with the field path", () => {
    expect(
      () =>
        new XdpProgram("keyless", {
          nodes: [{ name: "a", connection: { type: "ssh", host: "198.19.0.2" } }],
          interfaceName: "eth0",
          rules: [],
        }),
    ).toThrow(
      /nodes\[0\]\.connection\.privateKey is missing: give privateKey \(a Pulumi secret\) or agentSocketPath/,
    );
  });

  it("GIVEN a FelixConfiguration WHEN an XdpProgram takes its failsafe lists THEN they are Felix's, and Calico's defaults where it sets none", async () => {
    const felix = new FelixConfiguration("felix-lists", {
      failsafeInboundHostPorts: [{ protocol: "TCP", port: 2222 }],
    });
    new XdpProgram("from-felix", {
      nodes: [{ name: "n", connection: { type: "local" } }],
      interfaceName: "eth0",
      rules: [{ action: "Deny" }],
      felixConfiguration: felix,
    });
    await settle();
    const [xdp] = registered.filter((r) => r.type === XDP_TYPE && r.name === "from-felix");
    expect(xdp?.inputs.failsafeInbound).toEqual([{ protocol: "TCP", port: 2222 }]);
    expect(xdp?.inputs.failsafeOutbound).toEqual(expect.arrayContaining([{ protocol: "UDP", port: 53 }]));
    expect(xdp?.inputs).not.toHaveProperty("felixConfiguration");
  });

  it("GIVEN a FelixConfiguration and a different explicit list WHEN resolved THEN it fails naming both; the same list in another order is fine", async () => {
    const felix = new FelixConfiguration("felix-conflict", {
      failsafeInboundHostPorts: [
        { protocol: "TCP", port: 22 },
        { protocol: "UDP", port: 68 },
      ],
    });
    const differing = failsafeLists('XdpProgram "x"', {
      felixConfiguration: felix,
      failsafeInbound: [{ protocol: "TCP", port: 22 }],
    });
    await expect(promiseOf(differing.failsafeInbound as pulumi.Output<unknown>)).rejects.toThrow(
      /XdpProgram "x": failsafeInbound \[\{"protocol":"TCP","port":22\}\] differs from FelixConfiguration "default"'s failsafeInboundHostPorts .*give one of them/,
    );
    const same = failsafeLists('XdpProgram "y"', {
      felixConfiguration: felix,
      failsafeInbound: [
        { protocol: "UDP", port: 68 },
        { protocol: "TCP", port: 22 },
      ],
    });
    expect(await promiseOf(same.failsafeInbound as pulumi.Output<unknown>)).toEqual([
      { protocol: "UDP", port: 68 },
      { protocol: "TCP", port: 22 },
    ]);
  });

  it("GIVEN an UntrackedPolicy whose xdp names a FelixConfiguration WHEN constructed THEN its filter keeps Felix's failsafe ports", async () => {
    const hep = new HostEndpoint("edge-felix-eth0", {
      node: "edge-1",
      interfaceName: "eth0",
      labels: { hep: "edge" },
    });
    const felix = new FelixConfiguration("felix-policy", {
      failsafeInboundHostPorts: [{ protocol: "TCP", port: 22, net: "10.0.0.0/8" }],
      failsafeOutboundHostPorts: [],
    });
    new UntrackedPolicy("edge-felix", {
      hostEndpoints: [hep],
      ingress: [{ action: "Deny", protocol: "TCP", destination: { ports: [6379] } }],
      xdp: {
        nodes: [{ name: "edge-1", connection: { type: "local" } }],
        interfaceName: "eth0",
        felixConfiguration: felix,
      },
    });
    await settle();
    const [xdp] = registered.filter((r) => r.type === XDP_TYPE && r.name === "edge-felix-xdp");
    expect(xdp?.inputs.failsafeInbound).toEqual([{ protocol: "TCP", port: 22, net: "10.0.0.0/8" }]);
    expect(xdp?.inputs.failsafeOutbound).toEqual([]);
  });
});
