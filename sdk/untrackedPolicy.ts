import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import {
  type ArgsMatch,
  allValid,
  calicoCustomResource,
  containsUnresolved,
  derive,
  plainApiVersion,
  type Valid,
  validateArgs,
} from "./args";
import {
  DEFAULT_KEEP_REACHABLE,
  describeLockOut,
  lockOuts,
  reachableFlowSchema,
} from "./calico/reachability";
import type { CalicoObject } from "./calico/render";
import {
  type ApiVersion,
  apiVersionSchema,
  DEFAULT_FAILSAFE_INBOUND,
  type ProtoPort,
  policyNameSchema,
} from "./calico/resources";
import { egressRuleSchema, ingressRuleSchema, selectorSchema } from "./calico/rule";
import { felixXdpEligibility, mirrorReturnRules, policyTypes, type XdpEligibility } from "./calico/untracked";
import { exactEnum, formatIssues, parseOrThrow, strictObject, ValidationError } from "./calico/zodkit";
import type { FelixConfiguration } from "./felixConfiguration";
import { GlobalNetworkSet, networkSetViews } from "./globalNetworkSet";
import { endpointViews, HostEndpoint } from "./hostEndpoint";
import { checkTarget, renderPolicyOf, selectorOf } from "./hostEndpointPolicy";
import type { ReachableFlowArgs, RuleArgs, XdpHostEndpointArgs, XdpNetworkSetArgs } from "./inputs";
import { separateCredentials } from "./xdp/credentials";
import { type XdpDecision, xdpDecisions } from "./xdp/decides";
import { type XdpPolicy, xdpHostEndpointSchema, xdpNetworkSetSchema, xdpPolicySchema } from "./xdp/policy";
import { xdpProgramArgsSchema } from "./xdp/programArgs";
import { isPlainObject, splitNodeSecrets, XdpProgram, type XdpProgramArgs } from "./xdpProgram";

/** What an UntrackedPolicy's XDP filter is told: every XdpProgram option but `rules` (the policy's own). */
export interface UntrackedPolicyXdpArgs
  extends Omit<XdpProgramArgs, "rules" | "source" | "section" | "networkSets" | "hostEndpoints"> {
  /**
   * The interface to attach to on every node, usually the host endpoints' `interfaceName`.
   */
  readonly interfaceName: pulumi.Input<string>;
  /**
   * GlobalNetworkSets the rules' selectors can match, as components or `{ name, labels, nets }`: their
   * members are decided in XDP, and a change of their nets rewrites the filter's maps only.
   * @default - none
   */
  readonly networkSets?: readonly (GlobalNetworkSet | pulumi.Input<XdpNetworkSetArgs>)[];
  /**
   * HostEndpoints the rules' selectors can match, as components or `{ name, labels, expectedIPs }`.
   * @default - the policy's `hostEndpoints`
   */
  readonly hostEndpoints?: readonly (HostEndpoint | pulumi.Input<XdpHostEndpointArgs>)[];
}

/** The XdpProgram options an UntrackedPolicy passes on (the network sets and host endpoints aside). */
const xdpSettingsSchema = strictObject({
  nodes: xdpProgramArgsSchema.shape.nodes,
  interfaceName: xdpProgramArgsSchema.shape.interfaceName,
  mode: xdpProgramArgsSchema.shape.mode,
  takeOver: xdpProgramArgsSchema.shape.takeOver,
  failsafeInbound: xdpProgramArgsSchema.shape.failsafeInbound,
  failsafeOutbound: xdpProgramArgsSchema.shape.failsafeOutbound,
  selectorScope: xdpProgramArgsSchema.shape.selectorScope,
  enforce: xdpProgramArgsSchema.shape.enforce,
  concurrency: xdpProgramArgsSchema.shape.concurrency,
  force: xdpProgramArgsSchema.shape.force,
});
true satisfies ArgsMatch<
  Omit<UntrackedPolicyXdpArgs, "networkSets" | "hostEndpoints" | "felixConfiguration">,
  z.input<typeof xdpSettingsSchema>
>;

