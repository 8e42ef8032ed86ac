import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request, type Server } from "node:https";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import { type ApiGroup, startDiscoveryFront } from "./discoveryFront";
import { CRD_DIR, REPO_ROOT } from "./paths";
import { skipReason } from "./requireAll";

export interface CalicoObjectLike {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string };
}

/** A Kubernetes API server serving Calico's CRDs, on loopback, with client-certificate auth. */
export interface ApiServer {
  /** A kubeconfig for a `system:masters` client certificate, through the discovery front. */
  readonly kubeconfig: string;
  /** GET a path: [status, parsed body]. */
  get(path: string): Promise<[number, Record<string, unknown>]>;
  /** Server-side apply of a Calico object (field manager pulumi-calico-xdp): [status, parsed body]. */
  apply(object: CalicoObjectLike): Promise<[number, Record<string, unknown>]>;
  /** The object's URL path. */
  pathOf(object: CalicoObjectLike): string;
  /** Kills the API server and etcd and removes their data. */
  stop(): void;
}

/** The apiextensions-apiserver binary (scripts/apiserver.sh, quick when built), or a skip reason. */
export function apiServerBinary(): { bin?: string; skip?: string } {
  for (const [tool, probe] of [
    ["go", "version"],
    ["etcd", "--version"],
    ["openssl", "version"],
  ] as const) {
    try {
      execFileSync(tool, [probe], { stdio: "ignore" });
    } catch {
      return { skip: skipReason(`${tool} is missing, so the API server cannot run (scripts/setup.sh)`) };
    }
  }
  const dir = execFileSync("bash", [join(REPO_ROOT, "scripts", "apiserver.sh")], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    timeout: 3_600_000,
  }).trim();
  return { bin: join(dir, "apiextensions-apiserver") };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on("error", reject);
  });
}

function openssl(dir: string, ...args: string[]): void {
  execFileSync("openssl", args, { cwd: dir, stdio: "ignore" });
}

