import { createServer as createHttpsServer, request as httpsRequest, type Server } from "node:https";

export interface ApiGroup {
  readonly name: string;
  readonly versions: readonly string[];
  readonly preferred: string;
}

interface Tls {
  readonly ca: Buffer;
  readonly cert: Buffer;
  readonly key: Buffer;
}

/** An OpenAPI v2 document holding only `swagger: "2.0"`, protobuf-encoded (field 1, a string). */
const EMPTY_OPENAPI_V2_PB = Buffer.from([0x0a, 0x03, 0x32, 0x2e, 0x30]);

/**
 * What kube-apiserver's aggregator adds in front of apiextensions-apiserver, and the Kubernetes
 * provider needs before it applies anything: the `/apis` group list and an OpenAPI v2 document (empty:
 * the server validates with the CRDs' own schemas). Everything else goes to the API server (deletions
 * as background deletions, see below).
 * Clients must present a certificate from the same CA.
 */
export function startDiscoveryFront(
  port: number,
  serving: Tls,
  upstream: { readonly port: number; readonly tls: Tls },
  groups: readonly ApiGroup[],
): Promise<Server> {
  const groupList = JSON.stringify({
    kind: "APIGroupList",
    apiVersion: "v1",
    groups: groups.map((g) => ({
      name: g.name,
      versions: g.versions.map((v) => ({ groupVersion: `${g.name}/${v}`, version: v })),
      preferredVersion: { groupVersion: `${g.name}/${g.preferred}`, version: g.preferred },
    })),
  });
  const server = createHttpsServer(
    { ...serving, requestCert: true, rejectUnauthorized: true },
    (req, res) => {
      const path = (req.url ?? "/").split("?")[0];
      if (req.method === "GET" && (path === "/apis" || path === "/apis/")) {
        res.writeHead(200, { "content-type": "application/json" }).end(groupList);
        return;
      }
      if (req.method === "GET" && path === "/openapi/v2") {
        if (/protobuf/.test(req.headers.accept ?? ""))
          res
            .writeHead(200, { "content-type": "application/octet-stream" }) // as kube-openapi answers
            .end(EMPTY_OPENAPI_V2_PB);
        else
          res.writeHead(200, { "content-type": "application/json" }).end(
            JSON.stringify({
              swagger: "2.0",
              info: { title: "calico-xdp tests", version: "v0" },
              paths: {},
            }),
          );
        return;
      }
      const { host: _host, ...headers } = req.headers;
      const forward = (body?: Buffer) => {
        const outgoing = httpsRequest(
          {
            host: "127.0.0.1",
            port: upstream.port,
            method: req.method,
            path: req.url,
            headers: body ? { ...headers, "content-length": String(body.length) } : headers,
            ...upstream.tls,
          },
          (answer) => {
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.pipe(res);
          },
        );
        outgoing.on("error", (error) => res.writeHead(502).end(error.message));
        if (body) outgoing.end(body);
        else req.pipe(outgoing);
      };
      if (req.method !== "DELETE") return forward();
      // No kube-controller-manager here: its garbage collector finishes a foreground deletion of an
      // object without dependents at once; without it the object would wait forever. Ask for
      // background deletion, which is what that amounts to.
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => {
        const text = Buffer.concat(chunks).toString();
        const options = text ? (JSON.parse(text) as Record<string, unknown>) : {};
        if (options.propagationPolicy === "Foreground") options.propagationPolicy = "Background";
        forward(Buffer.from(JSON.stringify(options)));
      });
    },
  );
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve(server));
  });
}
