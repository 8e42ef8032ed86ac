import * as pulumi from "@pulumi/pulumi";
import { HostEndpoint, UntrackedPolicy } from "pulumi-calico-xdp";

interface RedisNode {
  name: string;
  interfaceName: string;
  ip: string;
}

const config = new pulumi.Config();
const nodes = config.getObject<RedisNode[]>("nodes") ?? [
  { name: "redis-1", interfaceName: "eth0", ip: "198.18.0.1" },
  { name: "redis-2", interfaceName: "eth0", ip: "198.18.0.2" },
];
const clientCidrs = config.getObject<string[]>("clientCidrs") ?? ["198.18.1.0/24"];

// One HostEndpoint per Redis node's interface, all labelled so one policy selects them.
const hostEndpoints = nodes.map(
  (node) =>
    new HostEndpoint(`${node.name}-${node.interfaceName}`, {
      node: node.name,
      interfaceName: node.interfaceName,
      expectedIPs: [node.ip],
      labels: { hep: "redis-host" },
    }),
);

// Redis accepts many short connections: keep them out of conntrack. Clients may connect to 6379;
// everyone else's 6379 traffic is dropped. The reply rule (egress from 6379) is mirrored for us.
const policy = new UntrackedPolicy("redis-untracked", {
  hostEndpoints,
  order: 10,
  ingress: [
    { action: "Allow", protocol: "TCP", source: { nets: clientCidrs }, destination: { ports: [6379] } },
    { action: "Deny", protocol: "TCP", destination: { ports: [6379] } },
  ],
});

export const policyName = policy.resourceName;
export const selector = policy.selector;
export const xdpEligibility = policy.xdpEligibility;