/** The arguments of an {@link UntrackedPolicy}. */
export interface UntrackedPolicyArgs {
  /**
   * Calico selector of the host endpoints this policy applies to. Give this or `hostEndpoints`.
   * @default - built from `hostEndpoints`
   */
  readonly selector?: pulumi.Input<string>;
  /**
   * Host endpoints this policy applies to; the selector is built from their labels. Endpoints with
   * `interfaceName: "*"` are refused: Calico ignores untracked policy there.
   * @default - none: give `selector` instead
   */
  readonly hostEndpoints?: readonly HostEndpoint[];
  /**
   * Ingress rules, in Calico's Rule shape and spelling, evaluated in order before conntrack.
   * @default - none
   */
  readonly ingress?: pulumi.Input<pulumi.Input<RuleArgs>[]>;
  /**
   * Egress rules for traffic the host itself sends, evaluated before conntrack.
   * @default - none (plus the mirrored return rules, see `returnTraffic`)
   */
  readonly egress?: pulumi.Input<pulumi.Input<RuleArgs>[]>;
  /**
   * Calico policy order: lower applies first among untracked policies.
   * @default - unset, which Calico orders last
   */
  readonly order?: pulumi.Input<number>;
  /**
   * Untracked policy is stateless, so replies need their own rules. `"mirror"` adds, for each ingress
   * Allow rule with a protocol and destination ports, the egress Allow of the replies (from those ports
   * back to the rule's sources), before the given egress rules. `"none"` adds nothing.
   * @default - "mirror"
   */
  readonly returnTraffic?: pulumi.Input<"mirror" | "none">;
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
  /**
   * Flows that must stay reachable, checked at preview: it fails, naming the flow and the rule, when
   * the ingress rules, evaluated as Calico does (first match, after the failsafe ports), deny or may
   * deny one of them to any of its sources. The failsafe ports counted are Felix's (those of
   * `xdp.felixConfiguration`, else Calico's defaults) and, with `xdp`, those the filter keeps open too.
   * `[]` turns the check off.
   * @default - Calico's default failsafe inbound ports (SSH, DHCP, BGP, etcd, Typha, the API server) from anywhere
   */
  readonly keepReachable?: pulumi.Input<pulumi.Input<ReachableFlowArgs>[]>;
  /**
   * Enforce the ingress rules in XDP too: an `XdpProgram` child attaches the filter on these nodes'
   * interface (Calico's iptables rules stay in force for whatever XDP passes).
   * @default - no XDP program
   */
  readonly xdp?: pulumi.Input<UntrackedPolicyXdpArgs>;
}

export const untrackedPolicyArgsSchema = strictObject({
  selector: selectorSchema("selector").optional(),
  ingress: z.array(ingressRuleSchema).optional(),
  egress: z.array(egressRuleSchema).optional(),
  order: z.number().finite().optional(),
  returnTraffic: exactEnum(["mirror", "none"], "a returnTraffic mode").default("mirror"),
  resourceName: policyNameSchema.optional(),
  apiVersion: apiVersionSchema,
  keepReachable: z.array(reachableFlowSchema).optional(),
  xdp: xdpSettingsSchema.optional(),
}).superRefine((args, ctx) => {
  if (!args.ingress?.length && !args.egress?.length) {
    ctx.addIssue({
      code: "custom",
      path: ["ingress"],
      message: "is empty and so is egress: give at least one rule",
    });
  }
});
true satisfies ArgsMatch<
  Omit<UntrackedPolicyArgs, "hostEndpoints" | "xdp">,
  Omit<z.input<typeof untrackedPolicyArgsSchema>, "xdp">
>;

export type ValidUntrackedPolicyArgs = z.output<typeof untrackedPolicyArgsSchema>;

/**
 * Pure: the keepReachable flows the ingress rules deny or may deny, as sentences. `felixInbound` is
 * Felix's failsafe inbound list; `xdp`, the policy as its filter sees it, when there is one.
 */
