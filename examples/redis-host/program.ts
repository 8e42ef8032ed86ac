import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { HostEndpoint, UntrackedPolicy } from "pulumi-calico-xdp";

export interface RedisNode {
  /** The Calico node name. */
  readonly name: string;
  /** The interface Redis clients reach the node on. */
  readonly interfaceName: string;
  /** The node's address on that interface. */
  readonly ip: string;
  /** A network namespace on this machine standing in for the node (the demo and tests); else this machine. */
  readonly netns?: string;
}

export interface RedisHostConfig {
  readonly nodes: readonly RedisNode[];
  /** Client networks allowed to reach Redis on TCP 6379. */
  readonly clientCidrs: readonly string[];
  /** Attach the XDP filter on the nodes too. */
  readonly xdp: boolean;
  /** Write the Calico objects as YAML into this directory instead of applying them to a cluster. */
  readonly renderYamlTo?: string;
}

/** The redis-host stack: a HostEndpoint per Redis node, one untracked policy, and its XDP filter. */
export function redisHost(config: RedisHostConfig) {
  const opts = {
    provider: config.renderYamlTo
      ? new k8s.Provider("render", { renderYamlToDirectory: config.renderYamlTo })
      : undefined,
  };
  const hostEndpoints = config.nodes.map(
    (node) =>
      new HostEndpoint(
        `${node.name}-${node.interfaceName}`,
        {
          node: node.name,
          interfaceName: node.interfaceName,
          expectedIPs: [node.ip],
          labels: { hep: "redis-host" },
        },
        opts,
      ),
  );
  const interfaces = [...new Set(config.nodes.map((n) => n.interfaceName))];
  if (config.xdp && interfaces.length !== 1) {
    throw new Error(
      `the XDP filter attaches on one interface name on every node; the nodes use ${interfaces.join(", ")}`,
    );
  }
  // Redis accepts many short connections: keep them out of conntrack. Clients may connect to 6379;
  // everyone else's 6379 traffic is dropped, in XDP when enabled. The reply rule is mirrored for us.
  const policy = new UntrackedPolicy(
    "redis-untracked",
    {
      hostEndpoints,
      order: 10,
      ingress: [
        {
          action: "Allow",
          protocol: "TCP",
          source: { nets: [...config.clientCidrs] },
          destination: { ports: [6379] },
        },
        { action: "Deny", protocol: "TCP", destination: { ports: [6379] } },
      ],
      // Proved at preview: the clients keep Redis, and SSH stays open (through the failsafe ports, so
      // the preview fails if someone narrows those while the Deny is in place).
      keepReachable: [
        { protocol: "TCP", port: 22 },
        ...config.clientCidrs.map((from) => ({ from, protocol: "TCP" as const, port: 6379 })),
      ],
      xdp: config.xdp
        ? {
            nodes: config.nodes.map((n) => ({
              name: n.name,
              connection: n.netns ? { type: "netns" as const, netns: n.netns } : { type: "local" as const },
            })),
            interfaceName: interfaces[0]!,
          }
        : undefined,
    },
    opts,
  );
  return {
    policyName: policy.resourceName,
    selector: policy.selector,
    xdpEligibility: policy.xdpEligibility,
    attachments: policy.xdpProgram?.attachments,
  };
}

/** The stack from its Pulumi config (`nodes`, `clientCidrs`, `xdp`, `renderYamlTo`; defaults in Pulumi.yaml). */
export function redisHostFromConfig() {
  const config = new pulumi.Config();
  return redisHost({
    nodes: config.requireObject<RedisNode[]>("nodes"),
    clientCidrs: config.requireObject<string[]>("clientCidrs"),
    xdp: config.requireBoolean("xdp"),
    renderYamlTo: config.get("renderYamlTo") || undefined,
  });
}
