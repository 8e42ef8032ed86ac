import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { evaluate } from "@marcbachmann/cel-js";
import Ajv from "ajv";
import { parseAllDocuments } from "yaml";
import { CRD_DIR } from "./paths";

interface Schema {
  properties?: Record<string, Schema>;
  items?: Schema;
  additionalProperties?: Schema | boolean;
  "x-kubernetes-validations"?: { rule: string; message?: string }[];
  [key: string]: unknown;
}

interface Crd {
  spec: {
    group: string;
    names: { kind: string };
    versions: { name: string; schema: { openAPIV3Schema: Schema } }[];
  };
}

const DNS1123 = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/**
 * Judges objects the way an API server with Calico's CRDs would: the OpenAPI schema (ajv) and every
 * `x-kubernetes-validations` CEL rule on the path (a CEL evaluator), plus the object-name rule.
 */
export class CrdOracle {
  private readonly schemas = new Map<string, Schema>();
  private readonly ajv = new Ajv({ strict: false, allErrors: true });

  constructor(dir: string = CRD_DIR) {
    for (const folder of [dir, join(dir, "projectcalico.org-v3")]) {
      for (const file of readdirSync(folder).filter((f) => f.endsWith(".yaml"))) {
        for (const doc of parseAllDocuments(readFileSync(join(folder, file), "utf8"))) {
          const crd = doc.toJS() as Crd;
          for (const version of crd.spec.versions) {
            this.schemas.set(
              `${crd.spec.group}/${version.name}:${crd.spec.names.kind}`,
              goPatternsToEcma(version.schema.openAPIV3Schema) as Schema,
            );
          }
        }
      }
    }
  }

  /** Problems the API server would report; empty when the object is accepted. */
  problems(object: { apiVersion: string; kind: string; metadata?: { name?: string } }): string[] {
    const schema = this.schemas.get(`${object.apiVersion}:${object.kind}`);
    if (schema === undefined) return [`no CRD for ${object.apiVersion} ${object.kind}`];
    const problems: string[] = [];
    const name = object.metadata?.name ?? "";
    if (!DNS1123.test(name) || name.length > 253)
      problems.push(`metadata.name ${JSON.stringify(name)} is invalid`);
    const validate = this.ajv.compile(schema);
    if (!validate(object)) {
      for (const e of validate.errors ?? []) problems.push(`${e.instancePath} ${e.message}`);
    }
    celProblems(schema, object, "", problems);
    return problems;
  }
}

function celProblems(schema: Schema, value: unknown, path: string, out: string[]): void {
  if (value === undefined || value === null) return;
  for (const validation of schema["x-kubernetes-validations"] ?? []) {
    let ok: unknown;
    try {
      ok = evaluate(validation.rule, { self: value });
    } catch (error) {
      ok = `error: ${(error as Error).message}`;
    }
    if (ok !== true)
      out.push(`${path || "<root>"}: ${validation.message ?? validation.rule} (${String(ok)})`);
  }
  if (Array.isArray(value)) {
    if (schema.items)
      for (const [i, item] of value.entries()) celProblems(schema.items, item, `${path}[${i}]`, out);
    return;
  }
  if (typeof value === "object") {
    for (const [key, child] of Object.entries(value)) {
      const childSchema =
        schema.properties?.[key] ??
        (typeof schema.additionalProperties === "object" ? schema.additionalProperties : undefined);
      if (childSchema) celProblems(childSchema, child, `${path}.${key}`, out);
    }
  }
}

/** Go's `(?i)` flag has no ECMAScript inline form: spell each letter as a two-case class instead. */
function goPatternsToEcma(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(goPatternsToEcma);
  if (node === null || typeof node !== "object") return node;
  return Object.fromEntries(
    Object.entries(node).map(([key, value]) => {
      if (key === "pattern" && typeof value === "string" && value.includes("(?i)")) {
        return [
          key,
          value
            .replace("(?i)", "")
            .replace(/(?<!\\)[a-zA-Z]/g, (c) => `[${c.toLowerCase()}${c.toUpperCase()}]`),
        ];
      }
      return [key, goPatternsToEcma(value)];
    }),
  );
}
