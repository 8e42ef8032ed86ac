import * as pulumi from "@pulumi/pulumi";
import type { z } from "zod";
import { calicoCustomResource, type Inputs, plainApiVersion, validateArgs } from "./args";
import { toDnsName } from "./calico/names";
import { type CalicoObject, renderHostEndpoint } from "./calico/render";
import {
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

const spec = hostEndpointSpecSchema.shape;

export const hostEndpointArgsSchema = strictObject({
  /** The Calico node name this interface belongs to (usually the Kubernetes node name). */
  node: spec.node,
  /**
   * The Linux interface to protect, e.g. `eth0`. `"*"` means all interfaces, but Calico ignores
   * untracked policy on such endpoints.
   * @default - no interface: the endpoint is identified by `expectedIPs` only
   */
  interfaceName: spec.interfaceName,
  /**
   * The IP addresses the interface carries; Calico uses them to match this endpoint in other rules.
   * @default - none (then `interfaceName` is required)
   */
  expectedIPs: spec.expectedIPs,
  /**
   * Labels that policies select this endpoint by, e.g. `{ hep: "redis-host" }`.
   * @default - none: no label selector picks the endpoint out (it can still rely on its profiles), so
   * `UntrackedPolicy` and `PreDnatPolicy` refuse it in their `hostEndpoints`
   */
  labels: labelsSchema.default({}),
  /**
   * Calico profiles applied to the endpoint.
   * @default - `["projectcalico-default-allow"]` unless `defaultAction` is `"Deny"`
   */
  profiles: spec.profiles,
  /** Named ports that policies can refer to by name. @default - none */
  ports: spec.ports,
  /**
   * What happens to traffic no policy decides. `"Allow"` adds the `projectcalico-default-allow` profile so
   * creating the endpoint cannot lock the node out; `"Deny"` is Calico's raw behaviour (only failsafe
   * ports stay open) and logs a warning listing what that blocks.
   * @default - "Allow"
   */
  defaultAction: exactEnum(["Allow", "Deny"], "a default action").default("Allow"),
  /**
   * The Calico resource name.
   * @default - the Pulumi resource name, lowercased and made DNS-1123 valid
   */
  resourceName: resourceNameSchema.optional(),
  /**
   * Render the native `projectcalico.org/v3` resource or the backing `crd.projectcalico.org/v1` CRD
   * (which bypasses Calico's validation and defaulting).
   * @default - "projectcalico.org/v3"
   */
  apiVersion: apiVersionSchema,
}).superRefine(checkEndpointIdentity);

export type HostEndpointArgs = Inputs<z.input<typeof hostEndpointArgsSchema>>;
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

/**
 * A Calico HostEndpoint: puts a node's interface under Calico policy.
 *
 * By default the endpoint carries the `projectcalico-default-allow` profile, so traffic that no policy
 * decides is still allowed and creating the endpoint cannot cut the node off.
 */
export class HostEndpoint extends pulumi.ComponentResource {
  /** The Calico resource name. */
  readonly resourceName: pulumi.Output<string>;
  /** The endpoint's labels. */
  readonly labels: pulumi.Output<Record<string, string>>;
  /** A Calico selector matching exactly this endpoint's labels (`!all()`, nothing, when it has none). */
  readonly selector: pulumi.Output<string>;
  /** The protected interface (`"*"` for all). */
  readonly interfaceName: pulumi.Output<string | undefined>;
  /** The endpoint's expected IPs: what a selector matching it holds, in Felix's IP sets and in XDP. */
  readonly expectedIPs: pulumi.Output<string[]>;
  /** The rendered Calico object. */
  readonly rendered: pulumi.Output<CalicoObject>;

  constructor(name: string, args: HostEndpointArgs, opts?: pulumi.ComponentResourceOptions) {
    const subject = `HostEndpoint "${name}"`;
    const apiVersion = plainApiVersion(args.apiVersion, subject, opts?.parent);
    const valid = validateArgs(hostEndpointArgsSchema, { ...args, apiVersion }, subject, opts?.parent);
    super("calico-xdp:index:HostEndpoint", name, {}, opts);
    valid.apply((a) => {
      if (a.defaultAction === "Deny") {
        pulumi.log.warn(
          `${subject} denies all traffic no policy allows (defaultAction "Deny"); failsafe ports do not cover: ${FAILSAFE_GAPS.join(", ")}`,
          this,
        );
      }
    });
    this.rendered = valid.apply((a) => renderHostEndpointArgs(name, a));
    this.resourceName = this.rendered.metadata.name;
    this.labels = valid.labels;
    this.selector = valid.apply((a) =>
      Object.keys(a.labels).length ? selector.matchLabels(a.labels) : "!all()",
    );
    this.interfaceName = valid.apply((a) => a.interfaceName);
    this.expectedIPs = valid.apply((a) => a.expectedIPs ?? []);
    calicoCustomResource(name, "HostEndpoint", this.rendered, apiVersion, this);
    this.registerOutputs({
      resourceName: this.resourceName,
      labels: this.labels,
      selector: this.selector,
      interfaceName: this.interfaceName,
      expectedIPs: this.expectedIPs,
    });
  }
}
