import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { z } from "zod";
import { portSchema, protocolSchema } from "../../sdk/calico/ports";
import {
  globalNetworkPolicySpecSchema,
  globalNetworkSetSpecSchema,
  hostEndpointSpecSchema,
  interfaceNameSchema,
  labelsSchema,
  networkSetLabelsSchema,
  policyNameSchema,
  protoPortSchema,
  resourceNameSchema,
} from "../../sdk/calico/resources";
import { entityRuleSchema, icmpSchema, ruleSchema } from "../../sdk/calico/rule";
import { matchesSelector, parseSelector, printSelector } from "../../sdk/calico/selector";
import { SHARED_DIR } from "../support/paths";
import { skipReason } from "../support/requireAll";

const CORPUS = join(SHARED_DIR, "calico-conformance", "corpus.json");

interface Case {
  readonly id: string;
  readonly kind: string;
  readonly valid: boolean;
  readonly input: unknown;
  readonly expect?: { canonical?: string; matches?: boolean };
  readonly source: string;
  readonly desc: string;
}

/** The SDK's verdict on one case: the messages of its refusal, none when it accepts. */
type Judge = (input: never) => string[];

const messages = (result: z.ZodSafeParseResult<unknown>) =>
  result.success ? [] : result.error.issues.map((i) => `${i.path.join(".")} ${i.message}`);
const by =
  (schema: z.ZodType): Judge =>
  (input) =>
    messages(schema.safeParse(input));
const both = (...judges: [Judge, unknown][]) => judges.flatMap(([judge, input]) => judge(input as never));
const refusal = (work: () => unknown): string[] => {
  try {
    work();
    return [];
  } catch (error) {
    return [(error as Error).message];
  }
};

type Meta = { name: string; labels?: Record<string, string> };
const JUDGES: Readonly<Record<string, Judge>> = {
  rule: by(ruleSchema()),
  entityRule: by(entityRuleSchema),
  icmp: by(icmpSchema),
  protocol: by(protocolSchema),
  port: by(portSchema),
  protoPort: by(protoPortSchema),
  labels: by(labelsSchema),
  interfaceName: by(interfaceNameSchema),
  hostEndpointSpec: by(hostEndpointSpecSchema),
  endpointPort: (port) =>
    by(hostEndpointSpecSchema)({ node: "n", interfaceName: "eth0", ports: [port] } as never),
  networkSetSpec: by(globalNetworkSetSpecSchema),
  policyRules: by(globalNetworkPolicySpecSchema),
  metadata: ({ name, labels }: Meta) =>
    both([by(resourceNameSchema), name], [by(labelsSchema), labels ?? {}]),
  gnp: ({ metadata, spec }: { metadata: Meta; spec: unknown }) =>
    both(
      [by(policyNameSchema), metadata.name],
      [by(labelsSchema), metadata.labels ?? {}],
      [by(globalNetworkPolicySpecSchema), spec],
    ),
  networkSet: ({ metadata, spec }: { metadata: Meta; spec: unknown }) =>
    both(
      [by(resourceNameSchema), metadata.name],
      [by(networkSetLabelsSchema), metadata.labels ?? {}],
      [by(globalNetworkSetSpecSchema), spec],
    ),
  // Calico's parser alone: where a selector sits (global() placement) is the rule kinds' business.
  selector: (text: string) => refusal(() => parseSelector(text)),
  selectorCanon: (text: string) => refusal(() => printSelector(parseSelector(text))),
  selectorEval: ({ selector }: { selector: string }) => refusal(() => parseSelector(selector)),
};

/**
 * Where the SDK is deliberately stricter than Calico, and why: each is refused with a message that
 * says so (matched here), since the object would do something other than what its author meant.
 */
const EMPTY_LIST = /Calico reads \[\] as no restriction/;
const HTTP = /application layer policy/;
const STRICTER: Readonly<Record<string, RegExp>> = {
  "rule-092": EMPTY_LIST,
  "rule-094": EMPTY_LIST,
  "rule-101": EMPTY_LIST,
  "rule-102": EMPTY_LIST,
  "rule-132": HTTP,
  "rule-135": HTTP,
  "rule-136": HTTP,
};

const missing = skipReason(
  existsSync(CORPUS) ? undefined : "../shared/calico-conformance is absent, so there are no Calico cases",
);
const cases: Case[] = missing ? [] : JSON.parse(readFileSync(CORPUS, "utf8")).cases;

describe.skipIf(missing)("the SDK accepts exactly what Calico v3.32.1's own validator tests accept", () => {
  it("GIVEN every case kind THEN the SDK has a judge for it", () => {
    expect([...new Set(cases.map((c) => c.kind))].filter((k) => !(k in JUDGES))).toEqual([]);
  });

  it("GIVEN each of Calico's cases WHEN judged THEN the SDK's verdict is Calico's, or a documented stricter refusal", () => {
    const disagreements = cases.flatMap((c) => {
      const problems = JUDGES[c.kind]!(c.input as never);
      const accepted = problems.length === 0;
      if (accepted === c.valid) return [];
      const stricter = STRICTER[c.id];
      if (stricter && !accepted && c.valid && problems.some((p) => stricter.test(p))) return [];
      return [
        `${c.id} (${c.source}: ${c.desc}) ${JSON.stringify(c.input)}: Calico ${c.valid ? "accepts" : "rejects"}, the SDK ${accepted ? "accepts" : `rejects: ${problems.join("; ")}`}`,
      ];
    });
    expect(disagreements).toEqual([]);
  });

  it("GIVEN Calico's canonical forms and evaluations WHEN printed and evaluated THEN they are Calico's", () => {
    const wrong = cases.flatMap((c) => {
      if (c.kind === "selectorCanon") {
        const printed = printSelector(parseSelector(c.input as string));
        return printed === c.expect!.canonical
          ? []
          : [`${c.id}: ${JSON.stringify(c.input)} prints ${printed}, Calico ${c.expect!.canonical}`];
      }
      if (c.kind === "selectorEval") {
        const { selector, labels } = c.input as { selector: string; labels: Record<string, string> };
        const matches = matchesSelector(parseSelector(selector), labels);
        return matches === c.expect!.matches
          ? []
          : [
              `${c.id}: ${selector} over ${JSON.stringify(labels)} is ${matches}, Calico ${c.expect!.matches}`,
            ];
      }
      return [];
    });
    expect(wrong).toEqual([]);
  });

  it("GIVEN the documented stricter cases THEN each is still a case Calico accepts (the list cannot go stale)", () => {
    const byId = new Map(cases.map((c) => [c.id, c]));
    expect(Object.keys(STRICTER).filter((id) => byId.get(id)?.valid !== true)).toEqual([]);
  });
});
