/**
 * The XdpProgram dynamic provider's methods. The serialized provider object in sdk/xdpProgram.ts
 * requires this module inside each method (`pulumi-calico-xdp/provider`), so nothing here is captured
 * by Pulumi's closure serializer.
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import type * as pulumi from "@pulumi/pulumi";
import { formatPath } from "../../sdk/calico/zodkit";
import {
  addressMapSizes,
  compileXdpPolicy,
  encodeMaps,
  mapsDigest,
  type PackedMaps,
} from "../../sdk/xdp/compile";
import { type Credentials, joinCredentials, separateCredentials } from "../../sdk/xdp/credentials";
import {
  type NodeAttachment,
  nodeEndpoint,
  policyOf,
  sshEndpoints,
  type XdpNode,
  type XdpProgramSpec,
  xdpProgramArgsSchema,
} from "../../sdk/xdp/programArgs";
import { buildLoader, buildObject, sourceDigest } from "../bpf/build";
import { run } from "../bpf/exec";
import { faultPoint } from "./fault";
import { converge, type Desired, probe, remove } from "./node";
import { privateKeyProblem } from "./ssh";
import { transportFor, withTransport } from "./transport";

const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
const IDENTITY = /^[0-9a-f]{16}$/;
/** The args the user gives (the rest of the inputs are the component's and this provider's). */
const SPEC_KEYS = Object.keys(xdpProgramArgsSchema.shape);

type Inputs = Record<string, unknown>;
/** What state holds: the spec with SSH secrets moved from `nodes` to `credentials` (a Pulumi secret). */
type Outputs = XdpProgramSpec & {
  credentials?: Credentials;
  /** A digest of the resource's URN, set by the XdpProgram component: it names the pins on nodes. */
  identity?: string;
  sourceSha256?: string;
  mapsSha256?: string;
  ruleCount?: number;
  attachments?: NodeAttachment[];
};

function containsUnknown(value: unknown): boolean {
  if (value === UNKNOWN) return true;
  if (Array.isArray(value)) return value.some(containsUnknown);
  if (value !== null && typeof value === "object") return Object.values(value).some(containsUnknown);
  return false;
}

/** The spec as the user wrote it: secrets back inside each node's connection. */
const pick = (inputs: Inputs) => ({
  ...Object.fromEntries(SPEC_KEYS.filter((k) => inputs[k] !== undefined).map((k) => [k, inputs[k]])),
  ...(inputs.nodes === undefined ? {} : { nodes: joinCredentials(inputs.nodes, inputs.credentials) }),
});

function toState(spec: XdpProgramSpec): XdpProgramSpec & { credentials?: Credentials } {
  const { nodes, credentials } = separateCredentials(spec.nodes);
  return { ...spec, nodes: nodes as XdpNode[], ...(credentials ? { credentials } : {}) };
}

function specOf(state: Outputs): XdpProgramSpec {
  const { credentials, ...spec } = state;
  return { ...spec, nodes: joinCredentials(spec.nodes ?? [], credentials) as XdpNode[] };
}

/** Private keys ssh2 cannot use, by field path; the reason never quotes the key. */
function keyFailures(nodes: readonly XdpNode[]): pulumi.dynamic.CheckFailure[] {
  return nodes.flatMap(({ connection }, i) =>
    sshEndpoints(connection).flatMap(([endpoint, at]) => {
      const problem =
        endpoint.privateKey === undefined
          ? undefined
          : privateKeyProblem(endpoint.privateKey, endpoint.privateKeyPassword);
      return problem
        ? [
            {
              property: formatPath(["nodes", i, "connection", ...at, "privateKey"]),
              reason: `cannot be used: ${problem}`,
            },
          ]
        : [];
    }),
  );
}

/** What a program change shows as in a preview: the sources' digest and the section. */
function programSourceSha256(spec: XdpProgramSpec): string {
  return createHash("sha256")
    .update(`${sourceDigest(spec.source)}\n${spec.section ?? ""}`)
    .digest("hex");
}

function policyMaps(spec: XdpProgramSpec): PackedMaps {
  if (spec.rules === undefined) return {};
  const { ingress, ...context } = policyOf(spec);
  return encodeMaps(compileXdpPolicy(ingress, context));
}

