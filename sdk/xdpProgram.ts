import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { type ArgsMatch, validateArgs } from "./args";
import { protoPortSchema } from "./calico/resources";
import type { FelixConfiguration } from "./felixConfiguration";
import type { ProtoPortArgs, RuleArgs, XdpHostEndpointArgs, XdpNetworkSetArgs, XdpNodeArgs } from "./inputs";
import { separateCredentials } from "./xdp/credentials";
import { hostKeyWarnings, type NodeAttachment, xdpProgramArgsSchema } from "./xdp/programArgs";

/**
 * The provider Pulumi serializes into state: plain functions that load the implementation at run
 * time from the installed package, so no local module, schema or native handle is captured, and a
 * new release of the package needs no update of the resources it manages.
 */
const provider: pulumi.dynamic.ResourceProvider = {
  check: (olds, news) => require("pulumi-calico-xdp/provider").check(olds, news),
  diff: (id, olds, news) => require("pulumi-calico-xdp/provider").diff(id, olds, news),
  create: (inputs) => require("pulumi-calico-xdp/provider").create(inputs),
  read: (id, props) => require("pulumi-calico-xdp/provider").read(id, props),
  update: (id, olds, news) => require("pulumi-calico-xdp/provider").update(id, olds, news),
  delete: (id, props) => require("pulumi-calico-xdp/provider").delete(id, props),
};

/** The arguments of an {@link XdpProgram}. */
export interface XdpProgramArgs {
  /**
   * The nodes to attach on, unique by name and by what their connection reaches. Adding a node attaches
   * there, removing one detaches there; the other nodes are not touched.
   */
  readonly nodes: pulumi.Input<pulumi.Input<XdpNodeArgs>[]>;
  /**
   * The interface to attach to on every node, e.g. `eth0`. Changing it attaches on the new interface
   * before detaching from the old one.
   */
  readonly interfaceName: pulumi.Input<string>;
  /**
   * `native` (driver), `generic` (skb, works everywhere, about as fast as iptables raw) or `auto`
   * (native, else generic; the outputs record which).
   * @default - "auto"
   */
  readonly mode?: pulumi.Input<"native" | "generic" | "auto">;
  /**
   * Replace an XDP program that someone else attached (Calico's `prefilter`, for instance). Without it,
   * such a node fails with what was found and what to do.
   * @default - false
   */
  readonly takeOver?: pulumi.Input<boolean>;
  /**
   * The untracked policy's ingress rules (Calico's Rule shape), compiled into the filter's maps; at most
   * 64 rules and 1,000,000 addresses and CIDRs (with the selected sets' members). Give this or `source`.
   * @default - none: `source` is required then
   */
  readonly rules?: pulumi.Input<pulumi.Input<RuleArgs>[]>;
  /**
   * Failsafe inbound ports, always passed, checked before the rules.
   * @default - `felixConfiguration`'s, else Calico's defaults (tcp 22, udp 68, tcp 179, tcp 2379, tcp 2380, tcp 5473, tcp 6443, tcp 6666, tcp 6667)
   */
  readonly failsafeInbound?: pulumi.Input<pulumi.Input<ProtoPortArgs>[]>;
  /**
   * Failsafe outbound ports: inbound packets from these source ports (the replies) are always passed.
   * @default - `felixConfiguration`'s, else Calico's defaults (udp 53, udp 67, tcp 179, tcp 2379, tcp 2380, tcp 5473, tcp 6443, tcp 6666, tcp 6667)
   */
  readonly failsafeOutbound?: pulumi.Input<pulumi.Input<ProtoPortArgs>[]>;
  /**
   * Take the failsafe lists from this FelixConfiguration, so XDP and Felix never keep different ports
   * open. Giving `failsafeInbound`/`failsafeOutbound` too is allowed only when they are the same lists.
   * @default - none: the lists given, else Calico's defaults
   */
  readonly felixConfiguration?: FelixConfiguration;
  /**
   * GlobalNetworkSets the rules' selectors can match: a set's members are decided in XDP. Changing a
   * set's nets rewrites the maps only.
   * @default - none
   */
  readonly networkSets?: pulumi.Input<pulumi.Input<XdpNetworkSetArgs>[]>;
  /**
   * HostEndpoints the rules' selectors can match.
   * @default - none
   */
  readonly hostEndpoints?: pulumi.Input<pulumi.Input<XdpHostEndpointArgs>[]>;
  /**
   * `open`: an address of no given object is unknown to a selector, and Calico decides its packets;
   * `closed`: the given objects are all the selectors can match.
   * @default - "open"
   */
  readonly selectorScope?: pulumi.Input<"open" | "closed">;
  /**
   * Drop what the rules deny. `false` is shadow mode: the filter passes every packet and counts, per
   * rule and as `shadow-deny`, what it would have dropped; switching is an update of the maps only.
   * @default - true
   */
  readonly enforce?: pulumi.Input<boolean>;
  /**
   * Absolute path to your own XDP C source, built with the same clang flags; instead of `rules`.
   * @default - none: the policy filter, compiled from `rules`
   */
  readonly source?: pulumi.Input<string>;
  /**
   * The ELF section of the program in `source`.
   * @default - "xdp"
   */
  readonly section?: pulumi.Input<string>;
  /**
   * How many nodes to work on at once.
   * @default - 8
   */
  readonly concurrency?: pulumi.Input<number>;
  /**
   * Let destroy (and node removal) succeed when a node cannot be reached, leaving whatever is on that
   * node. Takes effect once applied: delete runs with the inputs in state.
   * @default - false: destroy fails naming the unreachable nodes and keeps the resource in state
   */
  readonly force?: pulumi.Input<boolean>;
}
true satisfies ArgsMatch<Omit<XdpProgramArgs, "felixConfiguration">, z.input<typeof xdpProgramArgsSchema>>;

