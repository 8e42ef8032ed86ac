import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { calicoCustomResource, type Inputs, plainApiVersion, validateArgs } from "./args";
import { toDnsName } from "./calico/names";
import { type CalicoObject, renderGlobalNetworkPolicy } from "./calico/render";
import { apiVersionSchema, globalNetworkPolicySpecSchema, policyNameSchema } from "./calico/resources";
import { egressRuleSchema, ingressRuleSchema, selectorSchema } from "./calico/rule";
import { selector as selectorBuilder } from "./calico/selector";
import { felixXdpEligibility, mirrorReturnRules, policyTypes, type XdpEligibility } from "./calico/untracked";
import { exactEnum, formatIssues, strictObject, ValidationError } from "./calico/zodkit";
import type { HostEndpoint } from "./hostEndpoint";
import { separateCredentials } from "./xdp/credentials";
import { xdpProgramArgsSchema } from "./xdp/programArgs";
import { isPlainObject, splitNodeSecrets, XdpProgram, type XdpProgramArgs } from "./xdpProgram";

export const untrackedPolicyArgsSchema = strictObject({
  /**
   * Calico selector of the host endpoints this policy applies to. Give this or `hostEndpoints`.
   * @default - built from `hostEndpoints`
   */
  selector: selectorSchema("selector").optional(),
  /**
   * Ingress rules, in Calico's Rule shape and spelling, evaluated in order before conntrack.
   * @default - none
   */
  ingress: z.array(ingressRuleSchema).optional(),
  /**
   * Egress rules for traffic the host itself sends, evaluated before conntrack.
   * @default - none (plus the mirrored return rules, see `returnTraffic`)
   */
  egress: z.array(egressRuleSchema).optional(),
  /**
   * Calico policy order: lower applies first among untracked policies.
   * @default - unset, which Calico orders last
   */
  order: z.number().finite().optional(),
  /**
   * Untracked policy is stateless, so replies need their own rules. `"mirror"` adds, for each ingress
   * Allow rule with a protocol and destination ports, the egress Allow of the replies (from those ports
   * back to the rule's sources), before the given egress rules. `"none"` adds nothing.
   * @default - "mirror"
   */
  returnTraffic: exactEnum(["mirror", "none"], "a returnTraffic mode").default("mirror"),
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
  /**
   * Enforce the ingress rules in XDP too: an `XdpProgram` child attaches the filter on these nodes'
   * interface (Calico's iptables rules stay in force for whatever XDP passes).
   * @default - no XDP program
   */
  xdp: strictObject({
    /** Nodes to attach on, with how to reach them. */
    nodes: xdpProgramArgsSchema.shape.nodes,
    /** The interface, usually the host endpoints' `interfaceName`. */
    interfaceName: xdpProgramArgsSchema.shape.interfaceName,
    /** @default - "auto" */
    mode: xdpProgramArgsSchema.shape.mode,
    /** @default - false */
    takeOver: xdpProgramArgsSchema.shape.takeOver,
    /** @default - Calico's default failsafe inbound ports */
    failsafeInbound: xdpProgramArgsSchema.shape.failsafeInbound,
  }).optional(),
}).superRefine((args, ctx) => {
  if (!args.ingress?.length && !args.egress?.length) {
    ctx.addIssue({
      code: "custom",
      path: ["ingress"],
      message: "is empty and so is egress: give at least one rule",
    });
  }
});

export type UntrackedPolicyArgs = Inputs<z.input<typeof untrackedPolicyArgsSchema>> & {
  /**
   * Host endpoints this policy applies to; the selector is built from their labels. Endpoints with
   * `interfaceName: "*"` are refused: Calico ignores untracked policy there.
   * @default - none: give `selector` instead
   */
  readonly hostEndpoints?: readonly HostEndpoint[];
};
export type ValidUntrackedPolicyArgs = z.output<typeof untrackedPolicyArgsSchema>;

/** Pure: validated args and the resolved selector -> the Calico GlobalNetworkPolicy object. */
export function renderUntrackedPolicy(
  name: string,
  args: ValidUntrackedPolicyArgs,
  selector: string,
): CalicoObject {
  const ingress = args.ingress ?? [];
  const egress = [
    ...(args.returnTraffic === "mirror" ? mirrorReturnRules(ingress) : []),
    ...(args.egress ?? []),
  ];
  const spec = globalNetworkPolicySpecSchema.safeParse({
    order: args.order,
    selector,
    types: policyTypes(ingress, egress),
    ingress,
    egress,
    doNotTrack: true,
    applyOnForward: true,
  });
  if (!spec.success)
    throw new ValidationError(`UntrackedPolicy "${name}" spec`, formatIssues(spec.error.issues));
  return renderGlobalNetworkPolicy(
    { name: args.resourceName ?? toDnsName(name), apiVersion: args.apiVersion },
    spec.data,
  );
}

/**
 * An untracked (`doNotTrack`) Calico GlobalNetworkPolicy for host endpoints: evaluated before conntrack,
 * so allowed connections never enter the conntrack table. Always renders `doNotTrack: true` and
 * `applyOnForward: true`, derives `types` from the rule lists, and mirrors return traffic by default.
 */
