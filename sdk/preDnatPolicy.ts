import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { calicoCustomResource, type Inputs, plainApiVersion, validateArgs } from "./args";
import type { CalicoObject } from "./calico/render";
import { apiVersionSchema, policyNameSchema } from "./calico/resources";
import { ingressRuleSchema, selectorSchema } from "./calico/rule";
import { strictObject } from "./calico/zodkit";
import type { HostEndpoint } from "./hostEndpoint";
import { checkTarget, renderPolicyOf, selectorOf } from "./hostEndpointPolicy";

export const preDnatPolicyArgsSchema = strictObject({
  /**
   * Calico selector of the host endpoints this policy applies to. Give this or `hostEndpoints`.
   * @default - built from `hostEndpoints`
   */
  selector: selectorSchema("selector").optional(),
  /**
   * Ingress rules, evaluated before DNAT: `destination.ports` are the ports clients connect to (a
   * NodePort), not the pod's port the service forwards to.
   */
  ingress: z.array(ingressRuleSchema).min(1, "is empty: a pre-DNAT policy has only ingress rules, give one"),
  /**
   * Calico policy order: lower applies first among pre-DNAT policies.
   * @default - unset, which Calico orders last
   */
  order: z.number().finite().optional(),
  /**
   * The Calico GlobalNetworkPolicy name (at most one '.').
   * @default - the Pulumi resource name, lowercased and made DNS-1123 valid
   */
  resourceName: policyNameSchema.optional(),
  /**
   * Render the native `projectcalico.org/v3` resource or the backing `crd.projectcalico.org/v1` CRD.
   * @default - "projectcalico.org/v3"
   */
  apiVersion: apiVersionSchema,
});

export type PreDnatPolicyArgs = Inputs<z.input<typeof preDnatPolicyArgsSchema>> & {
  /**
   * Host endpoints this policy applies to; the selector is built from their labels. All-interfaces
   * endpoints (`interfaceName: "*"`, such as Calico's automatic ones) are allowed: pre-DNAT policy
   * applies to them.
   * @default - none: give `selector` instead
   */
  readonly hostEndpoints?: readonly HostEndpoint[];
};
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
 * and `types: [Ingress]`.
 */
export class PreDnatPolicy extends pulumi.ComponentResource {
  /** The Calico resource name. */
  readonly resourceName: pulumi.Output<string>;
  /** The selector of the host endpoints the policy applies to. */
  readonly selector: pulumi.Output<string>;
  /** The rendered Calico object. */
  readonly rendered: pulumi.Output<CalicoObject>;

  constructor(name: string, args: PreDnatPolicyArgs, opts?: pulumi.ComponentResourceOptions) {
    const subject = `PreDnatPolicy "${name}"`;
    const apiVersion = plainApiVersion(args.apiVersion, subject, opts?.parent);
    const { hostEndpoints, ...rest } = args;
    checkTarget(subject, hostEndpoints, rest.selector, opts?.parent);
    const valid = validateArgs(preDnatPolicyArgsSchema, { ...rest, apiVersion }, subject, opts?.parent);
    super("calico-xdp:index:PreDnatPolicy", name, {}, opts);
    this.selector =
      hostEndpoints === undefined
        ? valid.apply((a) => a.selector!)
        : selectorOf(hostEndpoints, subject, true);
    this.rendered = pulumi
      .all([valid, this.selector])
      .apply(([a, selector]) => renderPreDnatPolicy(name, a, selector));
    this.resourceName = this.rendered.metadata.name;
    calicoCustomResource(name, "GlobalNetworkPolicy", this.rendered, apiVersion, this);
    this.registerOutputs({ resourceName: this.resourceName, selector: this.selector });
  }
}