/** A throwaway CA, a serving certificate for 127.0.0.1 and a system:masters client certificate. */
function certificates(dir: string): void {
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  openssl(
    dir,
    "req",
    "-x509",
    ...ec,
    "-keyout",
    "ca.key",
    "-out",
    "ca.crt",
    "-days",
    "1",
    "-subj",
    "/CN=calico-xdp-test-ca",
  );
  const issue = (name: string, subject: string, extension: string) => {
    openssl(dir, "req", ...ec, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", subject);
    writeFileSync(join(dir, `${name}.ext`), `${extension}\n`);
    openssl(
      dir,
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      "ca.crt",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-out",
      `${name}.crt`,
      "-days",
      "1",
      "-extfile",
      `${name}.ext`,
    );
  };
  issue("server", "/CN=127.0.0.1", "subjectAltName=IP:127.0.0.1");
  issue("client", "/O=system:masters/CN=calico-xdp-test", "extendedKeyUsage=clientAuth");
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/**
 * Starts etcd and apiextensions-apiserver on free loopback ports, waits until they serve, and installs
 * every Calico CRD from ../shared/calico-crds (crd.projectcalico.org/v1 and projectcalico.org/v3).
 * It has no core API, so its own delegated authentication/authorization point at itself: client
 * certificates are checked locally and system:masters is always allowed. Always call stop().
 */
export async function startApiServer(bin: string): Promise<ApiServer> {
  const dir = mkdtempSync(join(tmpdir(), "calico-xdp-apiserver-"));
  const children: ChildProcess[] = [];
  const logs: string[] = [];
  let front: Server | undefined;
  const stop = () => {
    front?.close();
    front?.closeAllConnections();
    for (const child of children) child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    certificates(dir);
    const [etcdPort, peerPort, apiPort, frontPort] = [
      await freePort(),
      await freePort(),
      await freePort(),
      await freePort(),
    ];
    const kubeconfig = join(dir, "kubeconfig");
    writeFileSync(
      kubeconfig,
      YAML.stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [
          {
            name: "test",
            cluster: {
              server: `https://127.0.0.1:${frontPort}`,
              "certificate-authority": join(dir, "ca.crt"),
            },
          },
        ],
        users: [
          {
            name: "test",
            user: { "client-certificate": join(dir, "client.crt"), "client-key": join(dir, "client.key") },
          },
        ],
        contexts: [{ name: "test", context: { cluster: "test", user: "test" } }],
        "current-context": "test",
      }),
    );
    const start = (file: string, args: string[]) => {
      const child = spawn(file, args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
      child.stderr!.on("data", (chunk: Buffer) => {
        logs.push(chunk.toString());
        if (logs.length > 200) logs.shift();
      });
      children.push(child);
    };
    const etcd = `http://127.0.0.1:${etcdPort}`;
    start("etcd", [
      "--data-dir",
      join(dir, "etcd"),
      "--listen-client-urls",
      etcd,
      "--advertise-client-urls",
      etcd,
      "--listen-peer-urls",
      `http://127.0.0.1:${peerPort}`,
      "--initial-advertise-peer-urls",
      `http://127.0.0.1:${peerPort}`,
      "--initial-cluster",
      `default=http://127.0.0.1:${peerPort}`,
    ]);
    start(bin, [
      "--etcd-servers",
      etcd,
      "--bind-address",
      "127.0.0.1",
      "--secure-port",
      String(apiPort),
      "--tls-cert-file",
      "server.crt",
      "--tls-private-key-file",
      "server.key",
      "--client-ca-file",
      "ca.crt",
      "--kubeconfig",
      kubeconfig,
      "--authentication-kubeconfig",
      kubeconfig,
      "--authorization-kubeconfig",
      kubeconfig,
      "--authentication-skip-lookup",
      // Nothing here serves namespaces, webhooks or flow schemas; the Calico resources are cluster-scoped.
      "--disable-admission-plugins",
      "NamespaceLifecycle,MutatingAdmissionPolicy,MutatingAdmissionWebhook,ValidatingAdmissionPolicy,ValidatingAdmissionWebhook",
      "--enable-priority-and-fairness=false",
    ]);
    const tls = {
      ca: readFileSync(join(dir, "ca.crt")),
      cert: readFileSync(join(dir, "client.crt")),
      key: readFileSync(join(dir, "client.key")),
    };
    const call = (
      method: string,
      path: string,
      body?: unknown,
      contentType = "application/json",
    ): Promise<[number, Record<string, unknown>]> =>
      new Promise((resolve, reject) => {
        const req = request(
          {
            host: "127.0.0.1",
            port: apiPort,
            method,
            path,
            headers: { "content-type": contentType },
            ...tls,
          },
          (res) => {
            let data = "";
            res.on("data", (chunk) => {
              data += chunk;
            });
            res.on("end", () => {
              try {
                resolve([res.statusCode ?? 0, JSON.parse(data || "{}")]);
              } catch {
                resolve([res.statusCode ?? 0, { text: data }]);
              }
            });
          },
        );
        req.on("error", reject);
        req.end(body === undefined ? undefined : JSON.stringify(body));
      });
    // /healthz, not /readyz: readiness waits on informers for core types this server does not have.
    await waitFor("the API server", async () => (await call("GET", "/healthz"))[0] === 200, 60_000);
    const crds = [CRD_DIR, join(CRD_DIR, "projectcalico.org-v3")].flatMap((d) =>
      readdirSync(d)
        .filter((f) => f.endsWith(".yaml"))
        .map((f) => YAML.parse(readFileSync(join(d, f), "utf8")) as { metadata: { name: string } }),
    );
    for (const crd of crds) {
      const [status, body] = await call(
        "POST",
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
        crd,
      );
      if (status !== 201)
        throw new Error(`CRD ${crd.metadata.name}: ${status} ${JSON.stringify(body).slice(0, 300)}`);
    }
    for (const crd of crds) {
      await waitFor(
        `CRD ${crd.metadata.name} to be established`,
        async () => {
          const [, body] = await call(
            "GET",
            `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.metadata.name}`,
          );
          const conditions =
            (body.status as { conditions?: { type: string; status: string }[] })?.conditions ?? [];
          return conditions.some((c) => c.type === "Established" && c.status === "True");
        },
        30_000,
      );
    }
    const plurals = new Map(
      crds.map((crd) => {
        const { group, names } = (
          crd as unknown as { spec: { group: string; names: { kind: string; plural: string } } }
        ).spec;
        return [`${group}/${names.kind}`, names.plural] as const;
      }),
    );
    const groups = new Map<string, ApiGroup>([
      ["apiextensions.k8s.io", { name: "apiextensions.k8s.io", versions: ["v1"], preferred: "v1" }],
    ]);
    for (const crd of crds as unknown as {
      spec: { group: string; versions: { name: string; served: boolean; storage: boolean }[] };
    }[]) {
      const served = crd.spec.versions.filter((v) => v.served);
      groups.set(crd.spec.group, {
        name: crd.spec.group,
        versions: served.map((v) => v.name),
        preferred: (served.find((v) => v.storage) ?? served[0]!).name,
      });
    }
    front = await startDiscoveryFront(
      frontPort,
      { ca: tls.ca, cert: readFileSync(join(dir, "server.crt")), key: readFileSync(join(dir, "server.key")) },
      { port: apiPort, tls },
      [...groups.values()],
    );
    const pathOf = (object: CalicoObjectLike) => {
      const plural = plurals.get(`${object.apiVersion.split("/")[0]}/${object.kind}`);
      if (!plural) throw new Error(`no CRD serves ${object.apiVersion} ${object.kind}`);
      return `/apis/${object.apiVersion}/${plural}/${object.metadata.name}`;
    };
    return {
      kubeconfig,
      get: (path) => call("GET", path),
      apply: (object) =>
        call(
          "PATCH",
          `${pathOf(object)}?fieldManager=pulumi-calico-xdp`,
          object,
          "application/apply-patch+yaml",
        ),
      pathOf,
      stop,
    };
  } catch (error) {
    stop();
    throw new Error(`${(error as Error).message}\n${logs.join("").slice(-2000)}`);
  }
}
