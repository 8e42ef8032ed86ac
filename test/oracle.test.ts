import { describe, expect, it } from "vitest";
import { CrdOracle } from "./support/crdOracle";
import { exampleConfig } from "./support/examples";
import { renderedFixtures } from "./support/fixtures";
import { HAVE_CRDS } from "./support/paths";
import { customResources, installMocks, settle } from "./support/pulumiMocks";
import { skipReason } from "./support/requireAll";

const missing = skipReason(
  HAVE_CRDS ? undefined : "../shared/calico-crds is absent, so there is no CRD oracle",
);

describe.skipIf(missing)("Calico's CRD schemas accept everything the SDK renders", () => {
  const oracle = missing ? undefined : new CrdOracle();

  it("GIVEN the oracle WHEN shown objects Calico rejects THEN it rejects them (it can fail)", () => {
    expect(
      oracle!.problems({
        apiVersion: "projectcalico.org/v3",
        kind: "HostEndpoint",
        metadata: { name: "x" },
        spec: { node: "n" },
      } as never),
    ).toEqual([expect.stringMatching(/at least one of interfaceName or expectedIPs/)]);
    expect(
      oracle!.problems({
        apiVersion: "projectcalico.org/v3",
        kind: "GlobalNetworkPolicy",
        metadata: { name: "x" },
        spec: { doNotTrack: true, ingress: [{ action: "allow", protocol: "ICMP", icmp: { code: 1 } }] },
      } as never),
    ).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/applyOnForward must be true/),
        expect.stringMatching(/ICMP code specified without an ICMP type/),
        expect.stringMatching(/must be equal to one of the allowed values/),
      ]),
    );
    expect(
      oracle!.problems({
        apiVersion: "projectcalico.org/v3",
        kind: "GlobalNetworkSet",
        metadata: { name: "Bad_Name" },
        spec: {},
      } as never),
    ).toEqual([expect.stringMatching(/metadata.name/)]);
  });

  it.each(renderedFixtures().map((o) => [`${o.apiVersion} ${o.kind} ${o.metadata.name}`, o] as const))(
    "GIVEN the rendered %s WHEN judged THEN it is accepted",
    (_name, object) => {
      expect(oracle!.problems(object)).toEqual([]);
    },
  );

  it.each(["redis-host", "dos-denylist"])(
    "GIVEN examples/%s WHEN run under mocks THEN every Calico object is accepted",
    async (example) => {
      const registered = installMocks(exampleConfig(example));
      await import(`../examples/${example}/index`);
      await settle();
      const objects = customResources(registered);
      expect(objects.length).toBeGreaterThan(1);
      for (const { type, inputs } of objects) {
        expect(oracle!.problems(inputs as never), type).toEqual([]);
      }
    },
  );
});