export function keepReachableProblems(
  args: ValidUntrackedPolicyArgs,
  felixInbound: readonly ProtoPort[],
  xdp?: XdpPolicy,
): string[] {
  const flows = args.keepReachable ?? DEFAULT_KEEP_REACHABLE;
  const ingress = args.ingress ?? [];
  const found = lockOuts(flows, {
    ingress,
    networkSets: xdp?.networkSets ?? [],
    hostEndpoints: xdp?.hostEndpoints ?? [],
    selectorScope: xdp?.selectorScope ?? "open",
    // A packet meets Felix's failsafe chain and, with XDP, the filter's list as well.
    failsafe: xdp ? [felixInbound, xdp.failsafeInbound] : [felixInbound],
  });
  return found.map((lockOut) => describeLockOut(lockOut, flows[lockOut.flow]!, ingress[lockOut.rule]!));
}

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
  return renderPolicyOf(`UntrackedPolicy "${name}"`, name, args, {
    order: args.order,
    selector,
    types: policyTypes(ingress, egress),
    ingress,
    egress,
    doNotTrack: true,
    applyOnForward: true,
  });
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
  /**
   * Per ingress rule: whether this package's XDP filter decides its packets `always`, for some
   * (`members` of the selected sets, or the listed numeric ports), or `never`, and why.
   */
  readonly xdpDecides: pulumi.Output<XdpDecision[]>;
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
    checkTarget(subject, hostEndpoints, rest.selector, opts?.parent);
    // The policy is validated without the nodes' SSH secrets, so nothing rendered from it turns secret;
    // the XdpProgram child gets the nodes as given and checks the secrets itself.
    const { xdp: xdpArgs, ...policyArgs } = rest;
    const ownEndpoints = allValid(
      (hostEndpoints ?? []).map((hep) => asXdpHostEndpoint(hep) as Valid<unknown>),
    );
    let xdpNodes: unknown;
    let publicXdp: unknown;
    let felixConfiguration: FelixConfiguration | undefined;
    let explicit: Record<string, unknown> = {};
    // The objects the selectors can match; resources become their outputs.
    let networkSets: pulumi.Input<unknown[]> = [];
    let selectableEndpoints: pulumi.Input<unknown[]> = ownEndpoints;
    if (isPlainObject(xdpArgs)) {
      const {
        networkSets: sets,
        hostEndpoints: endpoints,
        felixConfiguration: felix,
        ...settings
      } = xdpArgs as Record<string, unknown> &
        Pick<UntrackedPolicyXdpArgs, "networkSets" | "hostEndpoints" | "felixConfiguration">;
      felixConfiguration = felix;
      explicit = settings;
      xdpNodes = settings.nodes;
      publicXdp = { ...settings, nodes: splitNodeSecrets(xdpNodes).nodes };
      networkSets = selectable(
        sets ?? [],
        GlobalNetworkSet,
        asXdpNetworkSet,
        xdpNetworkSetSchema,
        "networkSets",
        subject,
        opts,
      );
      if (endpoints !== undefined)
        selectableEndpoints = selectable(
          endpoints,
          HostEndpoint,
          asXdpHostEndpoint,
          xdpHostEndpointSchema,
          "hostEndpoints",
          subject,
          opts,
        );
    } else if (xdpArgs !== undefined) {
      const resolved = pulumi.output(xdpArgs as unknown as pulumi.Input<Record<string, unknown>>);
      xdpNodes = resolved.apply((x) => x.nodes);
      publicXdp = pulumi.unsecret(
        resolved.apply(({ networkSets: _sets, hostEndpoints: _endpoints, ...x }) => ({
          ...x,
          nodes: separateCredentials(x.nodes as unknown as unknown[]).nodes,
        })),
      );
      networkSets = resolved.apply((x) => (x.networkSets as unknown[] | undefined) ?? []);
      selectableEndpoints = pulumi
        .all([resolved, ownEndpoints])
        .apply(([x, own]) => (x.hostEndpoints as unknown[] | undefined) ?? own);
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
    this.xdpEligibility = valid.apply((a) => felixXdpEligibility(a.ingress ?? []));
    const felixInbound = felixConfiguration?.failsafeInboundHostPorts ?? [...DEFAULT_FAILSAFE_INBOUND];
    // The policy as XDP sees it, with a FelixConfiguration's failsafe list when one is the source.
    const view = pulumi
      .all([valid, networkSets, selectableEndpoints, felixInbound])
      .apply(([a, sets, endpoints, felixList]) =>
        parseOrThrow(
          xdpPolicySchema,
          {
            ingress: a.ingress ?? [],
            networkSets: sets,
            hostEndpoints: endpoints,
            ...(a.xdp
              ? {
                  selectorScope: a.xdp.selectorScope,
                  failsafeInbound:
                    felixConfiguration && explicit.failsafeInbound === undefined
                      ? felixList
                      : a.xdp.failsafeInbound,
                  failsafeOutbound: a.xdp.failsafeOutbound,
                }
              : {}),
          },
          subject,
        ),
      );
    this.xdpDecides = view.apply(xdpDecisions);
    // Without XDP its limits do not apply, and the proof knows no objects a selector may match.
    const reachable = pulumi
      .all([valid, felixInbound, args.xdp === undefined ? undefined : view])
      .apply(([a, felixList, v]) => {
        const problems = keepReachableProblems(a, felixList, v);
        if (problems.length > 0) throw new ValidationError(subject, problems);
      });
    // A policy that could lock a node out is neither rendered nor given to XDP: preview fails first.
    this.ingress = pulumi.all([valid, reachable]).apply(([a]) => a.ingress);
    this.rendered = pulumi
      .all([valid, this.selector, reachable])
      .apply(([a, selector]) => renderUntrackedPolicy(name, a, selector));
    this.resourceName = this.rendered.metadata.name;
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
          // With a FelixConfiguration, only lists the user wrote (the schema's defaults are not theirs).
          ...(felixConfiguration === undefined
            ? { failsafeInbound: xdp.failsafeInbound, failsafeOutbound: xdp.failsafeOutbound }
            : {
                failsafeInbound: explicit.failsafeInbound === undefined ? undefined : xdp.failsafeInbound,
                failsafeOutbound: explicit.failsafeOutbound === undefined ? undefined : xdp.failsafeOutbound,
                felixConfiguration,
              }),
          networkSets: networkSets as XdpProgramArgs["networkSets"],
          hostEndpoints: selectableEndpoints as XdpProgramArgs["hostEndpoints"],
          selectorScope: xdp.selectorScope,
          enforce: xdp.enforce,
          concurrency: xdp.concurrency,
          force: xdp.force,
          rules: this.ingress.apply((ingress) => ingress ?? []),
        },
        { parent: this },
      );
    }
    this.registerOutputs({
      resourceName: this.resourceName,
      selector: this.selector,
      xdpEligibility: this.xdpEligibility,
      xdpDecides: this.xdpDecides,
    });
  }
}

