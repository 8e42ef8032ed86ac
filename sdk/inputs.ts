/**
 * The documented shapes that several components take (rules, failsafe ports, nodes and their
 * connections, the objects an XDP filter's selectors can match). Each is checked against the schema that
 * validates it, so a field cannot be documented here and refused there, or the other way round.
 */
import type * as pulumi from "@pulumi/pulumi";
import type { z } from "zod";
import type { ArgsMatch } from "./args";
import type { reachableFlowSchema } from "./calico/reachability";
import type { protoPortSchema } from "./calico/resources";
import type { ingressRuleSchema } from "./calico/rule";
import type { xdpHostEndpointSchema, xdpNetworkSetSchema } from "./xdp/policy";
import type { xdpNodeSchema } from "./xdp/programArgs";

/** An ICMP type and code to match. */
export interface IcmpArgs {
  /**
   * The ICMP type, 0..254.
   * @default - any type
   */
  readonly type?: pulumi.Input<number>;
  /**
   * The ICMP code, 0..255; needs `type`.
   * @default - any code
   */
  readonly code?: pulumi.Input<number>;
}

/** Workloads matched by their Kubernetes service account (Calico's ServiceAccountMatch). */
export interface ServiceAccountsArgs {
  /**
   * Service account names.
   * @default - any name
   */
  readonly names?: pulumi.Input<pulumi.Input<string>[]>;
  /**
   * A selector over the service accounts' labels.
   * @default - any labels
   */
  readonly selector?: pulumi.Input<string>;
}

/** The endpoints of a Kubernetes Service (Calico's ServiceMatch). */
export interface ServiceArgs {
  /** The Service's name. */
  readonly name: pulumi.Input<string>;
  /**
   * The Service's namespace; required in a GlobalNetworkPolicy, where names are not global.
   * @default - none
   */
  readonly namespace?: pulumi.Input<string>;
}

/**
 * One side of a rule (Calico's EntityRule): every matcher given must match. Lists must not be empty
 * (Calico reads `[]` as no restriction, the opposite of what it says): omit a field to match anything.
 */
export interface EntityRuleArgs {
  /**
   * Match packets whose address is in one of these CIDRs (explicit prefix, host bits clear).
   * @default - any address
   */
  readonly nets?: pulumi.Input<pulumi.Input<string>[]>;
  /**
   * Match packets whose address is in none of these CIDRs.
   * @default - no address excluded
   */
  readonly notNets?: pulumi.Input<pulumi.Input<string>[]>;
  /**
   * Match endpoints (and GlobalNetworkSets) selected by this Calico selector.
   * @default - no selector
   */
  readonly selector?: pulumi.Input<string>;
  /**
   * Match endpoints not selected by this selector.
   * @default - no endpoint excluded
   */
  readonly notSelector?: pulumi.Input<string>;
  /**
   * Match endpoints in namespaces selected by this selector (`global()` for non-namespaced ones).
   * @default - no namespace selector
   */
  readonly namespaceSelector?: pulumi.Input<string>;
  /**
   * Ports: numbers, `"a:b"` ranges, or named ports; needs a protocol with ports unless all are named.
   * @default - any port
   */
  readonly ports?: pulumi.Input<pulumi.Input<number | string>[]>;
  /**
   * Ports not to match.
   * @default - no port excluded
   */
  readonly notPorts?: pulumi.Input<pulumi.Input<number | string>[]>;
  /**
   * Match workloads running as these service accounts.
   * @default - any service account
   */
  readonly serviceAccounts?: pulumi.Input<ServiceAccountsArgs>;
  /**
   * Match the endpoints of a Kubernetes Service; excludes every other matcher but ports on a source.
   * @default - no service
   */
  readonly services?: pulumi.Input<ServiceArgs>;
}