const DIRECTIONS = [
  ["failsafeInbound", "failsafeInboundHostPorts"],
  ["failsafeOutbound", "failsafeOutboundHostPorts"],
] as const;

/** A failsafe list's entries as Felix applies them, in one order, to compare two spellings of it. */
const canonical = (entries: unknown) =>
  JSON.stringify(
    z
      .array(protoPortSchema)
      .parse(entries)
      .map((e) => JSON.stringify([e.protocol, e.port, e.net ?? ""]))
      .sort(),
  );

/**
 * The failsafe lists XDP enforces: as given, or the FelixConfiguration's. Both given and different is a
 * mistake that would leave a port open in one place and closed in the other, so it fails the preview.
 */
export function failsafeLists(
  subject: string,
  args: Pick<XdpProgramArgs, "failsafeInbound" | "failsafeOutbound" | "felixConfiguration">,
  parent?: pulumi.Resource,
): Pick<XdpProgramArgs, "failsafeInbound" | "failsafeOutbound"> {
  const felix = args.felixConfiguration;
  if (felix === undefined)
    return { failsafeInbound: args.failsafeInbound, failsafeOutbound: args.failsafeOutbound };
  const [inbound, outbound] = DIRECTIONS.map(([field, felixField]) => {
    const given = args[field];
    if (given === undefined) return felix[felixField];
    return pulumi.all([given, felix[felixField], felix.resourceName]).apply(([mine, felixs, felixName]) => {
      if (canonical(mine) !== canonical(felixs))
        throw new pulumi.ResourceError(
          `${subject}: ${field} ${JSON.stringify(mine)} differs from FelixConfiguration ${JSON.stringify(felixName)}'s ${felixField} ${JSON.stringify(felixs)}: give one of them, so XDP and Felix keep the same ports open`,
          parent,
        );
      return mine;
    });
  });
  return { failsafeInbound: inbound, failsafeOutbound: outbound } as Pick<
    XdpProgramArgs,
    "failsafeInbound" | "failsafeOutbound"
  >;
}

