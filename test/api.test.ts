import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { z } from "zod";
import type { ArgsMatch } from "../sdk/args";
import type { ingressRuleSchema } from "../sdk/calico/rule";
import type { HostEndpointArgs, hostEndpointArgsSchema } from "../sdk/hostEndpoint";
import * as api from "../sdk/index";
import type { RuleArgs } from "../sdk/inputs";
import { REPO_ROOT } from "./support/paths";

interface Reflection {
  readonly name: string;
  readonly kind: number;
  readonly flags?: { readonly isOptional?: boolean };
  readonly comment?: { readonly summary?: unknown[]; readonly blockTags?: { readonly tag: string }[] };
  readonly children?: readonly Reflection[];
}
const INTERFACE = 256;

function* reflections(node: Reflection): Generator<Reflection> {
  yield node;
  for (const child of node.children ?? []) yield* reflections(child);
}

// Type-level: ArgsMatch catches a documented interface drifting from its schema (checked by `npm run lint`).
// @ts-expect-error a field the schema has is missing from the interface
true satisfies ArgsMatch<Omit<HostEndpointArgs, "profiles">, z.input<typeof hostEndpointArgsSchema>>;
// @ts-expect-error a field the schema does not know
true satisfies ArgsMatch<HostEndpointArgs & { extra?: string }, z.input<typeof hostEndpointArgsSchema>>;
// @ts-expect-error a nested field of another type
true satisfies ArgsMatch<
  Omit<RuleArgs, "icmp"> & { icmp?: { type?: string; code?: number } },
  z.input<typeof ingressRuleSchema>
>;

describe("the package's public API", () => {
  it("GIVEN the package's exports THEN no validation schema, renderer or internal helper is among them", () => {
    const names = Object.keys(api);
    expect(names).toEqual(
      expect.arrayContaining([
        "HostEndpoint",
        "UntrackedPolicy",
        "GlobalNetworkSet",
        "FelixConfiguration",
        "XdpProgram",
      ]),
    );
    expect(
      names.filter((n) => /Schema$|^render|^isPlainObject$|^splitNodeSecrets$|^compact$/.test(n)),
    ).toEqual([]);
  });

  it("GIVEN the API reference WHEN TypeDoc reads it THEN every field of every XxxArgs is documented and every optional one says its @default", () => {
    const dir = mkdtempSync(join(tmpdir(), "calico-xdp-api-"));
    try {
      const out = join(dir, "api.json");
      execFileSync(
        process.execPath,
        [join(REPO_ROOT, "node_modules", "typedoc", "bin", "typedoc"), "--logLevel", "Error", "--json", out],
        { cwd: REPO_ROOT, stdio: "pipe" },
      );
      const project = JSON.parse(readFileSync(out, "utf8")) as Reflection;
      const argsTypes = [...reflections(project)].filter(
        (r) => r.kind === INTERFACE && r.name.endsWith("Args"),
      );
      expect(argsTypes.map((r) => r.name)).toEqual(
        expect.arrayContaining(["HostEndpointArgs", "UntrackedPolicyArgs", "XdpProgramArgs", "RuleArgs"]),
      );
      const undocumented = argsTypes.flatMap((type) =>
        (type.children ?? [])
          .filter(
            (field) =>
              !field.comment?.summary?.length ||
              (field.flags?.isOptional && !field.comment.blockTags?.some((t) => t.tag === "@default")),
          )
          .map((field) => `${type.name}.${field.name}`),
      );
      expect(undocumented).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
