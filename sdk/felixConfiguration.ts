import * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import type { z } from "zod";
import {
  type ArgsMatch,
  asOutput,
  calicoObjectOptions,
  calicoResourceArgs,
  checkArgs,
  derive,
  plainApiVersion,
} from "./args";
import { type CalicoObject, renderFelixConfiguration } from "./calico/render";
import {
  type ApiVersion,
  apiVersionSchema,
  DEFAULT_FAILSAFE_INBOUND,
  DEFAULT_FAILSAFE_OUTBOUND,
  felixConfigurationSpecSchema,
  type ProtoPort,
  resourceNameSchema,
} from "./calico/resources";
import { strictObject } from "./calico/zodkit";
import type { ProtoPortArgs } from "./inputs";

/** The arguments of a {@link FelixConfiguration}: each knob unset is left as Calico has it. */
export interface FelixConfigurationArgs {
  /**
   * Configure one node (`node.<name>`) instead of the cluster default.
   * @default - the cluster-wide `default` FelixConfiguration
   */
  readonly node?: pulumi.Input<string>;
  /**
   * Felix's XDP acceleration of untracked Deny rules. Turn it off on nodes where `XdpProgram` attaches.
   * @default - unchanged (Calico: true)
   */
  readonly xdpEnabled?: pulumi.Input<boolean>;
  /**
   * How often Felix re-checks (and rewrites) XDP state, e.g. `"90s"`.
   * @default - unchanged (Calico: 90s)
   */
  readonly xdpRefreshInterval?: pulumi.Input<string>;
  /**
   * Let Felix fall back to generic (skb) XDP.
   * @default - unchanged (Calico: false)
   */
  readonly genericXDPEnabled?: pulumi.Input<boolean>;
  /**
   * Calico's eBPF dataplane.
   * @default - unchanged (Calico: false)
   */
  readonly bpfEnabled?: pulumi.Input<boolean>;
  /**
   * Inbound ports that stay open whatever the policy. `[]` disables them (dangerous).
   * @default - unchanged (Calico's list)
   */
  readonly failsafeInboundHostPorts?: pulumi.Input<pulumi.Input<ProtoPortArgs>[]>;
  /**
   * Outbound ports that stay open whatever the policy.
   * @default - unchanged (Calico's list)
   */
  readonly failsafeOutboundHostPorts?: pulumi.Input<pulumi.Input<ProtoPortArgs>[]>;
  /**
   * Render the native `projectcalico.org/v3` resource or the backing `crd.projectcalico.org/v1` CRD. A
   * plain value: the resource's type depends on it.
   * @default - "projectcalico.org/v3"
   */
  readonly apiVersion?: ApiVersion;
}

const knobs = felixConfigurationSpecSchema.shape;

export const felixConfigurationArgsSchema = strictObject({
  node: resourceNameSchema.optional(),
  xdpEnabled: knobs.xdpEnabled,
  xdpRefreshInterval: knobs.xdpRefreshInterval,
  genericXDPEnabled: knobs.genericXDPEnabled,
  bpfEnabled: knobs.bpfEnabled,
  failsafeInboundHostPorts: knobs.failsafeInboundHostPorts,
  failsafeOutboundHostPorts: knobs.failsafeOutboundHostPorts,
  apiVersion: apiVersionSchema,
});
true satisfies ArgsMatch<FelixConfigurationArgs, z.input<typeof felixConfigurationArgsSchema>>;

export type ValidFelixConfigurationArgs = z.output<typeof felixConfigurationArgsSchema>;

export function renderFelixConfigurationArgs(args: ValidFelixConfigurationArgs): CalicoObject {
  const { node, apiVersion, ...spec } = args;
  return renderFelixConfiguration(
    { name: node === undefined ? "default" : `node.${node}`, apiVersion },
    spec,
  );
}

/**
 * The FelixConfiguration knobs XDP host protection depends on, applied as a server-side-apply patch:
 * Calico owns the `default` object, so only the fields given here are set and the rest stay Calico's.
 * The resource is that patch itself (a `CustomResourcePatch` of kind FelixConfiguration).
 */
export class FelixConfiguration extends k8s.apiextensions.CustomResourcePatch {
  /** The FelixConfiguration name (`default` or `node.<name>`). */
  readonly resourceName: pulumi.Output<string>;
  /** The rendered Calico object. */
  readonly rendered: pulumi.Output<CalicoObject>;
  /** The inbound failsafe ports this object sets, else Calico's defaults: what XDP must keep open too. */
  readonly failsafeInboundHostPorts: pulumi.Output<ProtoPort[]>;
  /** The outbound failsafe ports this object sets, else Calico's defaults (their replies pass XDP too). */
  readonly failsafeOutboundHostPorts: pulumi.Output<ProtoPort[]>;

  constructor(name: string, args: FelixConfigurationArgs, opts?: pulumi.CustomResourceOptions) {
    const subject = `FelixConfiguration "${name}"`;
    const apiVersion = plainApiVersion(args.apiVersion, subject, opts?.parent);
    const checked = checkArgs(felixConfigurationArgsSchema, { ...args, apiVersion }, subject, opts?.parent);
    const rendered = derive(checked, renderFelixConfigurationArgs);
    super(
      name,
      calicoResourceArgs("FelixConfiguration", rendered, apiVersion),
      calicoObjectOptions(
        name,
        "calico-xdp:index:FelixConfiguration",
        `kubernetes:${apiVersion}:FelixConfigurationPatch`,
        opts,
      ),
    );
    const output = <T>(f: (a: ValidFelixConfigurationArgs) => T) => asOutput(derive(checked, f));
    this.rendered = asOutput(rendered);
    this.resourceName = asOutput(derive(rendered, (r) => r.metadata.name));
    this.failsafeInboundHostPorts = output(
      (a) => a.failsafeInboundHostPorts ?? [...DEFAULT_FAILSAFE_INBOUND],
    );
    this.failsafeOutboundHostPorts = output(
      (a) => a.failsafeOutboundHostPorts ?? [...DEFAULT_FAILSAFE_OUTBOUND],
    );
  }
}
