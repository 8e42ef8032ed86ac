import { describe, expect, it } from "vitest";
import { HostEndpoint, UntrackedPolicy, XdpProgram } from "../sdk/index";
import { installMocks, outputValue, settle } from "./support/pulumiMocks";

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
      providerVersion: expect.stringMatching(/^\d+\.\d+\.\d+/),
    });
    expect(xdp?.inputs.failsafeInbound).toHaveLength(9);
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
});
