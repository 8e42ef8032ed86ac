import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CalicoObject } from "../sdk/calico/render";
import { type ApiServer, apiServerBinary, startApiServer } from "./support/apiserver";
import { exampleConfig } from "./support/examples";
import { renderedFixtures } from "./support/fixtures";
import { HAVE_CRDS } from "./support/paths";
import { customResources, installMocks, settle } from "./support/pulumiMocks";
import { skipReason } from "./support/requireAll";

const skip = HAVE_CRDS ? undefined : skipReason("../shared/calico-crds is absent");

/**
 * A real Kubernetes API server (apiextensions-apiserver on etcd) with Calico's CRDs judges what the SDK
 * renders: OpenAPI schemas, CEL rules and server-side apply, as a cluster would.
 */
describe.skipIf(skip)("Calico's CRDs in a real API server accept what the SDK renders", () => {
  let api: ApiServer;
  beforeAll(async () => {
    const { bin, skip: missing } = apiServerBinary();
    if (missing) throw new Error(missing);
    api = await startApiServer(bin!);
  }, 3_600_000);
  afterAll(() => api?.stop());

  const applyTwice = async (object: CalicoObject) => {
    const [created, body] = await api.apply(object);
    expect(created, JSON.stringify(body).slice(0, 500)).toBe(201);
    // Applying the same rendering again changes nothing: no new resourceVersion.
    const [again, second] = await api.apply(object);
    expect(again).toBe(200);
    expect((second.metadata as { resourceVersion: string }).resourceVersion).toBe(
      (body.metadata as { resourceVersion: string }).resourceVersion,
    );
  };

  it("GIVEN objects Calico rejects WHEN applied THEN the server refuses them with Calico's reasons (it can fail)", async () => {
    const [status, body] = await api.apply({
      apiVersion: "projectcalico.org/v3",
      kind: "GlobalNetworkPolicy",
      metadata: { name: "untracked-not-forwarded" },
      spec: { doNotTrack: true, ingress: [{ action: "Allow" }] },
    } as never);
    expect(status).toBe(422);
    expect(body.message).toMatch(/applyOnForward must be true if either preDNAT or doNotTrack is true/);
    const [hepStatus, hep] = await api.apply({
      apiVersion: "crd.projectcalico.org/v1",
      kind: "HostEndpoint",
      metadata: { name: "no-interface" },
      spec: { node: "n" },
    } as never);
    expect(hepStatus).toBe(422);
    expect(hep.message).toMatch(/interfaceName or expectedIPs/);
  });

  it.each(renderedFixtures().map((o) => [`${o.apiVersion} ${o.kind} ${o.metadata.name}`, o] as const))(
    "GIVEN the rendered %s WHEN server-side applied twice THEN it is created, then unchanged",
    async (_name, object) => {
      await applyTwice(object);
    },
  );

  it.each(["redis-host", "dos-denylist"])(
    "GIVEN examples/%s under mocks WHEN every Calico object is applied THEN the server accepts and stores each",
    async (example) => {
      const registered = installMocks(exampleConfig(example));
      await import(`../examples/${example}/index`);
      await settle();
      const objects = customResources(registered).map((r) => r.inputs as unknown as CalicoObject);
      expect(objects.length).toBeGreaterThan(1);
      for (const object of objects) {
        const [status, body] = await api.apply(object);
        expect([200, 201], JSON.stringify(body).slice(0, 500)).toContain(status);
      }
      for (const object of objects) {
        const [found, stored] = await api.get(api.pathOf(object));
        expect(found).toBe(200);
        expect(stored.spec).toEqual(expect.objectContaining(object.spec as object));
      }
    },
  );
});
