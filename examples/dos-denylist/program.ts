import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { GlobalNetworkSet, HostEndpoint, UntrackedPolicy } from "pulumi-calico-xdp";

export interface EdgeNode {
  /** The Calico node name. */
  readonly name: string;
  /** The interface the attack arrives on. */
  readonly interfaceName: string;
  /** The node's address on that interface. */
  readonly ip: string;
  /** A network namespace on this machine standing in for the node (the demo and tests); else this machine. */
  readonly netns?: string;
}

export interface DosDenylistConfig {
  readonly nodes: readonly EdgeNode[];
  /** Source addresses and networks to drop before conntrack. */
  readonly denyNets: readonly string[];
  /** Drop them in XDP too, in the NIC driver. */
  readonly xdp: boolean;
  /** `false`: XDP in shadow mode, counting what it would drop (Calico's iptables rules still deny). */
  readonly enforce: boolean;
  /** Write the Calico objects as YAML into this directory instead of applying them to a cluster. */
  readonly renderYamlTo?: string;
}

/**
 * Calico's "defend against DoS attacks" guide: a GlobalNetworkSet of attackers and an untracked policy
 * whose first ingress rule denies it, on the host endpoints labelled for mitigation. XDP drops the set's
 * members in the driver; every other packet goes on to Calico's rules.
 */
export function dosDenylist(config: DosDenylistConfig) {
  const opts = {
    provider: config.renderYamlTo
      ? new k8s.Provider("render", { renderYamlToDirectory: config.renderYamlTo })
      : undefined,
  };
  const denyList = new GlobalNetworkSet(
    "dos-deny-list",
    { nets: [...config.denyNets], labels: { "dos-deny-list": "true" } },
    opts,
  );
  const hostEndpoints = config.nodes.map(
    (node) =>
      new HostEndpoint(
        `${node.name}-${node.interfaceName}`,
        {
          node: node.name,
          interfaceName: node.interfaceName,
          expectedIPs: [node.ip],
          labels: { "apply-dos-mitigation": "true" },
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
  const policy = new UntrackedPolicy(
    "dos-mitigation",
    {
      hostEndpoints,
      ingress: [{ action: "Deny", source: { selector: denyList.selector } }],
      xdp: config.xdp
        ? {
            nodes: config.nodes.map((n) => ({
              name: n.name,
              connection: n.netns ? { type: "netns" as const, netns: n.netns } : { type: "local" as const },
            })),
            interfaceName: interfaces[0]!,
            networkSets: [denyList],
            enforce: config.enforce,
          }
        : undefined,
    },
    opts,
  );
  return {
    policyName: policy.resourceName,
    xdpEligibility: policy.xdpEligibility,
    xdpDecides: policy.xdpDecides,
    attachments: policy.xdpProgram?.attachments,
  };
}

/** The stack from its Pulumi config (`nodes`, `denyNets`, `xdp`, `renderYamlTo`; defaults in Pulumi.yaml). */
export function dosDenylistFromConfig() {
  const config = new pulumi.Config();
  return dosDenylist({
    nodes: config.requireObject<EdgeNode[]>("nodes"),
    denyNets: config.requireObject<string[]>("denyNets"),
    xdp: config.requireBoolean("xdp"),
    enforce: config.requireBoolean("enforce"),
    renderYamlTo: config.get("renderYamlTo") || undefined,
  });
}
