import * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import {
  type ArgsMatch,
  calicoObjectOptions,
  calicoResourceArgs,
  checkArgs,
  derive,
  plainApiVersion,
  Views,
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

/** What policies read from a GlobalNetworkSet. */
export interface NetworkSetView {
  readonly resourceName: string;
  readonly selector: string;
  readonly nets: string[];
  readonly labels: Record<string, string>;
  readonly rendered: CalicoObject;
}

/** Internal: each GlobalNetworkSet's view, for the policies whose selectors match it. */
export const networkSetViews = new Views<GlobalNetworkSet, NetworkSetView>();

/**
 * A Calico GlobalNetworkSet: a labelled list of CIDRs that rule selectors can refer to. The resource is
 * the Calico object itself (a `CustomResource` of kind GlobalNetworkSet).
 */
export class GlobalNetworkSet extends k8s.apiextensions.CustomResource {
  /** The Calico resource name. */
  get resourceName(): pulumi.Output<string> {
    return networkSetViews.output(this, (v) => v.resourceName);
  }
  /** A selector matching this set's labels, for a rule's `source.selector`. */
  get selector(): pulumi.Output<string> {
    return networkSetViews.output(this, (v) => v.selector);
  }
  /** The set's nets. */
  get nets(): pulumi.Output<string[]> {
    return networkSetViews.output(this, (v) => v.nets);
  }
  /** The set's labels, which rule selectors match. */
  get labels(): pulumi.Output<Record<string, string>> {
    return networkSetViews.output(this, (v) => v.labels);
  }
  /** The rendered Calico object. */
  get rendered(): pulumi.Output<CalicoObject> {
    return networkSetViews.output(this, (v) => v.rendered);
  }

  constructor(name: string, args: GlobalNetworkSetArgs, opts?: pulumi.CustomResourceOptions) {
    const subject = `GlobalNetworkSet "${name}"`;
    const apiVersion = plainApiVersion(args.apiVersion, subject, opts?.parent);
    const checked = checkArgs(globalNetworkSetArgsSchema, { ...args, apiVersion }, subject, opts?.parent);
    const view = derive(checked, (a): NetworkSetView => {
      const rendered = renderGlobalNetworkSetArgs(name, a);
      return {
        resourceName: rendered.metadata.name,
        selector: selector.matchLabels(a.labels),
        nets: a.nets,
        labels: a.labels,
        rendered,
      };
    });
    super(
      name,
      calicoResourceArgs(
        "GlobalNetworkSet",
        derive(view, (v) => v.rendered),
        apiVersion,
      ),
      calicoObjectOptions(
        name,
        "calico-xdp:index:GlobalNetworkSet",
        `kubernetes:${apiVersion}:GlobalNetworkSet`,
        opts,
      ),
    );
    networkSetViews.set(this, view);
  }
}