export async function check(_olds: Inputs, news: Inputs): Promise<pulumi.dynamic.CheckResult> {
  if (containsUnknown(pick(news))) return { inputs: news };
  const parsed = xdpProgramArgsSchema.safeParse(pick(news));
  if (!parsed.success) {
    return {
      inputs: news,
      failures: parsed.error.issues.map((i) => ({
        property: formatPath(i.path) || "args",
        reason: i.message,
      })),
    };
  }
  const spec = parsed.data;
  const failures = keyFailures(spec.nodes);
  if (typeof news.identity !== "string" || !IDENTITY.test(news.identity))
    failures.push({
      property: "identity",
      reason: "must be 16 hex digits (XdpProgram sets it from the resource's URN)",
    });
  for (const [i, node] of spec.nodes.entries()) {
    const problem = transportFor(node.connection).unavailable();
    if (problem) failures.push({ property: `nodes[${i}].connection`, reason: problem });
  }
  if (spec.source !== undefined && !existsSync(spec.source))
    failures.push({ property: "source", reason: `${spec.source} does not exist` });
  if (failures.length) return { inputs: news, failures };
  const rest = Object.fromEntries(
    Object.entries(news).filter(([k]) => ![...SPEC_KEYS, "credentials"].includes(k)),
  );
  return {
    inputs: {
      ...rest,
      ...toState(spec),
      sourceSha256: programSourceSha256(spec),
      mapsSha256: mapsDigest(policyMaps(spec)),
      ruleCount: spec.rules?.length ?? 0,
    },
  };
}

/** Where a node is: the same name reached the same way. A node moved elsewhere is a new node. */
const placeOf = (n: XdpNode) => JSON.stringify([n.name, nodeEndpoint(n.connection)]);

export async function diff(_id: string, olds: Outputs, news: Outputs): Promise<pulumi.dynamic.DiffResult> {
  // Nothing replaces the resource: nodes, interface and program all change in place, node by node.
  const fields = [
    "sourceSha256",
    "mapsSha256",
    "interfaceName",
    "mode",
    "takeOver",
    "source",
    "section",
    "concurrency",
    "force",
    "credentials",
  ] as const;
  const changed: string[] = fields.filter((f) => JSON.stringify(olds[f]) !== JSON.stringify(news[f]));
  const places = (nodes: readonly XdpNode[] | undefined) => JSON.stringify((nodes ?? []).map(placeOf).sort());
  if (places(olds.nodes) !== places(news.nodes)) changed.push("nodes");
  // Drift found by refresh, or nodes that failed: the next up converges them.
  if ((olds.attachments ?? []).some((a) => a.status !== "attached" || a.drift !== undefined))
    changed.push("attachments");
  return { changes: changed.length > 0 };
}

/** Thrown when some nodes failed: Pulumi records the resource with every node's result, and the next up retries. */
class PartialFailure extends Error {
  constructor(
    readonly id: string,
    readonly properties: Outputs,
    readonly reasons: string[],
  ) {
    super(
      `XdpProgram failed on ${reasons.length} of ${properties.nodes.length} nodes: ${reasons.join("; ")}`,
    );
  }
}

async function pool<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]!);
    }
  });
  await Promise.all(workers);
  return results;
}

async function desiredFor(id: string, spec: XdpProgramSpec): Promise<Desired> {
  const object = await buildObject(spec.source);
  if (spec.source !== undefined) await assertSection(object.path, spec.section ?? "xdp");
  const maps = policyMaps(spec);
  return {
    id,
    iface: spec.interfaceName,
    mode: spec.mode,
    takeOver: spec.takeOver,
    objectPath: object.path,
    objectSha256: object.sha256,
    loaderPath: (await buildLoader()).path,
    policy: spec.rules !== undefined,
    section: spec.section ?? "xdp",
    mapSizes: spec.rules === undefined ? {} : addressMapSizes(maps),
    maps,
    mapsSha256: mapsDigest(maps),
    ruleCount: spec.rules?.length ?? 0,
  };
}

async function assertSection(objectPath: string, section: string): Promise<void> {
  const headers = await run("llvm-objdump", ["--section-headers", objectPath]);
  if (!headers.split("\n").some((line) => line.trim().split(/\s+/)[1] === section)) {
    throw new Error(`the object built from source has no section ${JSON.stringify(section)}`);
  }
}

/** Applied and unchanged since: the node is left alone (after a partial failure only failed nodes are retried). */
const upToDate = (
  applied: NodeAttachment | undefined,
  desired: Desired,
  spec: XdpProgramSpec,
  before?: XdpProgramSpec,
) =>
  applied?.status === "attached" &&
  applied.drift === undefined &&
  before?.interfaceName === spec.interfaceName &&
  applied.objectSha256 === desired.objectSha256 &&
  applied.mapsSha256 === desired.mapsSha256 &&
  (spec.mode === "auto" || spec.mode === applied.mode);

