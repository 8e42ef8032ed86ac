import { z } from "zod";
import { INTERFACE_NAME, resourceNameProblem } from "../calico/names";
import { checkedString, exactEnum, strictObject } from "../calico/zodkit";
import { MAX_CIDRS } from "./layout";
import { cidrCount, xdpPolicySchema } from "./policy";

/** Network namespace names as `ip netns` creates them under /run/netns. */
const NETNS_NAME = /^[a-zA-Z0-9_.-]{1,64}$/;

export const connectionSchema = z.discriminatedUnion(
  "type",
  [
    strictObject({
      /** This machine's own network namespace. */
      type: z.literal("local"),
    }),
    strictObject({
      /** A network namespace on this machine (`ip netns`): what tests and the demo use. */
      type: z.literal("netns"),
      /** Its name under /run/netns. */
      netns: checkedString((v) =>
        NETNS_NAME.test(v) && v !== "." && v !== ".."
          ? undefined
          : "is not a network namespace name: letters, digits, '_', '.', '-'",
      ),
    }),
  ],
  { error: (issue) => (issue.code === "invalid_union" ? 'type must be "local" or "netns"' : undefined) },
);
export type Connection = z.output<typeof connectionSchema>;

export const xdpNodeSchema = strictObject({
  /** The node's name (the Calico/Kubernetes node name); unique within the resource. */
  name: checkedString((v) => resourceNameProblem(v)),
  /** How to reach the node. */
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

export const xdpProgramArgsSchema = strictObject({
  /** The nodes to attach on. Changing the set of nodes replaces the resource. */
  nodes: z
    .array(xdpNodeSchema)
    .min(1, "must name at least one node")
    .superRefine((nodes, ctx) => {
      const seen = new Set<string>();
      for (const [i, node] of nodes.entries()) {
        if (seen.has(node.name))
          ctx.addIssue({
            code: "custom",
            path: [i, "name"],
            message: `${JSON.stringify(node.name)} is listed twice`,
          });
        seen.add(node.name);
      }
    }),
  /** The interface to attach to on every node, e.g. `eth0`. Changing it replaces the resource. */
  interfaceName,
  /**
   * `native` (driver), `generic` (skb, works everywhere, about as fast as iptables raw) or `auto`
   * (native, else generic; the outputs record which).
   * @default - "auto"
   */
  mode: exactEnum(XDP_MODES, "an XDP mode").default("auto"),
  /**
   * Replace an XDP program that someone else attached (Calico's `prefilter`, for instance). Without it,
   * such a node fails with what was found and what to do.
   * @default - false
   */
  takeOver: z.boolean().default(false),
  /**
   * The untracked policy's ingress rules (Calico's Rule shape), compiled into the filter's maps; at most
   * 64 rules and 100,000 CIDRs. Give this or `source`.
   */
  rules: xdpPolicySchema.shape.ingress.optional(),
  /**
   * Failsafe inbound ports, always passed, checked before the rules.
   * @default - Calico's defaults (tcp 22, udp 68, tcp 179, tcp 2379, tcp 2380, tcp 5473, tcp 6443, tcp 6666, tcp 6667)
   */
  failsafeInbound: xdpPolicySchema.shape.failsafeInbound,
  /** Path to your own XDP C source, built with the same clang flags; instead of `policy`. */
  source: checkedString((v) =>
    v.startsWith("/") && !v.includes("\0") ? undefined : "must be an absolute path",
  ).optional(),
  /** The ELF section of the program in `source`. @default - "xdp" */
  section: section.optional(),
  /** How many nodes to work on at once. @default - 8 */
  concurrency: z.number().int().min(1).max(256).default(8),
}).superRefine((args, ctx) => {
  if ((args.rules === undefined) === (args.source === undefined)) {
    ctx.addIssue({
      code: "custom",
      path: ["rules"],
      message: "give exactly one of rules (the policy filter) or source (your own program)",
    });
  }
  const cidrs = cidrCount({ ingress: args.rules ?? [], failsafeInbound: args.failsafeInbound });
  if (cidrs > MAX_CIDRS) {
    ctx.addIssue({
      code: "custom",
      path: ["rules"],
      message: `holds ${cidrs} CIDRs: the XDP filter holds at most ${MAX_CIDRS} per policy`,
    });
  }
  if (args.section !== undefined && args.source === undefined) {
    ctx.addIssue({ code: "custom", path: ["section"], message: "only applies to a custom source" });
  }
});
export type XdpProgramArgsInput = z.input<typeof xdpProgramArgsSchema>;
export type XdpProgramSpec = z.output<typeof xdpProgramArgsSchema>;

/** What one node reports after create, update or refresh. */
export interface NodeAttachment {
  readonly node: string;
  /** attached: our program is on the interface; failed: this node's operation failed; detached / replaced: drift seen on refresh. */
  readonly status: "attached" | "failed" | "detached" | "replaced";
  readonly mode?: "native" | "generic";
  readonly programId?: number;
  readonly programTag?: string;
  readonly objectSha256?: string;
  readonly mapsSha256?: string;
  readonly ruleCount?: number;
  readonly attachedAt?: string;
  readonly pinDir?: string;
  readonly error?: string;
  /** What refresh found that differs from what was applied. */
  readonly drift?: string;
}
