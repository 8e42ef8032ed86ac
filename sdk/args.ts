import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { z } from "zod";
import type { CalicoObject } from "./calico/render";
import { API_VERSIONS, type ApiVersion, apiVersionSchema } from "./calico/resources";
import { parseOrThrow, ValidationError } from "./calico/zodkit";

/** A value where any part (a field, an array item, a whole object) may be a Pulumi `Input`. */
export type DeepInput<T> = [T] extends [string | number | boolean | undefined | null]
  ? pulumi.Input<T>
  : T extends readonly (infer U)[]
    ? pulumi.Input<readonly DeepInput<U>[]>
    : T extends object
      ? pulumi.Input<{ readonly [K in keyof T]: DeepInput<T[K]> }>
      : pulumi.Input<T>;

/** Component args: every field, and anything inside it, may be a plain value or a Pulumi `Input`. */
export type Inputs<T> = { readonly [K in keyof T]: DeepInput<T[K]> };

/** Whether a value holds an Output or a Promise anywhere inside. */
export function containsUnresolved(value: unknown): boolean {
  if (pulumi.Output.isInstance(value) || value instanceof Promise) return true;
  if (Array.isArray(value)) return value.some(containsUnresolved);
  if (value !== null && typeof value === "object") return Object.values(value).some(containsUnresolved);
  return false;
}

/**
 * Validates component args, before the component registers (so a failure leaves nothing behind). Plain values are checked now, so a bad value throws from the constructor
 * (and `pulumi preview` fails before anything is sent); values that are Outputs are checked when they
 * resolve and fail the deployment with the same messages.
 */
export function validateArgs<S extends z.ZodType>(
  schema: S,
  args: unknown,
  subject: string,
  parent: pulumi.Resource | undefined,
): pulumi.Output<z.output<S>> {
  if (!containsUnresolved(args)) {
    try {
      return pulumi.output(parseOrThrow(schema, args, subject)) as pulumi.Output<z.output<S>>;
    } catch (error) {
      if (error instanceof ValidationError) throw new pulumi.ResourceError(error.message, parent);
      throw error;
    }
  }
  return pulumi
    .output(args as pulumi.Input<object>)
    .apply((resolved) => parseOrThrow(schema, resolved, subject)) as pulumi.Output<z.output<S>>;
}

/** The Calico API version, which must be plain: the Kubernetes type token is built from it. */
export function plainApiVersion(
  value: unknown,
  subject: string,
  parent: pulumi.Resource | undefined,
): ApiVersion {
  if (value === undefined || typeof value === "string") {
    const result = apiVersionSchema.safeParse(value);
    if (result.success) return result.data;
  }
  throw new pulumi.ResourceError(
    `${subject}: apiVersion ${JSON.stringify(value)} must be a plain string, one of ${API_VERSIONS.join(", ")}`,
    parent,
  );
}

/** The Calico object as a CustomResource child; `kind`/`apiVersion` are plain, the rest may be Outputs. */
export function calicoCustomResource(
  name: string,
  kind: CalicoObject["kind"],
  object: pulumi.Output<CalicoObject>,
  apiVersion: ApiVersion,
  parent: pulumi.Resource,
): k8s.apiextensions.CustomResource {
  return new k8s.apiextensions.CustomResource(
    name,
    {
      apiVersion,
      kind,
      metadata: object.metadata,
      spec: object.spec,
    } as k8s.apiextensions.CustomResourceArgs,
    { parent },
  );
}
