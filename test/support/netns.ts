import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";

const ip = (...args: string[]) => execFileSync("ip", args, { stdio: ["ignore", "pipe", "pipe"] }).toString();

/** Two hosts in network namespaces joined by a veth pair, on 198.18.<subnet>.0/24. */
export interface Testbed {
  readonly server: { readonly netns: string; readonly iface: string; readonly address: string };
  readonly client: {
    readonly netns: string;
    readonly iface: string;
    readonly address: string;
    readonly deniedAddress: string;
  };
  readonly subnet: string;
  destroy(): void;
}

/**
 * Creates the testbed with unique names; `destroy()` removes both namespaces (and with them the veth
 * pair and anything attached). Call it from a `finally`/`afterAll`.
 */
export function createTestbed(): Testbed {
  const tag = randomBytes(3).toString("hex");
  const third = 1 + (Number.parseInt(tag.slice(0, 4), 16) % 250);
  const server = { netns: `cxs-${tag}`, iface: `xs${tag}`, address: `198.18.${third}.1` };
  const client = {
    netns: `cxc-${tag}`,
    iface: `xc${tag}`,
    address: `198.18.${third}.2`,
    deniedAddress: `198.18.${third}.3`,
  };
  const destroy = () => {
    for (const ns of [server.netns, client.netns]) {
      try {
        ip("netns", "del", ns);
      } catch {
        // already gone
      }
    }
  };
  try {
    ip("netns", "add", server.netns);
    ip("netns", "add", client.netns);
    ip(
      "link",
      "add",
      server.iface,
      "netns",
      server.netns,
      "type",
      "veth",
      "peer",
      "name",
      client.iface,
      "netns",
      client.netns,
    );
    ip("-n", server.netns, "addr", "add", `${server.address}/24`, "dev", server.iface);
    ip("-n", client.netns, "addr", "add", `${client.address}/24`, "dev", client.iface);
    ip("-n", client.netns, "addr", "add", `${client.deniedAddress}/24`, "dev", client.iface);
    for (const [ns, dev] of [
      [server.netns, server.iface],
      [client.netns, client.iface],
    ] as const) {
      ip("-n", ns, "link", "set", "lo", "up");
      ip("-n", ns, "link", "set", dev, "up");
    }
  } catch (error) {
    destroy();
    throw error;
  }
  return { server, client, subnet: `198.18.${third}.0/24`, destroy };
}