/**
 * Brings every node of `state` to the spec: nodes already there are left alone, the others are
 * converged (new nodes attached), and nodes no longer listed are detached. A node that fails is
 * reported on its own; a dropped node that cannot be cleaned stays in state (unless `force`), so a
 * later up or destroy finishes it.
 */
async function applyAll(id: string, state: Outputs, before?: Outputs): Promise<Outputs> {
  const spec = specOf(state);
  const old = before ? specOf(before) : undefined;
  const desired = await desiredFor(id, spec);

  const appliedOn = (node: XdpNode) => {
    const known = old?.nodes.some((n) => placeOf(n) === placeOf(node));
    return known ? before?.attachments?.find((a) => a.node === node.name) : undefined;
  };
  const attachments = await pool(spec.nodes, spec.concurrency, async (node): Promise<NodeAttachment> => {
    const applied = appliedOn(node);
    if (applied && upToDate(applied, desired, spec, old)) return applied;
    try {
      return await withTransport(node.connection, (t) => converge(t, node, desired, { attachment: applied }));
    } catch (error) {
      return { node: node.name, status: "failed", error: (error as Error).message };
    }
  });
  const kept = new Set(spec.nodes.map(placeOf));
  const dropped = (old?.nodes ?? []).filter((n) => !kept.has(placeOf(n)));
  const stuck: { node: XdpNode; error: string }[] = [];
  await pool(dropped, spec.concurrency, async (node) => {
    try {
      await withTransport(node.connection, (t) =>
        remove(t, node, id, old!.interfaceName, desired.loaderPath),
      );
    } catch (error) {
      if (!spec.force) stuck.push({ node, error: (error as Error).message });
    }
  });
  const outs = {
    ...toState({ ...spec, nodes: [...spec.nodes, ...stuck.map((s) => s.node)] }),
    attachments: [
      ...attachments,
      ...stuck.map(({ node, error }) => ({
        node: node.name,
        status: "failed" as const,
        error: `removed from nodes but not detached yet: ${error}`,
      })),
    ],
  };
  const failed = outs.attachments.filter((a) => a.status === "failed");
  faultPoint("before-state");
  if (failed.length)
    throw new PartialFailure(
      id,
      outs,
      failed.map((a) => `${a.node}: ${a.error}`),
    );
  return outs;
}

/** The resource id: from the resource's identity (a digest of its URN), so a retried create finds its pins. */
const idFor = (identity: string) => `cx-${identity}`;

export async function create(inputs: Outputs): Promise<pulumi.dynamic.CreateResult> {
  const id = idFor(inputs.identity!);
  return { id, outs: await applyAll(id, inputs) };
}

export async function update(id: string, olds: Outputs, news: Outputs): Promise<pulumi.dynamic.UpdateResult> {
  return { outs: await applyAll(id, news, olds) };
}

export async function read(id: string, props: Outputs): Promise<pulumi.dynamic.ReadResult> {
  const spec = specOf(props);
  const loaderPath = (await buildLoader()).path;
  const attachments = await pool(spec.nodes, spec.concurrency ?? 8, async (node) => {
    const applied = props.attachments?.find((a) => a.node === node.name);
    try {
      return await withTransport(node.connection, (t) =>
        probe(t, node, id, spec.interfaceName, applied, loaderPath, spec.rules !== undefined),
      );
    } catch (error) {
      return { ...applied, node: node.name, status: "failed" as const, error: (error as Error).message };
    }
  });
  return { id, props: { ...props, attachments } };
}

async function deleteAll(id: string, props: Outputs): Promise<void> {
  const spec = specOf(props);
  const loaderPath = (await buildLoader()).path;
  const errors: string[] = [];
  await pool(spec.nodes, spec.concurrency ?? 8, async (node) => {
    try {
      await withTransport(node.connection, (t) => remove(t, node, id, spec.interfaceName, loaderPath));
    } catch (error) {
      errors.push(`${node.name}: ${(error as Error).message}`);
    }
  });
  // Forcing leaves those nodes as they are: the caller chose that over keeping the resource.
  if (errors.length && !spec.force)
    throw new Error(
      `XdpProgram could not be removed from ${errors.length} of ${spec.nodes.length} nodes, so it stays in state (destroy again once they are reachable, or apply force: true first to give them up): ${errors.join("; ")}`,
    );
}

export { deleteAll as delete };