export class UntrackedPolicy extends pulumi.ComponentResource {
  /** The Calico resource name. */
  readonly resourceName: pulumi.Output<string>;
  /** The selector of the host endpoints the policy applies to. */
  readonly selector: pulumi.Output<string>;
  /** Per ingress rule: whether Calico's own Felix XDP would accelerate it, and why not. */
  readonly xdpEligibility: pulumi.Output<XdpEligibility[]>;
  /** The validated ingress rules (what an XDP filter enforces). */
  readonly ingress: pulumi.Output<ValidUntrackedPolicyArgs["ingress"]>;
  /** The rendered Calico object. */
  readonly rendered: pulumi.Output<CalicoObject>;
  /** The XDP filter enforcing the ingress rules, when `xdp` is given. */
  readonly xdpProgram?: XdpProgram;

  constructor(name: string, args: UntrackedPolicyArgs, opts?: pulumi.ComponentResourceOptions) {
    const subject = `UntrackedPolicy "${name}"`;
    const apiVersion = plainApiVersion(args.apiVersion, subject, opts?.parent);
    const { hostEndpoints, ...rest } = args;
    if ((hostEndpoints === undefined) === (rest.selector === undefined) || hostEndpoints?.length === 0) {
      throw new pulumi.ResourceError(
        `${subject}: give exactly one of selector or a non-empty hostEndpoints (got ${hostEndpoints === undefined ? "neither" : rest.selector === undefined ? "no host endpoints" : "both"})`,
        opts?.parent,
      );
    }
    // The policy is validated without the nodes' SSH secrets, so nothing rendered from it turns secret;
    // the XdpProgram child gets the nodes as given and checks the secrets itself.
    const { xdp: xdpArgs, ...policyArgs } = rest;
    let xdpNodes: unknown;
    let publicXdp: unknown;
    if (isPlainObject(xdpArgs)) {
      xdpNodes = xdpArgs.nodes;
      publicXdp = { ...xdpArgs, nodes: splitNodeSecrets(xdpNodes).nodes };
    } else if (xdpArgs !== undefined) {
      const resolved = pulumi.output(xdpArgs as unknown as pulumi.Input<{ nodes: unknown[] }>);
      xdpNodes = resolved.apply((x) => x.nodes);
      publicXdp = pulumi.unsecret(
        resolved.apply((x) => ({ ...x, nodes: separateCredentials(x.nodes).nodes })),
      );
    }
    const valid = validateArgs(
      untrackedPolicyArgsSchema,
      { ...policyArgs, ...(publicXdp === undefined ? {} : { xdp: publicXdp }), apiVersion },
      subject,
      opts?.parent,
    );
    super("calico-xdp:index:UntrackedPolicy", name, {}, opts);
    this.selector =
      hostEndpoints === undefined ? valid.apply((a) => a.selector!) : selectorOf(hostEndpoints, subject);
    this.rendered = pulumi
      .all([valid, this.selector])
      .apply(([a, selector]) => renderUntrackedPolicy(name, a, selector));
    this.resourceName = this.rendered.metadata.name;
    this.ingress = valid.apply((a) => a.ingress);
    this.xdpEligibility = valid.apply((a) => felixXdpEligibility(a.ingress ?? []));
    calicoCustomResource(name, "GlobalNetworkPolicy", this.rendered, apiVersion, this);
    if (args.xdp !== undefined) {
      const xdp = valid.apply((a) => a.xdp!);
      this.xdpProgram = new XdpProgram(
        `${name}-xdp`,
        {
          nodes: xdpNodes as XdpProgramArgs["nodes"],
          interfaceName: xdp.interfaceName,
          mode: xdp.mode,
          takeOver: xdp.takeOver,
          failsafeInbound: xdp.failsafeInbound,
          rules: this.ingress.apply((ingress) => ingress ?? []),
        },
        { parent: this },
      );
    }
    this.registerOutputs({
      resourceName: this.resourceName,
      selector: this.selector,
      xdpEligibility: this.xdpEligibility,
    });
  }
}

function selectorOf(hostEndpoints: readonly HostEndpoint[], subject: string): pulumi.Output<string> {
  const endpoints = hostEndpoints.map((hep) =>
    pulumi
      .all([hep.selector, hep.interfaceName, hep.resourceName])
      .apply(([selector, interfaceName, resourceName]) => ({ selector, interfaceName, resourceName })),
  );
  return pulumi.all(endpoints).apply((resolved) => selectorForHostEndpoints(resolved, subject));
}

/** Pure: the selector matching any of the endpoints; refuses all-interfaces endpoints. */
export function selectorForHostEndpoints(
  endpoints: readonly { selector: string; interfaceName?: string | undefined; resourceName: string }[],
  subject: string,
): string {
  const wildcard = endpoints.findIndex((e) => e.interfaceName === "*");
  if (wildcard >= 0) {
    throw new ValidationError(subject, [
      `hostEndpoints[${wildcard}] ("${endpoints[wildcard]!.resourceName}") has interfaceName "*": Calico does not apply untracked policy to all-interfaces endpoints; name the interface`,
    ]);
  }
  return selectorBuilder.or(...new Set(endpoints.map((e) => e.selector)));
}
