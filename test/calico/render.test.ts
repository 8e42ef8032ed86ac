import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { compact } from "../../sdk/calico/render";
import { ingressRuleSchema } from "../../sdk/calico/rule";
import { felixXdpEligibility, mirrorReturnRules } from "../../sdk/calico/untracked";
import { hostEndpointArgsSchema, renderHostEndpointArgs } from "../../sdk/hostEndpoint";
import { renderUntrackedPolicy, untrackedPolicyArgsSchema } from "../../sdk/untrackedPolicy";
import { renderedFixtures, richPolicyArgs } from "../support/fixtures";

/** A deep copy whose object keys are permuted by `random`. */
function shuffleKeys(value: unknown, random: () => number): unknown {
  if (Array.isArray(value)) return value.map((v) => shuffleKeys(v, random));
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value).map(([k, v]) => [k, shuffleKeys(v, random)] as const);
    for (let i = entries.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [entries[i], entries[j]] = [entries[j]!, entries[i]!];
    }
    return Object.fromEntries(entries);
  }
  return value;
}

const renderPolicy = (args: unknown) =>
  stringify(renderUntrackedPolicy("p", untrackedPolicyArgsSchema.parse(args), "hep == 'redis-host'"));

describe("rendering", () => {
  it("PROPERTY args in any key order render byte-identical YAML", () => {
    const reference = renderPolicy(richPolicyArgs);
    const hepArgs = {
      node: "n",
      interfaceName: "eth0",
      expectedIPs: ["198.18.0.1"],
      labels: { b: "1", a: "2", c: "3" },
    };
    const hepReference = stringify(renderHostEndpointArgs("h", hostEndpointArgsSchema.parse(hepArgs)));
    fc.assert(
      fc.property(fc.integer(), (seed) => {
        const random = mulberry(seed);
        expect(renderPolicy(shuffleKeys(richPolicyArgs, random))).toBe(reference);
        expect(
          stringify(renderHostEndpointArgs("h", hostEndpointArgsSchema.parse(shuffleKeys(hepArgs, random)))),
        ).toBe(hepReference);
      }),
      { numRuns: 200 },
    );
  });

  it("GIVEN every fixture WHEN rendered THEN no empty array, empty object or undefined appears", () => {
    const walk = (value: unknown, path: string): void => {
      expect(value, path).not.toBeUndefined();
      if (Array.isArray(value)) {
        expect(value.length, path).toBeGreaterThan(0);
        for (const [i, v] of value.entries()) walk(v, `${path}[${i}]`);
      } else if (value !== null && typeof value === "object") {
        expect(Object.keys(value).length, path).toBeGreaterThan(0);
        for (const [k, v] of Object.entries(value)) walk(v, `${path}.${k}`);
      }
    };
    for (const object of renderedFixtures()) walk(object, object.kind);
  });

  it("GIVEN nested empties WHEN compacted THEN they disappear and key order stays", () => {
    expect(compact({ b: [], a: { x: undefined, y: {} }, c: [1, {}], d: "" })).toEqual({ c: [1], d: "" });
    expect(Object.keys(compact({ z: 1, a: 2 }))).toEqual(["z", "a"]);
  });

  it("GIVEN the redis policy WHEN rendered THEN it is untracked, forwards, and mirrors return traffic", () => {
    const policy = renderUntrackedPolicy(
      "redis",
      untrackedPolicyArgsSchema.parse({
        ingress: [
          {
            action: "Allow",
            protocol: "TCP",
            source: { nets: ["198.18.0.0/24"] },
            destination: { ports: [6379] },
          },
          { action: "Deny", protocol: "TCP", destination: { ports: [6379] } },
        ],
      }),
      "hep == 'redis-host'",
    );
    expect(policy).toMatchObject({
      apiVersion: "projectcalico.org/v3",
      kind: "GlobalNetworkPolicy",
      metadata: { name: "redis" },
      spec: {
        selector: "hep == 'redis-host'",
        types: ["Ingress", "Egress"],
        egress: [
          {
            action: "Allow",
            protocol: "TCP",
            source: { ports: [6379] },
            destination: { nets: ["198.18.0.0/24"] },
          },
        ],
        doNotTrack: true,
        applyOnForward: true,
      },
    });
    expect(Object.keys(policy.spec)).toEqual([
      "selector",
      "types",
      "ingress",
      "egress",
      "doNotTrack",
      "applyOnForward",
    ]);
  });

  it("GIVEN returnTraffic none WHEN rendered THEN only Ingress is rendered", () => {
    const policy = renderUntrackedPolicy(
      "p",
      untrackedPolicyArgsSchema.parse({
        returnTraffic: "none",
        ingress: [{ action: "Allow", protocol: "TCP", destination: { ports: [1] } }],
      }),
      "all()",
    );
    expect(policy.spec.types).toEqual(["Ingress"]);
    expect(policy.spec.egress).toBeUndefined();
  });

  it("GIVEN rules without ports or with Deny WHEN mirrored THEN no return rule is added", () => {
    const rules = [
      { action: "Deny", protocol: "TCP", destination: { ports: [1] } },
      { action: "Allow", protocol: "TCP" },
      { action: "Allow", destination: { ports: ["redis"] } },
    ].map((r) => ingressRuleSchema.parse(r));
    expect(mirrorReturnRules(rules)).toEqual([]);
  });

  it("GIVEN the DoS deny-list shape WHEN judged THEN Felix XDP accelerates only its first rule", () => {
    const rules = [
      { action: "Deny", source: { selector: "dos-deny-list == 'true'" } },
      { action: "Deny", source: { selector: "x == 'y'" } },
    ].map((r) => ingressRuleSchema.parse(r));
    expect(felixXdpEligibility(rules)).toEqual([
      { rule: 0, eligible: true },
      { rule: 1, eligible: false, reason: expect.stringMatching(/only the first ingress rule/) },
    ]);
    const withPorts = ingressRuleSchema.parse({
      action: "Deny",
      protocol: "TCP",
      source: { selector: "a == 'b'", nets: ["10.0.0.0/8"] },
      destination: { ports: [1] },
    });
    expect(felixXdpEligibility([withPorts])[0]?.reason).toMatch(
      /matches on protocol, destination, source.nets/,
    );
    expect(felixXdpEligibility([ingressRuleSchema.parse({ action: "Allow" })])[0]?.reason).toMatch(
      /action is Allow/,
    );
    expect(felixXdpEligibility([ingressRuleSchema.parse({ action: "Deny" })])[0]?.reason).toMatch(
      /no source selector/,
    );
  });
});

function mulberry(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
