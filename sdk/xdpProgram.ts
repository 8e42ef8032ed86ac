import * as pulumi from "@pulumi/pulumi";
import { type Inputs, validateArgs } from "./args";
import { type NodeAttachment, type XdpProgramArgsInput, xdpProgramArgsSchema } from "./xdp/programArgs";

/**
 * Bumped with the package: a provider code change shows as an update of every XdpProgram, since
 * Pulumi runs `delete`/`read` with the code stored in state.
 */
export const PROVIDER_VERSION: string = require("pulumi-calico-xdp/package.json").version;

/**
 * The provider Pulumi serializes into state: plain functions that load the implementation at run
 * time from the installed package, so no local module, schema or native handle is captured.
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

/**
 * An XDP program built with clang during `pulumi up` and attached on each node's interface: the
 * untracked-policy filter compiled from `rules`, or your own `source`. Rules-only changes rewrite the
 * pinned maps in place; a new program is swapped in atomically; destroy detaches only what it attached;
 * refresh reports drift (program missing, replaced by someone else, maps changed).
 */
export class XdpProgram extends pulumi.dynamic.Resource {
  /** Per node: status, the mode actually used, program id/tag, object and maps digests, when attached, error. */
  declare readonly attachments: pulumi.Output<NodeAttachment[]>;
  /** sha256 of the program's sources (what a change of program shows as). */
  declare readonly programSha256: pulumi.Output<string>;
  /** Digest of the compiled map contents (what a rules change shows as). */
  declare readonly mapsSha256: pulumi.Output<string>;
  /** Number of ingress rules compiled. */
  declare readonly ruleCount: pulumi.Output<number>;

  constructor(name: string, args: XdpProgramArgs, opts?: pulumi.CustomResourceOptions) {
    // Plain values fail here, before anything is sent; the provider's check repeats this for Outputs.
    validateArgs(xdpProgramArgsSchema, args, `XdpProgram "${name}"`, opts?.parent);
    super(
      provider,
      name,
      {
        ...args,
        providerVersion: PROVIDER_VERSION,
        attachments: undefined,
        programSha256: undefined,
        mapsSha256: undefined,
        ruleCount: undefined,
      },
      opts,
      "calico-xdp",
      "XdpProgram",
    );
  }
}
