import * as pulumi from "@pulumi/pulumi";
import { LocalWorkspace, type Stack } from "@pulumi/pulumi/automation";
import { XdpProgram } from "pulumi-calico-xdp";
import { engineWorkspace } from "../../scripts/workspace";
import type { NodeAttachment } from "../../sdk/xdp/programArgs";
import { XDP_PROGRAM_TYPE } from "../../sdk/xdpProgram";

/** A node of the inline stack: a network namespace on this machine. */
export interface StackNode {
  readonly name: string;
  readonly netns: string;
}

/** One XdpProgram from config (`nodes`, `interfaceName`, `rules`), through the real engine. */
async function program() {
  const config = new pulumi.Config();
  const filter = new XdpProgram("filter", {
    nodes: config
      .requireObject<StackNode[]>("nodes")
      .map((n) => ({ name: n.name, connection: { type: "netns" as const, netns: n.netns } })),
    interfaceName: config.require("interfaceName"),
    rules: config.requireObject("rules"),
  });
  return { attachments: filter.attachments, id: filter.id };
}

export interface XdpStack {
  readonly stack: Stack;
  configure(nodes: readonly StackNode[], interfaceName: string, rules: unknown[]): Promise<void>;
  /** The XdpProgram's id and attachments as state holds them. */
  state(): Promise<{ id?: string; attachments?: NodeAttachment[] }>;
}

/** A stack of one XdpProgram on a local file backend under `dir`, run by the engine in `engineBin`. */
export async function xdpStack(engineBin: string, dir: string, name: string): Promise<XdpStack> {
  const stack = await LocalWorkspace.createOrSelectStack(
    { projectName: "xdp-program", stackName: name, program },
    await engineWorkspace(engineBin, dir, "calico-xdp-tests", "xdp-program"),
  );
  return {
    stack,
    configure: (nodes, interfaceName, rules) =>
      stack.setAllConfig({
        nodes: { value: JSON.stringify(nodes) },
        interfaceName: { value: interfaceName },
        rules: { value: JSON.stringify(rules) },
      }),
    state: async () => {
      const deployment = (await stack.exportStack()).deployment as {
        resources?: { type: string; id?: string; outputs?: { attachments?: NodeAttachment[] } }[];
      };
      const resource = deployment.resources?.find((r) => r.type === XDP_PROGRAM_TYPE);
      return { id: resource?.id, attachments: resource?.outputs?.attachments };
    },
  };
}
