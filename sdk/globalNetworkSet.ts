import * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import {
  type ArgsMatch,
  asOutput,
  calicoObjectOptions,
  calicoResourceArgs,
  checkArgs,
  derive,
  plainApiVersion,
} from "./args";
import { toDnsName } from "./calico/names";
import { type CalicoObject, renderGlobalNetworkSet } from "./calico/render";
import {
  type ApiVersion,
  apiVersionSchema,
  networkSetLabelsSchema,
  networkSetNetSchema,
  resourceNameSchema,
} from "./calico/resources";
import { selector } from "./calico/selector";
import { strictObject } from "./calico/zodkit";

/** The arguments of a {@link GlobalNetworkSet}. */
export interface GlobalNetworkSetArgs {
  /**
   * IP addresses and CIDRs in the set (IPv4 and IPv6 may be mixed; host bits are allowed). May be
   * empty, as a deny list that starts with nothing in it.
   */
  readonly nets: pulumi.Input<pulumi.Input<string>[]>;
  /** Labels that rules select the set by; at least one. */
  readonly labels: pulumi.Input<Record<string, pulumi.Input<string>>>;
  /**
   * The Calico resource name.
   * @default - the Pulumi resource name, lowercased and made DNS-1123 valid
   */
  readonly resourceName?: pulumi.Input<string>;
  /**
   * Render the native `projectcalico.org/v3` resource or the backing `crd.projectcalico.org/v1` CRD. A
   * plain value: the resource's type depends on it.
   * @default - "projectcalico.org/v3"
   */
  readonly apiVersion?: ApiVersion;
}

export const globalNetworkSetArgsSchema = strictObject({
  nets: z.array(networkSetNetSchema),
  labels: networkSetLabelsSchema.refine((l) => Object.keys(l).length > 0, {
    message: "must have at least one label, so rules can select this set (e.g. { 'dos-deny-list': 'true' })",
  }),
  resourceName: resourceNameSchema.optional(),
  apiVersion: apiVersionSchema,
});
true satisfies ArgsMatch<GlobalNetworkSetArgs, z.input<typeof globalNetworkSetArgsSchema>>;

export type ValidGlobalNetworkSetArgs = z.output<typeof globalNetworkSetArgsSchema>;

export function renderGlobalNetworkSetArgs(name: string, args: ValidGlobalNetworkSetArgs): CalicoObject {
  return renderGlobalNetworkSet(
    { name: args.resourceName ?? toDnsName(name), labels: args.labels, apiVersion: args.apiVersion },
    { nets: args.nets },
  );
}

/**
 * A Calico GlobalNetworkSet: a labelled list of CIDRs that rule selectors can refer to. The resource is
 * the Calico object itself (a `CustomResource` of kind GlobalNetworkSet).
 */
export class GlobalNetworkSet extends k8s.apiextensions.CustomResource {
  /** The Calico resource name. */
  readonly resourceName: pulumi.Output<string>;
  /** A selector matching this set's labels, for a rule's `source.selector`. */
  readonly selector: pulumi.Output<string>;
  /** The set's nets. */
  readonly nets: pulumi.Output<string[]>;
  /** The set's labels, which rule selectors match. */
  readonly labels: pulumi.Output<Record<string, string>>;
  /** The rendered Calico object. */
  readonly rendered: pulumi.Output<CalicoObject>;

  constructor(name: string, args: GlobalNetworkSetArgs, opts?: pulumi.CustomResourceOptions) {
    const subject = `GlobalNetworkSet "${name}"`;
    const apiVersion = plainApiVersion(args.apiVersion, subject, opts?.parent);
    const checked = checkArgs(globalNetworkSetArgsSchema, { ...args, apiVersion }, subject, opts?.parent);
    const rendered = derive(checked, (a) => renderGlobalNetworkSetArgs(name, a));
    super(
      name,
      calicoResourceArgs("GlobalNetworkSet", rendered, apiVersion),
      calicoObjectOptions(name, "calico-xdp:index:GlobalNetworkSet", opts),
    );
    const output = <T>(f: (a: ValidGlobalNetworkSetArgs) => T) => asOutput(derive(checked, f));
    this.rendered = asOutput(rendered);
    this.resourceName = asOutput(derive(rendered, (r) => r.metadata.name));
    this.selector = output((a) => selector.matchLabels(a.labels));
    this.nets = output((a) => a.nets);
    this.labels = output((a) => a.labels);
  }
}
