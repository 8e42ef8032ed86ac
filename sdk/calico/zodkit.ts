import { z } from "zod";
import { closest, didYouMean } from "./suggest";

/** A zod object that rejects unknown keys, suggesting the field that was probably meant. */
export function strictObject<Shape extends z.ZodRawShape>(shape: Shape) {
  const known = Object.keys(shape);
  return z.strictObject(shape, {
    error: (issue) => {
      if (issue.code !== "unrecognized_keys") return undefined;
      return issue.keys
        .map((key) => {
          const hit = closest(key, known);
          return hit === undefined
            ? `unknown field ${JSON.stringify(key)}${didYouMean(key, known)}`
            : `unknown field ${JSON.stringify(key)}: did you mean ${JSON.stringify(hit)}?`;
        })
        .join("; ");
    },
  });
}

/** A string enum whose error names the bad value and the closest valid one (`"tcp": did you mean "TCP"?`). */
export function exactEnum<const Values extends readonly [string, ...string[]]>(values: Values, what: string) {
  return z.enum(values, {
    error: (issue) =>
      typeof issue.input === "string"
        ? `${JSON.stringify(issue.input)} is not ${what}${didYouMean(issue.input, values)}`
        : `must be ${what} (one of ${values.join(", ")})`,
  });
}

/** A string checked by a function returning the problem (or undefined); the message quotes the value. */
export function checkedString(problem: (value: string) => string | undefined) {
  return z.string().superRefine((value, ctx) => {
    const reason = problem(value);
    if (reason !== undefined) ctx.addIssue({ code: "custom", message: `${JSON.stringify(value)} ${reason}` });
  });
}

/** `ingress[0].source.nets[1]` from a zod path. */
export function formatPath(path: readonly PropertyKey[]): string {
  return path
    .map((part, i) => (typeof part === "number" ? `[${part}]` : `${i === 0 ? "" : "."}${String(part)}`))
    .join("");
}

const article = (noun: string) => `${/^[aeiou]/.test(noun) ? "an" : "a"} ${noun}`;

/** One line per issue: `<path> <message>`. */
export function formatIssues(
  issues: readonly { readonly path: readonly PropertyKey[]; readonly message: string }[],
  prefix = "",
): string[] {
  return issues.map((issue) => {
    const path = formatPath([...(prefix ? [prefix] : []), ...issue.path]);
    // zod says "Invalid input: expected record, received undefined" for a missing field.
    const wrongType = /^Invalid input: expected (.+), received (.+)$/.exec(issue.message);
    const message =
      wrongType === null
        ? issue.message
        : wrongType[2] === "undefined"
          ? "is required"
          : `must be ${article(wrongType[1]!)}, not ${article(wrongType[2]!)}`;
    return path ? `${path} ${message}` : message;
  });
}

export class ValidationError extends Error {
  constructor(
    readonly subject: string,
    readonly problems: readonly string[],
  ) {
    super(`${subject}: ${problems.length === 1 ? problems[0] : `\n  - ${problems.join("\n  - ")}`}`);
    this.name = "ValidationError";
  }
}

/** Parses `value` or throws a ValidationError listing every problem with its field path. */
export function parseOrThrow<S extends z.ZodType>(schema: S, value: unknown, subject: string): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new ValidationError(subject, formatIssues(result.error.issues));
}

/** A copy of a string map with its keys in sorted order, so rendering never depends on input order. */
export function sortKeys<V>(record: Readonly<Record<string, V>>): Record<string, V> {
  return Object.fromEntries(
    Object.keys(record)
      .sort()
      .map((k) => [k, record[k]!]),
  );
}
