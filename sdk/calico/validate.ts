/**
 * Validates hand-written Calico objects with the rules the components use (Calico's own validator,
 * mirrored): the dry-run check GitOps users run on YAML in pull requests (`calico-xdp validate`).
 */
import { z } from "zod";
import { NAMESPACE_NAME, NETWORK_POLICY_NAME, resourceNameProblem } from "./names";
import {
  API_VERSIONS,
  checkPolicyLists,
  felixConfigurationSpecSchema,
  globalNetworkPolicySpecSchema,
  globalNetworkSetSpecSchema,
  hostEndpointSpecSchema,
  labelsSchema,
  networkSetLabelsSchema,
  policyNameSchema,
  policySpecShape,
  resourceNameSchema,
} from "./resources";
import { annotationsSchema, ruleSchema } from "./rule";
import { checkedString, formatIssues, strictObject } from "./zodkit";

/** The kinds `validateCalicoObject` knows. */
export const VALIDATED_KINDS = [
  "HostEndpoint",
  "GlobalNetworkPolicy",
  "GlobalNetworkSet",
  "FelixConfiguration",
  "NetworkPolicy",
] as const;

/** One object's verdict: accepted when `problems` is empty. */
export interface ObjectVerdict {
  readonly kind: string;
  readonly name: string;
  /** `<field path> <reason and fix>`, as the components report them. */
  readonly problems: readonly string[];
  /** Fields present but not checked here (FelixConfiguration has many this package does not model). */
  readonly unchecked?: readonly string[];
}

const networkPolicySpecSchema = strictObject({
  ...policySpecShape,
  ingress: z.array(ruleSchema("ingress", "namespaced")).optional(),
  egress: z.array(ruleSchema("egress", "namespaced")).optional(),
}).superRefine(checkPolicyLists);

const metadataOf = (name: z.ZodType, labels: z.ZodType, namespaced: boolean) =>
  z.looseObject({
    name,
    labels: labels.optional(),
    annotations: annotationsSchema.optional(),
    ...(namespaced
      ? {
          namespace: checkedString((ns) => resourceNameProblem(ns, NAMESPACE_NAME)),
        }
      : {}),
  });

const KIND_SCHEMAS: Readonly<
  Record<(typeof VALIDATED_KINDS)[number], { metadata: z.ZodType; spec: z.ZodType }>
> = {
  HostEndpoint: {
    metadata: metadataOf(resourceNameSchema, labelsSchema, false),
    spec: hostEndpointSpecSchema,
  },
  GlobalNetworkPolicy: {
    metadata: metadataOf(policyNameSchema, labelsSchema, false),
    spec: globalNetworkPolicySpecSchema,
  },
  GlobalNetworkSet: {
    metadata: metadataOf(resourceNameSchema, networkSetLabelsSchema, false),
    spec: globalNetworkSetSpecSchema,
  },
  FelixConfiguration: {
    metadata: metadataOf(resourceNameSchema, labelsSchema, false),
    spec: felixConfigurationSpecSchema,
  },
  NetworkPolicy: {
    metadata: metadataOf(
      checkedString((name) => resourceNameProblem(name, NETWORK_POLICY_NAME)),
      labelsSchema,
      true,
    ),
    spec: networkPolicySpecSchema,
  },
};

const envelopeSchema = strictObject({
  apiVersion: z.enum(API_VERSIONS, { error: `must be one of ${API_VERSIONS.join(", ")}` }),
  kind: z.enum(VALIDATED_KINDS, { error: `must be one of ${VALIDATED_KINDS.join(", ")}` }),
  metadata: z.record(z.string(), z.unknown()),
  spec: z.record(z.string(), z.unknown()).default({}),
  status: z.unknown().optional(),
});

const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === "object" && !Array.isArray(v);

/** Validates one Calico object (`projectcalico.org/v3` or `crd.projectcalico.org/v1`). */
export function validateCalicoObject(object: unknown): ObjectVerdict {
  const kind = isObject(object) && typeof object.kind === "string" ? object.kind : "?";
  const metadata = isObject(object) && isObject(object.metadata) ? object.metadata : {};
  const name = typeof metadata.name === "string" ? metadata.name : "?";
  const envelope = envelopeSchema.safeParse(object);
  if (!envelope.success) return { kind, name, problems: formatIssues(envelope.error.issues) };
  const schemas = KIND_SCHEMAS[envelope.data.kind];
  let spec = envelope.data.spec;
  let unchecked: string[] | undefined;
  if (envelope.data.kind === "FelixConfiguration") {
    const modelled = Object.keys(felixConfigurationSpecSchema.shape);
    unchecked = Object.keys(spec).filter((k) => !modelled.includes(k));
    spec = Object.fromEntries(Object.entries(spec).filter(([k]) => modelled.includes(k)));
  }
  const problems = [
    ...formatIssues(issuesOf(schemas.metadata, envelope.data.metadata), "metadata"),
    ...formatIssues(issuesOf(schemas.spec, spec), "spec"),
  ];
  return { kind, name, problems, ...(unchecked?.length ? { unchecked } : {}) };
}

const issuesOf = (schema: z.ZodType, value: unknown) => {
  const result = schema.safeParse(value);
  return result.success ? [] : result.error.issues;
};

/** The objects in a parsed document: itself, or the `items` of a `List` (`v1 List`, `...List` kinds). */
export function objectsOf(document: unknown): unknown[] {
  if (isObject(document) && typeof document.kind === "string" && document.kind.endsWith("List"))
    return Array.isArray(document.items) ? document.items : [];
  return document === null || document === undefined ? [] : [document];
}