/** The engine's type of XdpProgram resources. */
export const XDP_PROGRAM_TYPE = "pulumi-nodejs:dynamic/calico-xdp:XdpProgram";

/** An object literal, not an Output or a Promise of one. */
export const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  value !== null &&
  typeof value === "object" &&
  !pulumi.Output.isInstance(value) &&
  !(value instanceof Promise);

/**
 * Nodes without their SSH secrets (readable in previews, and no secret taints what is derived from
 * them) and the secrets alone. Plain node lists are split as they are, so plain values stay plain
 * and each Output keeps its own secrecy; a list given as one Output is split when it resolves and
 * stays as secret as it was, since Pulumi cannot tell which of its parts made it secret.
 */
export function splitNodeSecrets(nodes: unknown): { nodes: unknown; credentials: pulumi.Output<unknown> } {
  const plain =
    Array.isArray(nodes) &&
    nodes.every(
      (n) =>
        isPlainObject(n) &&
        isPlainObject(n.connection) &&
        (n.connection.proxy === undefined || isPlainObject(n.connection.proxy)),
    );
  if (plain) {
    const split = separateCredentials(nodes);
    return { nodes: split.nodes, credentials: pulumi.secret(pulumi.output(split.credentials)) };
  }
  const split = pulumi
    .output(nodes as pulumi.Input<unknown[]>)
    .apply((resolved) => separateCredentials(resolved));
  return {
    nodes: split.apply((s) => s.nodes),
    credentials: pulumi.secret(split.apply((s) => s.credentials)),
  };
}

/**
 * An XDP program built with clang during `pulumi up` and attached on each node's interface: the
 * untracked-policy filter compiled from `rules`, or your own `source`. Rules-only changes rewrite the
 * pinned maps in place; a new program is swapped in atomically; destroy detaches only what it attached;
 * refresh reports drift (program missing, replaced by someone else, maps changed).
 */
export class XdpProgram extends pulumi.dynamic.Resource {
  /** Per node: status, the mode actually used, program id/tag, object and maps digests, when attached, error. */
  declare readonly attachments: pulumi.Output<NodeAttachment[]>;
  /** sha256 of the program's C source, the headers beside it and its section (what a change of program shows as). */
  declare readonly sourceSha256: pulumi.Output<string>;
  /** Digest of the compiled map contents (what a rules change shows as). */
  declare readonly mapsSha256: pulumi.Output<string>;
  /** Number of ingress rules compiled. */
  declare readonly ruleCount: pulumi.Output<number>;

  constructor(name: string, args: XdpProgramArgs, opts?: pulumi.CustomResourceOptions) {
    const subject = `XdpProgram "${name}"`;
    const { felixConfiguration: _felix, ...given } = args;
    const resolved = { ...given, ...failsafeLists(subject, args, opts?.parent) };
    // Plain values fail here, before anything is sent; the provider's check repeats this for Outputs.
    const valid = validateArgs(xdpProgramArgsSchema, resolved, subject, opts?.parent);
    const { nodes, credentials } = splitNodeSecrets(args.nodes);
    // Names the pins on nodes before anything is recorded, so a create killed midway is found again.
    const identity = pulumi
      .createUrn(name, XDP_PROGRAM_TYPE, opts?.parent)
      .apply((urn) => createHash("sha256").update(urn).digest("hex").slice(0, 16));
    super(
      provider,
      name,
      {
        ...resolved,
        nodes,
        credentials,
        identity,
        attachments: undefined,
        sourceSha256: undefined,
        mapsSha256: undefined,
        ruleCount: undefined,
      },
      // A replacement shares the URN, and so the pins: the old one must be gone before the new one is made.
      pulumi.mergeOptions(opts, { additionalSecretOutputs: ["credentials"], deleteBeforeReplace: true }),
      "calico-xdp",
      "XdpProgram",
    );
    valid.apply((spec) => {
      for (const warning of hostKeyWarnings(subject, spec.nodes)) pulumi.log.warn(warning, this);
    });
  }
}
