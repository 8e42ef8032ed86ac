import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { z } from "zod";
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
import { type CalicoObject, renderHostEndpoint } from "./calico/render";
import {
  type ApiVersion,
  apiVersionSchema,
  checkEndpointIdentity,
  hostEndpointSpecSchema,
  labelsSchema,
  resourceNameSchema,
} from "./calico/resources";
import { selector } from "./calico/selector";
import { exactEnum, strictObject } from "./calico/zodkit";

/** Calico's built-in profile that allows all traffic on an endpoint no policy applies to. */
export const DEFAULT_ALLOW_PROFILE = "projectcalico-default-allow";

/** What failsafe ports leave blocked on a default-deny host endpoint (Calico's docs). */
export const FAILSAFE_GAPS = [
  "outbound TCP 443 (image pulls, API calls)",
  "outbound UDP 123 (NTP)",
  "outbound TCP 53 (DNS over TCP)",
  "inbound TCP 10250 (kubelet)",
  "inbound TCP/UDP 30000-32767 (NodePorts)",
] as const;

/** A named port of a host endpoint: rules can name it in `ports` instead of its number. */
export interface EndpointPortArgs {
  /** The name rules refer to: lowercase letters, digits and '-', starting with a letter. */
  readonly name: pulumi.Input<string>;
  /** The port number, 1..65535. */
  readonly port: pulumi.Input<number>;
  /** A protocol with ports: `"TCP"`, `"UDP"` or `"SCTP"` (exact case), or its number (6, 17, 132). */
  readonly protocol: pulumi.Input<string | number>;
}

/** The arguments of a {@link HostEndpoint}. */
export interface HostEndpointArgs {
  /** The Calico node name this interface belongs to (usually the Kubernetes node name). */
  readonly node: pulumi.Input<string>;
  /**
   * The Linux interface to protect, e.g. `eth0`. `"*"` means all interfaces, but Calico ignores
   * untracked policy on such endpoints.
   * @default - no interface: the endpoint is identified by `expectedIPs` only
   */
  readonly interfaceName?: pulumi.Input<string>;
  /**
   * The IP addresses the interface carries; Calico uses them to match this endpoint in other rules.
   * @default - none (then `interfaceName` is required)
   */
  readonly expectedIPs?: pulumi.Input<pulumi.Input<string>[]>;
  /**
   * Labels that policies select this endpoint by, e.g. `{ hep: "redis-host" }`.
   * @default - none: no label selector picks the endpoint out (it can still rely on its profiles), so
   * `UntrackedPolicy` and `PreDnatPolicy` refuse it in their `hostEndpoints`
   */
  readonly labels?: pulumi.Input<Record<string, pulumi.Input<string>>>;
  /**
   * Calico profiles applied to the endpoint.
   * @default - `["projectcalico-default-allow"]` unless `defaultAction` is `"Deny"`
   */
  readonly profiles?: pulumi.Input<pulumi.Input<string>[]>;
  /**
   * Named ports that policies can refer to by name.
   * @default - none
   */
  readonly ports?: pulumi.Input<pulumi.Input<EndpointPortArgs>[]>;
  /**
   * What happens to traffic no policy decides. `"Allow"` adds the `projectcalico-default-allow` profile so
   * creating the endpoint cannot lock the node out; `"Deny"` is Calico's raw behaviour (only failsafe
   * ports stay open) and logs a warning listing what that blocks.
   * @default - "Allow"
   */
  readonly defaultAction?: pulumi.Input<"Allow" | "Deny">;
  /**
   * The Calico resource name.
   * @default - the Pulumi resource name, lowercased and made DNS-1123 valid
   */
  readonly resourceName?: pulumi.Input<string>;
  /**
   * Render the native `projectcalico.org/v3` resource or the backing `crd.projectcalico.org/v1` CRD
   * (which bypasses Calico's validation and defaulting). A plain value: the resource's type depends on it.
   * @default - "projectcalico.org/v3"
   */
  readonly apiVersion?: ApiVersion;
}

const spec = hostEndpointSpecSchema.shape;

export const hostEndpointArgsSchema = strictObject({
  node: spec.node,
  interfaceName: spec.interfaceName,
  expectedIPs: spec.expectedIPs,
  labels: labelsSchema.default({}),
  profiles: spec.profiles,
  ports: spec.ports,
  defaultAction: exactEnum(["Allow", "Deny"], "a default action").default("Allow"),
  resourceName: resourceNameSchema.optional(),
  apiVersion: apiVersionSchema,
}).superRefine(checkEndpointIdentity);
true satisfies ArgsMatch<HostEndpointArgs, z.input<typeof hostEndpointArgsSchema>>;

