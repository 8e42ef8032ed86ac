import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import {
  type ArgsMatch,
  calicoObjectOptions,
  calicoResourceArgs,
  plainApiVersion,
  validateArgs,
} from "./args";
import type { CalicoObject } from "./calico/render";
import { type ApiVersion, apiVersionSchema, policyNameSchema } from "./calico/resources";
import { ingressRuleSchema, selectorSchema } from "./calico/rule";
import { strictObject } from "./calico/zodkit";
import type { HostEndpoint } from "./hostEndpoint";
import { checkTarget, renderPolicyOf, selectorOf } from "./hostEndpointPolicy";
import type { RuleArgs } from "./inputs";

/** The arguments of a {@link PreDnatPolicy}. */
export interface PreDnatPolicyArgs {
  /**
   * Calico selector of the host endpoints this policy applies to. Give this or `hostEndpoints`.
   * @default - built from `hostEndpoints`
   */
  readonly selector?: pulumi.Input<string>;
  /**
   * Host endpoints this policy applies to; the selector is built from their labels. All-interfaces
   * endpoints (`interfaceName: "*"`, such as Calico's automatic ones) are allowed: pre-DNAT policy
   * applies to them.
   * @default - none: give `selector` instead
   */
  readonly hostEndpoints?: readonly HostEndpoint[];
  /**
   * Ingress rules, evaluated before DNAT: `destination.ports` are the ports clients connect to (a
   * NodePort), not the pod's port the service forwards to.
   */
  readonly ingress: pulumi.Input<pulumi.Input<RuleArgs>[]>;
  /**
   * Calico policy order: lower applies first among pre-DNAT policies.
   * @default - unset, which Calico orders last
   */
  readonly order?: pulumi.Input<number>;
  /**
   * The Calico GlobalNetworkPolicy name (at most one '.').
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

export const preDnatPolicyArgsSchema = strictObject({
  selector: selectorSchema("selector").optional(),
  ingress: z.array(ingressRuleSchema).min(1, "is empty: a pre-DNAT policy has only ingress rules, give one"),
  order: z.number().finite().optional(),
  resourceName: policyNameSchema.optional(),
  apiVersion: apiVersionSchema,
});
true satisfies ArgsMatch<Omit<PreDnatPolicyArgs, "hostEndpoints">, z.input<typeof preDnatPolicyArgsSchema>>;

export type ValidPreDnatPolicyArgs = z.output<typeof preDnatPolicyArgsSchema>;

/** Pure: validated args and the resolved selector -> the Calico GlobalNetworkPolicy object. */
export function renderPreDnatPolicy(
  name: string,
  args: ValidPreDnatPolicyArgs,
  selector: string,
): CalicoObject {
  return renderPolicyOf(`PreDnatPolicy "${name}"`, name, args, {
    order: args.order,
    selector,
    types: ["Ingress"],
    ingress: args.ingress,
    preDNAT: true,
    applyOnForward: true,
  });
}

/**
 * A pre-DNAT (`preDNAT: true`) Calico GlobalNetworkPolicy for host endpoints: ingress only, evaluated
 * before kube-proxy's DNAT, so it sees the port a client connects to. The way to close Kubernetes
 * NodePorts on nodes to all but given sources. Always renders `preDNAT: true`, `applyOnForward: true`
 * and `types: [Ingress]`. The resource is that GlobalNetworkPolicy itself (a `CustomResource`).
 */
export class PreDnatPolicy extends k8s.apiextensions.CustomResource {
  /** The Calico resource name. */
  readonly resourceName: pulumi.Output<string>;
  /** The selector of the host endpoints the policy applies to. */
  readonly selector: pulumi.Output<string>;
  /** The rendered Calico object. */
  readonly rendered: pulumi.Output<CalicoObject>;

  constructor(name: string, args: PreDnatPolicyArgs, opts?: pulumi.CustomResourceOptions) {
    const subject = `PreDnatPolicy "${name}"`;
    const apiVersion = plainApiVersion(args.apiVersion, subject, opts?.parent);
    const { hostEndpoints, ...rest } = args;
    checkTarget(subject, hostEndpoints, rest.selector, opts?.parent);
    const valid = validateArgs(preDnatPolicyArgsSchema, { ...rest, apiVersion }, subject, opts?.parent);
    const policySelector =
      hostEndpoints === undefined
        ? valid.apply((a) => a.selector!)
        : selectorOf(hostEndpoints, subject, true);
    const rendered = pulumi
      .all([valid, policySelector])
      .apply(([a, selector]) => renderPreDnatPolicy(name, a, selector));
    super(
      name,
      calicoResourceArgs("GlobalNetworkPolicy", rendered, apiVersion),
      calicoObjectOptions(
        name,
        "calico-xdp:index:PreDnatPolicy",
        `kubernetes:${apiVersion}:GlobalNetworkPolicy`,
        opts,
      ),
    );
    this.selector = policySelector;
    this.rendered = rendered;
    this.resourceName = rendered.metadata.name;
  }
}
