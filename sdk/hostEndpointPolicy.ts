/**
 * What UntrackedPolicy and PreDnatPolicy share: the host endpoints (or selector) a policy applies to,
 * and the GlobalNetworkPolicy they render.
 */
import * as pulumi from "@pulumi/pulumi";
import type { z } from "zod";
import { allValid, asOutput } from "./args";
import { toDnsName } from "./calico/names";
import { type CalicoObject, renderGlobalNetworkPolicy } from "./calico/render";
import { type ApiVersion, globalNetworkPolicySpecSchema } from "./calico/resources";
import { selector as selectorBuilder } from "./calico/selector";
import { formatIssues, ValidationError } from "./calico/zodkit";
import { endpointViews, type HostEndpoint } from "./hostEndpoint";

/**
 * A policy's GlobalNetworkPolicy from the spec it builds: checked once more as a whole (its own parts
 * were checked one by one), named as the Pulumi resource.
 */
export function renderPolicyOf(
  subject: string,
  name: string,
  args: {
    readonly resourceName?: string | undefined;
    readonly apiVersion: ApiVersion;
  },
  spec: z.input<typeof globalNetworkPolicySpecSchema>,
): CalicoObject {
  const checked = globalNetworkPolicySpecSchema.safeParse(spec);
  if (!checked.success) throw new ValidationError(`${subject} spec`, formatIssues(checked.error.issues));
  return renderGlobalNetworkPolicy(
    { name: args.resourceName ?? toDnsName(name), apiVersion: args.apiVersion },
    checked.data,
  );
}

/** A policy applies to a selector or to host endpoints: exactly one of them. */
export function checkTarget(
  subject: string,
  hostEndpoints: readonly HostEndpoint[] | undefined,
  selector: unknown,
  parent: pulumi.Resource | undefined,
): void {
  if ((hostEndpoints === undefined) === (selector === undefined) || hostEndpoints?.length === 0) {
    throw new pulumi.ResourceError(
      `${subject}: give exactly one of selector or a non-empty hostEndpoints (got ${hostEndpoints === undefined ? "neither" : selector === undefined ? "no host endpoints" : "both"})`,
      parent,
    );
  }
}

/** The selector of the given endpoints; `allInterfaces` says whether `interfaceName: "*"` ones may be among them. */
export function selectorOf(
  hostEndpoints: readonly HostEndpoint[],
  subject: string,
  allInterfaces = false,
): pulumi.Output<string> {
  return asOutput(allValid(hostEndpoints.map((hep) => endpointViews.get(hep)))).apply((views) =>
    selectorForHostEndpoints(
      views.map((v) => ({ ...v, labelled: Object.keys(v.labels).length > 0 })),
      subject,
      allInterfaces,
    ),
  );
}

/** Pure: the selector matching any of the endpoints; refuses all-interfaces endpoints unless `allInterfaces`. */
export function selectorForHostEndpoints(
  endpoints: readonly {
    selector: string;
    interfaceName?: string | undefined;
    resourceName: string;
    labelled?: boolean;
  }[],
  subject: string,
  allInterfaces = false,
): string {
  const unlabelled = endpoints.findIndex((e) => e.labelled === false);
  if (unlabelled >= 0) {
    throw new ValidationError(subject, [
      `hostEndpoints[${unlabelled}] ("${endpoints[unlabelled]!.resourceName}") has no labels, so no selector can apply the policy to it: give it labels`,
    ]);
  }
  const wildcard = allInterfaces ? -1 : endpoints.findIndex((e) => e.interfaceName === "*");
  if (wildcard >= 0) {
    throw new ValidationError(subject, [
      `hostEndpoints[${wildcard}] ("${endpoints[wildcard]!.resourceName}") has interfaceName "*": Calico does not apply untracked policy to all-interfaces endpoints; name the interface`,
    ]);
  }
  return selectorBuilder.or(...new Set(endpoints.map((e) => e.selector)));
}