/**
 * Objects for XDP's selectors: resources become their outputs; plain objects are checked now (so a bad
 * net fails at construction, naming the field) and stay plain.
 */
function selectable<C>(
  items: readonly unknown[],
  component: abstract new (...args: never[]) => C,
  asXdp: (item: never) => pulumi.Input<unknown>,
  schema: z.ZodType,
  field: "networkSets" | "hostEndpoints",
  subject: string,
  opts: pulumi.ComponentResourceOptions | undefined,
): pulumi.Input<unknown[]> {
  for (const [i, item] of items.entries()) {
    if (item instanceof component || containsUnresolved(item)) continue;
    const checked = schema.safeParse(item);
    if (!checked.success) {
      const issues = checked.error.issues.map((issue) => ({
        ...issue,
        path: ["xdp", field, i, ...issue.path],
      }));
      throw new pulumi.ResourceError(`${subject}: ${formatIssues(issues).join("; ")}`, opts?.parent);
    }
  }
  return items.some((item) => item instanceof component)
    ? pulumi.all(items.map((item) => asXdp(item as never)))
    : [...items];
}

/** A network set as XDP sees it: a GlobalNetworkSet's view, or the object as given. */
function asXdpNetworkSet(set: GlobalNetworkSet | pulumi.Input<XdpNetworkSetArgs>): pulumi.Input<unknown> {
  return set instanceof GlobalNetworkSet
    ? derive(networkSetViews.get(set), (v) => ({ name: v.resourceName, labels: v.labels, nets: v.nets }))
    : (set as pulumi.Input<unknown>);
}

function asXdpHostEndpoint(
  endpoint: HostEndpoint | pulumi.Input<XdpHostEndpointArgs>,
): pulumi.Input<unknown> {
  return endpoint instanceof HostEndpoint
    ? derive(endpointViews.get(endpoint), (v) => ({
        name: v.resourceName,
        labels: v.labels,
        expectedIPs: v.expectedIPs,
      }))
    : (endpoint as pulumi.Input<unknown>);
}
