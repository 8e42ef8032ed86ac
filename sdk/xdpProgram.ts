import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import { type Inputs, validateArgs } from "./args";
import { separateCredentials } from "./xdp/credentials";
import {
  hostKeyWarnings,
  type NodeAttachment,
  type XdpProgramArgsInput,
  xdpProgramArgsSchema,
} from "./xdp/programArgs";

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

export type XdpProgramArgs = Inputs<XdpProgramArgsInput>;

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
    // Plain values fail here, before anything is sent; the provider's check repeats this for Outputs.
    const valid = validateArgs(xdpProgramArgsSchema, args, subject, opts?.parent);
    const { nodes, credentials } = splitNodeSecrets(args.nodes);
    // Names the pins on nodes before anything is recorded, so a create killed midway is found again.
    const identity = pulumi
      .createUrn(name, XDP_PROGRAM_TYPE, opts?.parent)
      .apply((urn) => createHash("sha256").update(urn).digest("hex").slice(0, 16));
    super(
      provider,
      name,
      {
        ...args,
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