/** Free-form data kept on a rule. */
export interface RuleMetadataArgs {
  /**
   * Annotations: keys are qualified names, 256 kB in all.
   * @default - none
   */
  readonly annotations?: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

/** A Calico policy rule, in Calico's shape and spelling (exact case), validated as Calico's validator does. */
export interface RuleArgs {
  /** What to do with a matching packet: `Allow`, `Deny`, `Log` or `Pass`. */
  readonly action: pulumi.Input<"Allow" | "Deny" | "Log" | "Pass">;
  /**
   * `"TCP"`, `"UDP"`, `"ICMP"`, `"ICMPv6"`, `"SCTP"`, `"UDPLite"` or a protocol number 1..255.
   * @default - any protocol
   */
  readonly protocol?: pulumi.Input<string | number>;
  /**
   * Match packets whose protocol is not this one.
   * @default - no protocol excluded
   */
  readonly notProtocol?: pulumi.Input<string | number>;
  /**
   * Restrict the rule to IPv4 (4) or IPv6 (6).
   * @default - the family of the rule's nets, else both
   */
  readonly ipVersion?: pulumi.Input<4 | 6>;
  /**
   * ICMP type/code to match; needs protocol `"ICMP"` or `"ICMPv6"`.
   * @default - any
   */
  readonly icmp?: pulumi.Input<IcmpArgs>;
  /**
   * ICMP type/code not to match; needs protocol `"ICMP"` or `"ICMPv6"`.
   * @default - none excluded
   */
  readonly notICMP?: pulumi.Input<IcmpArgs>;
  /**
   * Matchers on the packet's source.
   * @default - any source
   */
  readonly source?: pulumi.Input<EntityRuleArgs>;
  /**
   * Matchers on the packet's destination.
   * @default - any destination
   */
  readonly destination?: pulumi.Input<EntityRuleArgs>;
  /**
   * Annotations kept on the rule.
   * @default - none
   */
  readonly metadata?: pulumi.Input<RuleMetadataArgs>;
  /**
   * Refused: HTTP matches are Calico's application layer policy, enforced by a proxy beside workloads;
   * host endpoint policy has none, so the rule would not do what it says.
   * @default - none (the only value accepted)
   */
  readonly http?: unknown;
}
true satisfies ArgsMatch<RuleArgs, z.input<typeof ingressRuleSchema>>;

/** A failsafe port: a protocol and port kept open whatever the policy. */
export interface ProtoPortArgs {
  /**
   * `"TCP"`, `"UDP"` or `"SCTP"`, in any case (rendered in upper case, as Felix reads any).
   * @default - "TCP"
   */
  readonly protocol?: pulumi.Input<string>;
  /** The port number, 0..65535. */
  readonly port: pulumi.Input<number>;
  /**
   * Only traffic from (inbound) or to (outbound) this CIDR; host bits are cleared, as iptables would.
   * @default - any address
   */
  readonly net?: pulumi.Input<string>;
}
true satisfies ArgsMatch<ProtoPortArgs, z.input<typeof protoPortSchema>>;

/** A flow that must stay reachable through an untracked policy: checked at preview. */
export interface ReachableFlowArgs {
  /**
   * The clients: an address or a CIDR.
   * @default - every address, IPv4 and IPv6
   */
  readonly from?: pulumi.Input<string>;
  /**
   * The host's address the clients connect to.
   * @default - any address of the host
   */
  readonly to?: pulumi.Input<string>;
  /**
   * `"TCP"`, `"UDP"` or `"SCTP"`.
   * @default - "TCP"
   */
  readonly protocol?: pulumi.Input<"TCP" | "UDP" | "SCTP">;
  /** The destination port, 0..65535. */
  readonly port: pulumi.Input<number>;
}
true satisfies ArgsMatch<ReachableFlowArgs, z.input<typeof reachableFlowSchema>>;

/** How to dial one SSH server: the same fields as `@pulumi/command`'s `remote.ConnectionArgs`. */
export interface SshEndpointArgs {
  /** The address or DNS name of the SSH server. */
  readonly host: pulumi.Input<string>;
  /**
   * The SSH server's port.
   * @default - 22
   */
  readonly port?: pulumi.Input<number>;
  /**
   * The user to log in as.
   * @default - "root" (attaching XDP programs needs CAP_NET_ADMIN and CAP_BPF)
   */
  readonly user?: pulumi.Input<string>;
  /**
   * The private key in OpenSSH or PEM form; pass a Pulumi secret (it is kept secret in state either way).
   * @default - none: `agentSocketPath` is needed then
   */
  readonly privateKey?: pulumi.Input<string>;
  /**
   * The passphrase of an encrypted `privateKey`.
   * @default - none
   */
  readonly privateKeyPassword?: pulumi.Input<string>;
  /**
   * An ssh-agent socket to authenticate with instead of (or before) `privateKey`.
   * @default - none
   */
  readonly agentSocketPath?: pulumi.Input<string>;
  /**
   * The server's host key, pinned: an OpenSSH public key line (`ssh-ed25519 AAAA...`, as in
   * `/etc/ssh/ssh_host_ed25519_key.pub`) or its `SHA256:` fingerprint (`ssh-keygen -lf`).
   * @default - not verified: any host key is accepted, with a warning
   */
  readonly hostKey?: pulumi.Input<string>;
  /** Connection attempts before the node counts as unreachable. @default - 10 */
  readonly dialErrorLimit?: pulumi.Input<number>;
  /** Seconds one attempt (TCP connect and SSH handshake) may take. @default - 15 */
  readonly perDialTimeout?: pulumi.Input<number>;
}

/** This machine's own network namespace. */
export interface LocalConnectionArgs {
  /** `"local"`. */
  readonly type: pulumi.Input<"local">;
}

/** A network namespace on this machine (`ip netns`): what tests and the demo use. */
export interface NetnsConnectionArgs {
  /** `"netns"`. */
  readonly type: pulumi.Input<"netns">;
  /** Its name under /run/netns. */
  readonly netns: pulumi.Input<string>;
}

/** A remote host reached over SSH; it needs `ip` and `bpftool` (bpffs is mounted if absent). */
export interface SshConnectionArgs extends SshEndpointArgs {
  /** `"ssh"`. */
  readonly type: pulumi.Input<"ssh">;
  /** A bastion to tunnel through. @default - dial the node directly */
  readonly proxy?: pulumi.Input<SshEndpointArgs>;
}

/** How to reach a node. */
export type ConnectionArgs = LocalConnectionArgs | NetnsConnectionArgs | SshConnectionArgs;

/** A node an XDP filter attaches on. */
export interface XdpNodeArgs {
  /** The node's name (the Calico/Kubernetes node name); unique within the resource. */
  readonly name: pulumi.Input<string>;
  /** How to reach the node. */
  readonly connection: pulumi.Input<ConnectionArgs>;
}
true satisfies ArgsMatch<XdpNodeArgs, z.input<typeof xdpNodeSchema>>;

/** A GlobalNetworkSet as an XDP filter's selectors see it: its labels and the addresses it holds. */
export interface XdpNetworkSetArgs {
  /** The set's Calico name. */
  readonly name: pulumi.Input<string>;
  /**
   * The set's labels, which the rules' selectors match.
   * @default - none
   */
  readonly labels?: pulumi.Input<Record<string, pulumi.Input<string>>>;
  /** IP addresses and CIDRs (host bits allowed), as in the GlobalNetworkSet. */
  readonly nets: pulumi.Input<pulumi.Input<string>[]>;
}
true satisfies ArgsMatch<XdpNetworkSetArgs, z.input<typeof xdpNetworkSetSchema>>;

/** A HostEndpoint as an XDP filter's selectors see it: its labels and the addresses Felix puts in IP sets. */
export interface XdpHostEndpointArgs {
  /** The endpoint's Calico name. */
  readonly name: pulumi.Input<string>;
  /**
   * The endpoint's labels, which the rules' selectors match.
   * @default - none
   */
  readonly labels?: pulumi.Input<Record<string, pulumi.Input<string>>>;
  /**
   * The endpoint's addresses: what a selector matching it holds.
   * @default - none: the endpoint has no address a selector could match here
   */
  readonly expectedIPs?: pulumi.Input<pulumi.Input<string>[]>;
}
true satisfies ArgsMatch<XdpHostEndpointArgs, z.input<typeof xdpHostEndpointSchema>>;
