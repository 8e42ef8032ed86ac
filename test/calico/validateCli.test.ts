import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { validateCalicoObject } from "../../sdk/calico/validate";
import { REPO_ROOT } from "../support/paths";

const CLI = join(REPO_ROOT, "dist", "provider", "cli.js");
const dir = mkdtempSync(join(tmpdir(), "calico-xdp-validate-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

function validate(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, "validate", ...args], (error, stdout, stderr) => {
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

const GOOD = `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: redis-untracked
spec:
  selector: hep == 'redis-host'
  doNotTrack: true
  applyOnForward: true
  ingress:
    - action: Allow
      protocol: TCP
      source: { nets: [10.1.0.0/16] }
      destination: { ports: [6379] }
---
apiVersion: v1
kind: List
items:
  - apiVersion: crd.projectcalico.org/v1
    kind: GlobalNetworkSet
    metadata: { name: deny, labels: { dos-deny-list: "true" } }
    spec: { nets: [198.18.9.0/24] }
  - apiVersion: projectcalico.org/v3
    kind: NetworkPolicy
    metadata: { name: web, namespace: default }
    spec:
      ingress: [{ action: Allow, source: { services: { name: api } } }]
`;

const BAD = `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: { name: redis }
spec:
  doNotTrack: true
  ingress:
    - action: Allow
      protocol: tcp
      source: { nets: [10.1.0.1/16] }
`;

describe("calico-xdp validate: hand-written Calico YAML with the components' rules", () => {
  it("GIVEN valid objects in several documents and a List WHEN validated THEN each is OK and the exit code is 0", async () => {
    const result = await validate(file("good.yaml", GOOD));
    expect(result.stdout.trim().split("\n")).toEqual([
      "OK GlobalNetworkPolicy/redis-untracked",
      "OK GlobalNetworkSet/deny",
      "OK NetworkPolicy/web",
    ]);
    expect(result.code).toBe(0);
  });

  it("GIVEN an invalid policy WHEN validated THEN each problem has its field path and fix, and the exit code is 1", async () => {
    const bad = file("bad.yaml", BAD);
    const result = await validate(bad);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(
      `${bad}: GlobalNetworkPolicy/redis: spec.ingress[0].protocol "tcp" is not a protocol: did you mean "TCP"?`,
    );
    expect(result.stdout).toContain(
      `${bad}: GlobalNetworkPolicy/redis: spec.ingress[0].source.nets[0] "10.1.0.1/16" is not a network address: did you mean "10.1.0.0/16"?`,
    );
    const json = JSON.parse((await validate("--json", bad)).stdout);
    expect(json[0]).toMatchObject({ file: bad, kind: "GlobalNetworkPolicy", name: "redis" });
    expect(json[0].problems.length).toBeGreaterThanOrEqual(2);
  });

  it("GIVEN unreadable or unparsable input WHEN validated THEN one line says why and the exit code is 2", async () => {
    expect((await validate(join(dir, "missing.yaml"))).code).toBe(2);
    const broken = await validate(file("broken.yaml", "kind: [unclosed\n"));
    expect(broken.code).toBe(2);
    expect(broken.stderr).toMatch(/is not YAML or JSON/);
    expect((await validate()).code).toBe(2);
  });

  it("GIVEN an object of an unknown kind or a FelixConfiguration with unmodelled fields WHEN validated THEN it says so", () => {
    expect(
      validateCalicoObject({ apiVersion: "projectcalico.org/v3", kind: "IPPool", metadata: { name: "p" } })
        .problems,
    ).toEqual([expect.stringMatching(/^kind must be one of HostEndpoint, GlobalNetworkPolicy/)]);
    expect(
      validateCalicoObject({
        apiVersion: "projectcalico.org/v3",
        kind: "FelixConfiguration",
        metadata: { name: "default" },
        spec: { xdpEnabled: false, logSeverityScreen: "Info" },
      }),
    ).toEqual({
      kind: "FelixConfiguration",
      name: "default",
      problems: [],
      unchecked: ["logSeverityScreen"],
    });
  });

  it("GIVEN a namespaced NetworkPolicy WHEN validated THEN its namespace and name follow Calico's rules", () => {
    const verdict = validateCalicoObject({
      apiVersion: "projectcalico.org/v3",
      kind: "NetworkPolicy",
      metadata: { name: "a.b.c", namespace: "Default" },
      spec: {},
    });
    expect(verdict.problems).toEqual([
      expect.stringMatching(/^metadata\.name "a\.b\.c"/),
      expect.stringMatching(/^metadata\.namespace "Default"/),
    ]);
  });
});
