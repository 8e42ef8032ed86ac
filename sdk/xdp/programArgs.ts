import { isIP } from "node:net";
import { z } from "zod";
import { INTERFACE_NAME, resourceNameProblem } from "../calico/names";
import { checkedString, exactEnum, strictObject } from "../calico/zodkit";
import { MAX_CIDRS } from "./layout";
import { cidrCount, type XdpPolicy, xdpPolicySchema } from "./policy";

/** Network namespace names as `ip netns` creates them under /run/netns. */
const NETNS_NAME = /^[a-zA-Z0-9_.-]{1,64}$/;

/** A host to dial: an IP address or a DNS name (never anything a shell or ssh could read as an option). */
const HOST_NAME =
  /^(?=.{1,253}$)[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*\.?$/;
/** POSIX portable user names, as useradd accepts them. */
const USER_NAME = /^[a-z_][a-z0-9_.-]{0,31}$/;
/** An OpenSSH public key line (`ssh-ed25519 AAAA... [comment]`) or a `SHA256:` fingerprint. */
const HOST_KEY =
  /^(?:(?:ssh-(?:ed25519|rsa|dss)|ecdsa-sha2-nistp(?:256|384|521)|sk-[a-z0-9@.-]+) [A-Za-z0-9+/]+={0,2}(?: .*)?|SHA256:[A-Za-z0-9+/]{43}=?)$/;

/** A secret: never quoted back in a message, so it cannot leak through an error or a preview. */
const secretString = z.string({ error: "must be a string" }).min(1, "is empty");

/** How to dial one SSH server: documented on SshEndpointArgs (sdk/inputs.ts). */
const sshEndpoint = {
  host: checkedString((v) =>
    isIP(v) !== 0 || HOST_NAME.test(v) ? undefined : "is not an IP address or a DNS name",
  ),
  port: z.number().int().min(1).max(65535).default(22),
  user: checkedString((v) => (USER_NAME.test(v) ? undefined : "is not a user name")).default("root"),
  privateKey: secretString.optional(),
  privateKeyPassword: secretString.optional(),
  agentSocketPath: checkedString((v) =>
    v.startsWith("/") && !v.includes("\0") ? undefined : "must be an absolute path",
  ).optional(),
  hostKey: checkedString((v) =>
    HOST_KEY.test(v.trim())
      ? undefined
      : "is not a host key: give the public key line (ssh-ed25519 AAAA...) or its SHA256: fingerprint",
  ).optional(),
  dialErrorLimit: z.number().int().min(1).max(100).default(10),
  perDialTimeout: z.number().int().min(1).max(600).default(15),
};

const sshProxySchema = strictObject(sshEndpoint);
export type SshProxy = z.output<typeof sshProxySchema>;

export const connectionSchema = z.discriminatedUnion(
  "type",
  [
    strictObject({
      type: z.literal("local"),
    }),
    strictObject({
      type: z.literal("netns"),
      netns: checkedString((v) =>
        NETNS_NAME.test(v) && v !== "." && v !== ".."
          ? undefined
          : "is not a network namespace name: letters, digits, '_', '.', '-'",
      ),
    }),
    strictObject({
      type: z.literal("ssh"),
      ...sshEndpoint,
      proxy: sshProxySchema.optional(),
    }),
  ],
  {
    error: (issue) => (issue.code === "invalid_union" ? 'type must be "local", "netns" or "ssh"' : undefined),
  },
);
export type Connection = z.output<typeof connectionSchema>;

/** An SSH connection's endpoints (the node, then its bastion) with their paths within the connection. */
export function sshEndpoints(connection: Connection): [SshProxy, PropertyKey[]][] {
  if (connection.type !== "ssh") return [];
  return connection.proxy
    ? [
        [connection, []],
        [connection.proxy, ["proxy"]],
      ]
    : [[connection, []]];
}

/** Rules across an SSH connection's fields (and its bastion's); paths are within the connection. */
export function sshConnectionIssues(connection: Connection): { path: PropertyKey[]; message: string }[] {
  const issues: { path: PropertyKey[]; message: string }[] = [];
  for (const [endpoint, at] of sshEndpoints(connection)) {
    if (endpoint.privateKey === undefined && endpoint.agentSocketPath === undefined)
      issues.push({
        path: [...at, "privateKey"],
        message: "is missing: give privateKey (a Pulumi secret) or agentSocketPath",
      });
    if (endpoint.privateKeyPassword !== undefined && endpoint.privateKey === undefined)
      issues.push({ path: [...at, "privateKeyPassword"], message: "is set but privateKey is not" });
  }
  return issues;
}

/** What a connection reaches, so two nodes cannot be the same place under different names. */
export function nodeEndpoint(connection: Connection): string {
  switch (connection.type) {
    case "local":
      return "this machine";
    case "netns":
      return `network namespace ${connection.netns}`;
    case "ssh":
      return `${connection.host}:${connection.port}${connection.proxy ? ` via ${connection.proxy.host}:${connection.proxy.port}` : ""}`;
  }
}

/** One warning per SSH endpoint whose host key is not pinned. */
export function hostKeyWarnings(subject: string, nodes: readonly { name: string; connection: Connection }[]) {
  const warnings: string[] = [];
  for (const { name, connection } of nodes) {
    for (const [endpoint] of sshEndpoints(connection)) {
      if (endpoint.hostKey === undefined)
        warnings.push(
          `${subject}: node ${name} connects to ${endpoint.user}@${endpoint.host}:${endpoint.port} without hostKey, so that host is not verified; pin its /etc/ssh/ssh_host_ed25519_key.pub line (or SHA256: fingerprint) as hostKey`,
        );
    }
  }
  return warnings;
}

/** Documented on XdpNodeArgs and the connection types (sdk/inputs.ts). */
export const xdpNodeSchema = strictObject({
  name: checkedString((v) => resourceNameProblem(v)),
  connection: connectionSchema,
});
export type XdpNode = z.output<typeof xdpNodeSchema>;

const interfaceName = checkedString((v) => {
  if (INTERFACE_NAME.test(v)) return undefined;
  return v.length > 15
    ? `is ${v.length} characters long: Linux interface names have at most 15`
    : "is not an interface name: use letters, digits, '_', '.' and '-'";
});

const section = checkedString((v) =>
  /^[a-zA-Z0-9_./-]{1,64}$/.test(v) ? undefined : "is not an ELF section name",
);

export const XDP_MODES = ["native", "generic", "auto"] as const;

/** Documented on XdpProgramArgs (sdk/xdpProgram.ts), which is checked against it. */
export const xdpProgramArgsSchema = strictObject({
  nodes: z
    .array(xdpNodeSchema)
    .min(1, "must name at least one node")
    .superRefine((nodes, ctx) => {
      const names = new Map<string, number>();
      const places = new Map<string, number>();
      for (const [i, node] of nodes.entries()) {
        if (names.has(node.name))
          ctx.addIssue({
            code: "custom",
            path: [i, "name"],
            message: `${JSON.stringify(node.name)} is listed twice`,
          });
        const place = nodeEndpoint(node.connection);
        const first = places.get(place);
        if (first !== undefined && !names.has(node.name))
          ctx.addIssue({
            code: "custom",
            path: [i, "connection"],
            message: `reaches ${place}, as node ${JSON.stringify(nodes[first]!.name)} does: one node, one entry`,
          });
        names.set(node.name, i);
        if (first === undefined) places.set(place, i);
      }
    }),
  /**
   * The interface to attach to on every node, e.g. `eth0`. Changing it attaches on the new interface
   * before detaching from the old one.
   */
  interfaceName,
  mode: exactEnum(XDP_MODES, "an XDP mode").default("auto"),
  takeOver: z.boolean().default(false),
  rules: xdpPolicySchema.shape.ingress.optional(),
  failsafeInbound: xdpPolicySchema.shape.failsafeInbound,
  failsafeOutbound: xdpPolicySchema.shape.failsafeOutbound,
  networkSets: xdpPolicySchema.shape.networkSets,
  hostEndpoints: xdpPolicySchema.shape.hostEndpoints,
  selectorScope: xdpPolicySchema.shape.selectorScope,
  enforce: xdpPolicySchema.shape.enforce,
  source: checkedString((v) =>
    v.startsWith("/") && !v.includes("\0") ? undefined : "must be an absolute path",
  ).optional(),
  section: section.optional(),
  concurrency: z.number().int().min(1).max(256).default(8),
  force: z.boolean().default(false),
}).superRefine((args, ctx) => {
  for (const [i, node] of args.nodes.entries()) {
    for (const issue of sshConnectionIssues(node.connection))
      ctx.addIssue({
        code: "custom",
        path: ["nodes", i, "connection", ...issue.path],
        message: issue.message,
      });
  }
  if ((args.rules === undefined) === (args.source === undefined)) {
    ctx.addIssue({
      code: "custom",
      path: ["rules"],
      message: "give exactly one of rules (the policy filter) or source (your own program)",
    });
  }
  const cidrs = cidrCount(policyOf(args));
  if (cidrs > MAX_CIDRS) {
    ctx.addIssue({
      code: "custom",
      path: ["rules"],
      message: `holds ${cidrs} addresses and CIDRs (rules' nets, failsafe nets and selected sets' members): the XDP filter holds at most ${MAX_CIDRS} per policy`,
    });
  }
  if (args.section !== undefined && args.source === undefined) {
    ctx.addIssue({ code: "custom", path: ["section"], message: "only applies to a custom source" });
  }
});

/** The XDP policy an XdpProgram's args describe (rules empty for a custom source). */
export function policyOf(
  args: {
    readonly rules?: XdpPolicy["ingress"] | undefined;
  } & Omit<XdpPolicy, "ingress">,
): XdpPolicy {
  return {
    ingress: args.rules ?? [],
    failsafeInbound: args.failsafeInbound,
    failsafeOutbound: args.failsafeOutbound,
    networkSets: args.networkSets,
    hostEndpoints: args.hostEndpoints,
    selectorScope: args.selectorScope,
    enforce: args.enforce,
  };
}
export type XdpProgramSpec = z.output<typeof xdpProgramArgsSchema>;

/** What one node reports after create, update or refresh. */
export interface NodeAttachment {
  readonly node: string;
  /** attached: our program is on the interface; failed: this node's operation failed; detached / replaced: drift seen on refresh. */
  readonly status: "attached" | "failed" | "detached" | "replaced";
  readonly mode?: "native" | "generic";
  readonly programId?: number;
  readonly programTag?: string;
  /** The bpf_link that attaches the program (pinned, so netlink cannot detach it). */
  readonly linkId?: number;
  readonly objectSha256?: string;
  readonly mapsSha256?: string;
  readonly ruleCount?: number;
  readonly attachedAt?: string;
  readonly pinDir?: string;
  readonly error?: string;
  /** What refresh found that differs from what was applied. */
  readonly drift?: string;
}