export type ValidHostEndpointArgs = z.output<typeof hostEndpointArgsSchema>;

/** Pure: validated args -> the Calico HostEndpoint object. */
export function renderHostEndpointArgs(name: string, args: ValidHostEndpointArgs): CalicoObject {
  const profiles = args.profiles ?? (args.defaultAction === "Allow" ? [DEFAULT_ALLOW_PROFILE] : undefined);
  return renderHostEndpoint(
    { name: args.resourceName ?? toDnsName(name), labels: args.labels, apiVersion: args.apiVersion },
    hostEndpointSpecSchema.parse({
      node: args.node,
      interfaceName: args.interfaceName,
      expectedIPs: args.expectedIPs,
      profiles,
      ports: args.ports,
    }),
  );
}

/** What policies read from a HostEndpoint. */
export interface EndpointView {
  readonly resourceName: string;
  readonly labels: Record<string, string>;
  readonly selector: string;
  readonly interfaceName: string | undefined;
  readonly expectedIPs: string[];
  readonly rendered: CalicoObject;
}

/** Internal: each HostEndpoint's view, for the policies that select it. */
export const endpointViews = new Views<HostEndpoint, EndpointView>();

/** Pure: validated args -> what policies read from the endpoint, its rendered object among it. */
export function endpointView(name: string, args: ValidHostEndpointArgs): EndpointView {
  const rendered = renderHostEndpointArgs(name, args);
  return {
    resourceName: rendered.metadata.name,
    labels: args.labels,
    selector: Object.keys(args.labels).length ? selector.matchLabels(args.labels) : "!all()",
    interfaceName: args.interfaceName,
    expectedIPs: args.expectedIPs ?? [],
    rendered,
  };
}

/**
 * A Calico HostEndpoint: puts a node's interface under Calico policy.
 *
 * By default the endpoint carries the `projectcalico-default-allow` profile, so traffic that no policy
 * decides is still allowed and creating the endpoint cannot cut the node off.
 *
 * The resource is the Calico object itself (a `CustomResource` of kind HostEndpoint), not a component
 * around one: a stack has as many resources as Calico objects, and previews a fleet as fast.
 */
export class HostEndpoint extends k8s.apiextensions.CustomResource {
  /** The Calico resource name. */
  get resourceName(): pulumi.Output<string> {
    return endpointViews.output(this, (v) => v.resourceName);
  }
  /** The endpoint's labels. */
  get labels(): pulumi.Output<Record<string, string>> {
    return endpointViews.output(this, (v) => v.labels);
  }
  /** A Calico selector matching exactly this endpoint's labels (`!all()`, nothing, when it has none). */
  get selector(): pulumi.Output<string> {
    return endpointViews.output(this, (v) => v.selector);
  }
  /** The protected interface (`"*"` for all). */
  get interfaceName(): pulumi.Output<string | undefined> {
    return endpointViews.output(this, (v) => v.interfaceName);
  }
  /** The endpoint's expected IPs: what a selector matching it holds, in Felix's IP sets and in XDP. */
  get expectedIPs(): pulumi.Output<string[]> {
    return endpointViews.output(this, (v) => v.expectedIPs);
  }
  /** The rendered Calico object. */
  get rendered(): pulumi.Output<CalicoObject> {
    return endpointViews.output(this, (v) => v.rendered);
  }

  constructor(name: string, args: HostEndpointArgs, opts?: pulumi.CustomResourceOptions) {
    const subject = `HostEndpoint "${name}"`;
    const apiVersion = plainApiVersion(args.apiVersion, subject, opts?.parent);
    const checked = checkArgs(hostEndpointArgsSchema, { ...args, apiVersion }, subject, opts?.parent);
    const view = derive(checked, (a) => endpointView(name, a));
    super(
      name,
      calicoResourceArgs(
        "HostEndpoint",
        derive(view, (v) => v.rendered),
        apiVersion,
      ),
      calicoObjectOptions(
        name,
        "calico-xdp:index:HostEndpoint",
        `kubernetes:${apiVersion}:HostEndpoint`,
        opts,
      ),
    );
    endpointViews.set(this, view);
    derive(checked, (a) => {
      if (a.defaultAction === "Deny") {
        pulumi.log.warn(
          `${subject} denies all traffic no policy allows (defaultAction "Deny"); failsafe ports do not cover: ${FAILSAFE_GAPS.join(", ")}`,
          this,
        );
      }
    });
  }
}
