import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { z } from "zod";
import { type Inputs, plainApiVersion, validateArgs } from "./args";
import { type CalicoObject, renderFelixConfiguration } from "./calico/render";
import {
  apiVersionSchema,
  DEFAULT_FAILSAFE_INBOUND,
  DEFAULT_FAILSAFE_OUTBOUND,
  felixConfigurationSpecSchema,
  type ProtoPort,
  resourceNameSchema,
} from "./calico/resources";
import { strictObject } from "./calico/zodkit";

const knobs = felixConfigurationSpecSchema.shape;

export const felixConfigurationArgsSchema = strictObject({
  /**
   * Configure one node (`node.<name>`) instead of the cluster default.
   * @default - the cluster-wide `default` FelixConfiguration
   */
  node: resourceNameSchema.optional(),
  /** Felix's XDP acceleration of untracked Deny rules. Turn it off on nodes where `XdpProgram` attaches. @default - unchanged (Calico: true) */
  xdpEnabled: knobs.xdpEnabled,
  /** How often Felix re-checks (and rewrites) XDP state, e.g. `"90s"`. @default - unchanged (Calico: 90s) */
  xdpRefreshInterval: knobs.xdpRefreshInterval,
  /** Let Felix fall back to generic (skb) XDP. @default - unchanged (Calico: false) */
  genericXDPEnabled: knobs.genericXDPEnabled,
  /** Calico's eBPF dataplane. @default - unchanged (Calico: false) */
  bpfEnabled: knobs.bpfEnabled,
  /** Inbound ports that stay open whatever the policy. `[]` disables them (dangerous). @default - unchanged (Calico's list) */
  failsafeInboundHostPorts: knobs.failsafeInboundHostPorts,
  /** Outbound ports that stay open whatever the policy. @default - unchanged (Calico's list) */
  failsafeOutboundHostPorts: knobs.failsafeOutboundHostPorts,
  /** @default - "projectcalico.org/v3" */
  apiVersion: apiVersionSchema,
});

export type FelixConfigurationArgs = Inputs<z.input<typeof felixConfigurationArgsSchema>>;
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
 */
export class FelixConfiguration extends pulumi.ComponentResource {
  /** The FelixConfiguration name (`default` or `node.<name>`). */
  readonly resourceName: pulumi.Output<string>;
  /** The rendered Calico object. */
  readonly rendered: pulumi.Output<CalicoObject>;
  /** The inbound failsafe ports this object sets, else Calico's defaults: what XDP must keep open too. */
  readonly failsafeInboundHostPorts: pulumi.Output<ProtoPort[]>;
  /** The outbound failsafe ports this object sets, else Calico's defaults (their replies pass XDP too). */
  readonly failsafeOutboundHostPorts: pulumi.Output<ProtoPort[]>;

  constructor(name: string, args: FelixConfigurationArgs, opts?: pulumi.ComponentResourceOptions) {
    const subject = `FelixConfiguration "${name}"`;
    const apiVersion = plainApiVersion(args.apiVersion, subject, opts?.parent);
    const valid = validateArgs(felixConfigurationArgsSchema, { ...args, apiVersion }, subject, opts?.parent);
    super("calico-xdp:index:FelixConfiguration", name, {}, opts);
    this.rendered = valid.apply(renderFelixConfigurationArgs);
    this.resourceName = this.rendered.metadata.name;
    this.failsafeInboundHostPorts = valid.apply(
      (a) => a.failsafeInboundHostPorts ?? [...DEFAULT_FAILSAFE_INBOUND],
    );
    this.failsafeOutboundHostPorts = valid.apply(
      (a) => a.failsafeOutboundHostPorts ?? [...DEFAULT_FAILSAFE_OUTBOUND],
    );
    new k8s.apiextensions.CustomResourcePatch(
      name,
      { apiVersion, kind: "FelixConfiguration", metadata: this.rendered.metadata, spec: this.rendered.spec },
      { parent: this },
    );
    this.registerOutputs({ resourceName: this.resourceName });
  }
}
