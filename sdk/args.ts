import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { z } from "zod";
import type { CalicoObject } from "./calico/render";
import { API_VERSIONS, type ApiVersion, apiVersionSchema } from "./calico/resources";
import { parseOrThrow, ValidationError } from "./calico/zodkit";

/**
 * The plain shape of a type, for comparing two: Inputs resolved, and every optional field required and
 * not undefined, at every depth (so a field missing on one side shows).
 */
type Shape<T> = unknown extends T
  ? unknown
  : T extends pulumi.OutputInstance<infer U> | Promise<infer U>
    ? Shape<U>
    : T extends string | number | boolean | bigint | symbol | null | undefined | pulumi.Resource
      ? T
      : T extends readonly (infer U)[]
        ? Shape<U>[]
        : { [K in keyof T]-?: Shape<Exclude<T[K], undefined>> };

/**
 * `true` when a hand-written args interface has exactly the fields of a schema's input at every depth,
 * with types each side accepts from the other; checked as
 * `true satisfies ArgsMatch<XxxArgs, z.input<typeof xxxArgsSchema>>`, so the documented types cannot
 * drift from what is validated.
 */
export type ArgsMatch<Args, Input> = [Shape<Args>] extends [Shape<Input>]
  ? [Shape<Input>] extends [Shape<Args>]
    ? true
    : false
  : false;

/** Whether a value holds an Output or a Promise anywhere inside. */
export function containsUnresolved(value: unknown): boolean {
  if (pulumi.Output.isInstance(value) || value instanceof Promise) return true;
  if (Array.isArray(value)) return value.some(containsUnresolved);
  if (value !== null && typeof value === "object") return Object.values(value).some(containsUnresolved);
  return false;
}

/** Validated args and what is derived from them: plain when the args held no Output, else an Output. */
export type Valid<T> = T | pulumi.Output<T>;

/** Derives from validated args, staying plain when they are (so a resource built from it registers without waiting). */
export function derive<T, U>(valid: Valid<T>, f: (value: T) => U): Valid<U> {
  return pulumi.Output.isInstance(valid) ? (valid.apply(f) as pulumi.Output<U>) : f(valid);
}

/** As an Output, keeping the type (`pulumi.output` would deep-unwrap it). */
export function asOutput<T>(valid: Valid<T>): pulumi.Output<T> {
  return pulumi.output(valid) as pulumi.Output<T>;
}

/**
 * What other resources read from each resource of a kind (a policy from its endpoints, say): plain when
 * the resource's args were, so they derive from it without an Output per field. The resource's own
 * Output fields are made from it when read.
 */
export class Views<R extends object, V> {
  readonly #views = new WeakMap<R, Valid<V>>();

  set(resource: R, view: Valid<V>): void {
    this.#views.set(resource, view);
  }

  get(resource: R): Valid<V> {
    const view = this.#views.get(resource);
    if (view === undefined) throw new Error("no view of a resource that was never constructed");
    return view;
  }

  /** One field of the view, as an Output. */
  output<T>(resource: R, field: (view: V) => T): pulumi.Output<T> {
    return asOutput(derive(this.get(resource), field));
  }
}

/** Every one of them: a plain array when none is an Output, else one Output. */
export function allValid<T>(items: readonly Valid<T>[]): Valid<T[]> {
  return items.some((item) => pulumi.Output.isInstance(item))
    ? (pulumi.all(items as pulumi.Output<T>[]) as pulumi.Output<T[]>)
    : (items as T[]);
}

/**
 * Validates args, before the resource registers (so a failure leaves nothing behind). Plain values are
 * checked now, so a bad value throws from the constructor (and `pulumi preview` fails before anything is
 * sent); values that are Outputs are checked when they resolve and fail the deployment with the same
 * messages.
 */
export function checkArgs<S extends z.ZodType>(
  schema: S,
  args: unknown,
  subject: string,
  parent: pulumi.Resource | undefined,
): Valid<z.output<S>> {
  if (!containsUnresolved(args)) {
    try {
      return parseOrThrow(schema, args, subject);
    } catch (error) {
      if (error instanceof ValidationError) throw new pulumi.ResourceError(error.message, parent);
      throw error;
    }
  }
  return pulumi
    .output(args as pulumi.Input<object>)
    .apply((resolved) => parseOrThrow(schema, resolved, subject)) as pulumi.Output<z.output<S>>;
}

/** {@link checkArgs}, as an Output either way. */
export function validateArgs<S extends z.ZodType>(
  schema: S,
  args: unknown,
  subject: string,
  parent: pulumi.Resource | undefined,
): pulumi.Output<z.output<S>> {
  return asOutput(checkArgs(schema, args, subject, parent));
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

/** The CustomResource args of a rendered Calico object; `kind`/`apiVersion` are plain, the rest may be Outputs. */
export function calicoResourceArgs(
  kind: CalicoObject["kind"],
  object: Valid<CalicoObject>,
  apiVersion: ApiVersion,
): k8s.apiextensions.CustomResourceArgs {
  return {
    apiVersion,
    kind,
    metadata: object.metadata,
    spec: object.spec,
  } as k8s.apiextensions.CustomResourceArgs;
}

/** The Calico object as a CustomResource child of a component. */
export function calicoCustomResource(
  name: string,
  kind: CalicoObject["kind"],
  object: pulumi.Output<CalicoObject>,
  apiVersion: ApiVersion,
  parent: pulumi.Resource,
): k8s.apiextensions.CustomResource {
  return new k8s.apiextensions.CustomResource(name, calicoResourceArgs(kind, object, apiVersion), { parent });
}

/**
 * Options for a resource that is its Calico object, of engine type `type`. Up to 0.1.0 it was a
 * component (`formerType`) with the object as a child of the same name: the alias to that child's URN
 * lets an existing stack keep the object (only the empty component is deleted) instead of replacing it.
 */
export function calicoObjectOptions(
  name: string,
  formerType: string,
  type: string,
  opts: pulumi.CustomResourceOptions | undefined,
): pulumi.CustomResourceOptions {
  // Without a parent the old URN is known now: a URN string costs the registration less than an alias
  // spec, whose every part is awaited as an Output (about 1 ms per resource here).
  const formerUrn = opts?.parent
    ? pulumi.createUrn(name, type, pulumi.createUrn(name, formerType, opts.parent))
    : `urn:pulumi:${pulumi.getStack()}::${pulumi.getProject()}::${formerType}$${type}::${name}`;
  return { ...opts, aliases: [...(opts?.aliases ?? []), formerUrn] };
}
