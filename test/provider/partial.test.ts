import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as provider from "../../provider/xdp/provider";
import type { NodeAttachment } from "../../sdk/xdp/programArgs";
import { testIdentity } from "../support/identity";
import { kernelSkip } from "../support/kernel";

const skip = kernelSkip();

describe.skipIf(skip)("a failure on one node is reported per node, and the next update converges", () => {
  const tag = randomBytes(3).toString("hex");
  const namespaces = [`cxp-${tag}-a`, `cxp-${tag}-b`];
  const iface = `xp${tag}`;
  const addInterface = (ns: string) => {
    execFileSync("ip", ["-n", ns, "link", "add", iface, "type", "veth", "peer", "name", `${iface}p`]);
    execFileSync("ip", ["-n", ns, "link", "set", iface, "up"]);
  };
  beforeAll(() => {
    for (const ns of namespaces) execFileSync("ip", ["netns", "add", ns]);
    // Only the first node has the interface yet.
    addInterface(namespaces[0]!);
  });
  afterAll(() => {
    for (const ns of namespaces) execFileSync("ip", ["netns", "del", ns], { stdio: "ignore" });
  });

  it("GIVEN two nodes, one without the interface WHEN created THEN one attaches, one fails, and an update fixes the second", async () => {
    const inputs = (
      await provider.check(
        {},
        {
          identity: testIdentity(),
          nodes: namespaces.map((netns, i) => ({ name: `node-${i}`, connection: { type: "netns", netns } })),
          interfaceName: iface,
          rules: [{ action: "Deny", protocol: "UDP", destination: { ports: [9] } }],
        },
      )
    ).inputs;
    const failure = (await provider.create(inputs as never).then(
      () => undefined,
      (e: unknown) => e,
    )) as { id: string; properties: { attachments: NodeAttachment[] }; reasons: string[]; message: string };
    expect(failure.message).toMatch(/XdpProgram failed on 1 of 2 nodes: node-1: /);
    expect(failure.reasons).toEqual([
      expect.stringMatching(/^node-1: .*(does not exist|Cannot find device)/),
    ]);
    const [first, second] = failure.properties.attachments;
    expect(first).toMatchObject({ node: "node-0", status: "attached" });
    expect(second).toMatchObject({ node: "node-1", status: "failed" });

    addInterface(namespaces[1]!);
    expect((await provider.diff(failure.id, failure.properties as never, inputs as never)).changes).toBe(
      true,
    );
    const { outs } = await provider.update(failure.id, failure.properties as never, inputs as never);
    const attachments = outs.attachments as NodeAttachment[];
    expect(attachments.map((a) => a.status)).toEqual(["attached", "attached"]);
    expect(attachments[0]!.programId).toBe(first!.programId); // untouched: maps rewritten in place
    await provider.delete(failure.id, outs as never);
  });
});
