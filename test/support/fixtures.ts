import type { CalicoObject } from "../../sdk/calico/render";
import { felixConfigurationArgsSchema, renderFelixConfigurationArgs } from "../../sdk/felixConfiguration";
import { globalNetworkSetArgsSchema, renderGlobalNetworkSetArgs } from "../../sdk/globalNetworkSet";
import { hostEndpointArgsSchema, renderHostEndpointArgs } from "../../sdk/hostEndpoint";
import { preDnatPolicyArgsSchema, renderPreDnatPolicy } from "../../sdk/preDnatPolicy";
import { renderUntrackedPolicy, untrackedPolicyArgsSchema } from "../../sdk/untrackedPolicy";

/** Policy args exercising every rule field we render. */
export const richPolicyArgs = {
  order: 10,
  ingress: [
    { action: "Deny", source: { selector: "dos-deny-list == 'true'" } },
    {
      action: "Allow",
      protocol: "TCP",
      source: {
        nets: ["198.18.0.0/24", "198.18.1.0/24"],
        notNets: ["198.18.0.128/25"],
        ports: ["1024:65535"],
      },
      destination: { ports: [6379, "redis"], notPorts: [16379] },
      metadata: { annotations: { why: "clients", a: "b" } },
    },
    { action: "Allow", protocol: "ICMP", icmp: { type: 8, code: 0 }, notICMP: { type: 3 } },
    { action: "Allow", protocol: "ICMPv6", ipVersion: 6, source: { nets: ["fd00::/8"] } },
    {
      action: "Log",
      notProtocol: 132,
      source: { namespaceSelector: "global()", notSelector: "role == 'x'" },
    },
    { action: "Deny", protocol: "UDP", destination: { ports: ["53:54"] } },
    { action: "Pass", protocol: 17 },
  ],
  egress: [{ action: "Allow", protocol: "UDP", destination: { ports: [53], nets: ["198.18.0.53/32"] } }],
};

/** Every kind of object the SDK renders, in both API versions. */
export function renderedFixtures(): CalicoObject[] {
  return (["projectcalico.org/v3", "crd.projectcalico.org/v1"] as const).flatMap((apiVersion) => [
    renderHostEndpointArgs(
      "Redis Node 1",
      hostEndpointArgsSchema.parse({
        node: "node-1",
        interfaceName: "eth0",
        expectedIPs: ["198.18.0.1", "fd00::1"],
        labels: { hep: "redis-host", "example.com/tier": "db" },
        ports: [{ name: "redis", port: 6379, protocol: "TCP" }],
        apiVersion,
      }),
    ),
    renderHostEndpointArgs(
      "deny-default",
      hostEndpointArgsSchema.parse({
        node: "n",
        expectedIPs: ["198.18.0.2"],
        labels: { a: "" },
        defaultAction: "Deny",
        apiVersion,
      }),
    ),
    renderUntrackedPolicy(
      "redis.untracked",
      untrackedPolicyArgsSchema.parse({ ...richPolicyArgs, apiVersion }),
      "hep == 'redis-host'",
    ),
    renderPreDnatPolicy(
      "close-nodeports",
      preDnatPolicyArgsSchema.parse({
        order: 20,
        ingress: [
          {
            action: "Allow",
            protocol: "TCP",
            source: { nets: ["198.18.0.0/16"] },
            destination: { ports: ["30000:32767"] },
          },
          { action: "Deny", protocol: "TCP", destination: { ports: ["30000:32767"] } },
          { action: "Deny", protocol: "UDP", destination: { ports: ["30000:32767"] } },
        ],
        apiVersion,
      }),
      "has(kubernetes-host)",
    ),
    renderGlobalNetworkSetArgs(
      "deny-list",
      globalNetworkSetArgsSchema.parse({
        nets: ["198.18.9.0/24", "198.18.10.1", "fd00::1/64"],
        labels: { "dos-deny-list": "true" },
        apiVersion,
      }),
    ),
    renderFelixConfigurationArgs(
      felixConfigurationArgsSchema.parse({
        node: "node-1",
        xdpEnabled: false,
        xdpRefreshInterval: "1m30s",
        genericXDPEnabled: true,
        bpfEnabled: false,
        failsafeInboundHostPorts: [{ protocol: "TCP", port: 22, net: "198.18.0.0/16" }],
        failsafeOutboundHostPorts: [{ protocol: "UDP", port: 53 }],
        apiVersion,
      }),
    ),
  ]);
}
