import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { calicoCustomResource, type Inputs, plainApiVersion, validateArgs } from "./args";
import { toDnsName } from "./calico/names";
import { type CalicoObject, renderGlobalNetworkSet } from "./calico/render";
import {
  apiVersionSchema,
  networkSetLabelsSchema,
  networkSetNetSchema,
  resourceNameSchema,
} from "./calico/resources";
import { selector } from "./calico/selector";
import { strictObject } from "./calico/zodkit";

export const globalNetworkSetArgsSchema = strictObject({
  /**
   * IP addresses and CIDRs in the set (IPv4 and IPv6 may be mixed; host bits are allowed). May be
   * empty, as a deny list that starts with nothing in it.
   */
  nets: z.array(networkSetNetSchema),
  /** Labels that rules select the set by; at least one. */
  labels: networkSetLabelsSchema.refine((l) => Object.keys(l).length > 0, {
    message: "must have at least one label, so rules can select this set (e.g. { 'dos-deny-list': 'true' })",
  }),
  /**
   * The Calico resource name.
   * @default - the Pulumi resource name, lowercased and made DNS-1123 valid
   */
  resourceName: resourceNameSchema.optional(),
  /**
   * Render the native `projectcalico.org/v3` resource or the backing `crd.projectcalico.org/v1` CRD.
   * @default - "projectcalico.org/v3"
   */
  apiVersion: apiVersionSchema,
});

export type GlobalNetworkSetArgs = Inputs<z.input<typeof globalNetworkSetArgsSchema>>;
export type ValidGlobalNetworkSetArgs = z.output<typeof globalNetworkSetArgsSchema>;

export function renderGlobalNetworkSetArgs(name: string, args: ValidGlobalNetworkSetArgs): CalicoObject {
  return renderGlobalNetworkSet(
    { name: args.resourceName ?? toDnsName(name), labels: args.labels, apiVersion: args.apiVersion },
    { nets: args.nets },
  );
}

/** A Calico GlobalNetworkSet: a labelled list of CIDRs that rule selectors can refer to. */
export class GlobalNetworkSet extends pulumi.ComponentResource {
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

  constructor(name: string, args: GlobalNetworkSetArgs, opts?: pulumi.ComponentResourceOptions) {
    const subject = `GlobalNetworkSet "${name}"`;
    const apiVersion = plainApiVersion(args.apiVersion, subject, opts?.parent);
    const valid = validateArgs(globalNetworkSetArgsSchema, { ...args, apiVersion }, subject, opts?.parent);
    super("calico-xdp:index:GlobalNetworkSet", name, {}, opts);
    this.rendered = valid.apply((a) => renderGlobalNetworkSetArgs(name, a));
    this.resourceName = this.rendered.metadata.name;
    this.selector = valid.apply((a) => selector.matchLabels(a.labels));
    this.nets = valid.apply((a) => a.nets);
    this.labels = valid.apply((a) => a.labels);
    calicoCustomResource(name, "GlobalNetworkSet", this.rendered, apiVersion, this);
    this.registerOutputs({
      resourceName: this.resourceName,
      selector: this.selector,
      nets: this.nets,
      labels: this.labels,
    });
  }
}
