import { appendFileSync, cpSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildLoader, buildObject, packageRoot } from "../../provider/bpf/build";
import { converge, type Desired, PIN_ROOT, remove } from "../../provider/xdp/node";
import { transportFor } from "../../provider/xdp/transport";
import { addressMapSizes, compileXdpPolicy, encodeMaps, mapsDigest } from "../../sdk/xdp/compile";
import type { NodeAttachment, XdpNode } from "../../sdk/xdp/programArgs";
import { background } from "../support/hosts";
import { kernelSkip } from "../support/kernel";
import { createTestbed, type Testbed } from "../support/netns";

const SWAPS = 100;
const skip = kernelSkip();

describe.skipIf(skip)("atomic swap under a steady packet stream", () => {
  let tb: Testbed;
  let copy: string;
  beforeAll(() => {
    tb = createTestbed();
    copy = mkdtempSync(join(tmpdir(), "calico-xdp-swap-"));
  });
  afterAll(() => {
    tb?.destroy();
    rmSync(copy, { recursive: true, force: true });
  });

  it(`GIVEN denied and allowed UDP streams WHEN the object is swapped ${SWAPS} times THEN no denied packet passes and allowed traffic flows`, async () => {
    // Two different objects of the same filter: the second is built from a copy with one more comment.
    cpSync(join(packageRoot(), "bpf"), copy, { recursive: true });
    appendFileSync(join(copy, "xdp_policy.c"), "/* swap test variant */\n");
    const objects = [await buildObject(), await buildObject(join(copy, "xdp_policy.c"))];
    expect(objects[0]!.sha256).not.toBe(objects[1]!.sha256);

    const maps = encodeMaps(
      compileXdpPolicy([
        {
          action: "Allow",
          protocol: "UDP",
          source: { nets: [`${tb.client.address}/32`] },
          destination: { ports: [9001] },
        },
        { action: "Deny", protocol: "UDP", destination: { ports: [9000] } },
      ]),
    );
    const node: XdpNode = { name: "swap-node", connection: { type: "netns", netns: tb.server.netns } };
    const transport = transportFor(node.connection);
    const loaderPath = (await buildLoader()).path;
    const desired = (i: number): Desired => ({
      id: `cx-swaptest-${process.pid}`,
      iface: tb.server.iface,
      mode: "auto",
      takeOver: false,
      objectPath: objects[i % 2]!.path,
      objectSha256: objects[i % 2]!.sha256,
      loaderPath,
      policy: true,
      section: "xdp",
      mapSizes: addressMapSizes(maps),
      maps,
      mapsSha256: mapsDigest(maps),
      ruleCount: 2,
    });

    let attachment: NodeAttachment = await converge(transport, node, desired(0));
    const denied = await background(tb.server.netns, "udp-count", "9000", "600");
    const allowed = await background(tb.server.netns, "udp-count", "9001", "600");
    const floods = [
      await background(tb.client.netns, "udp-flood", tb.server.address, "9000", tb.client.address, "600"),
      await background(tb.client.netns, "udp-flood", tb.server.address, "9001", tb.client.address, "600"),
    ];
    const ids = new Set<number>([attachment.programId!]);
    try {
      for (let i = 1; i <= SWAPS; i++) {
        attachment = await converge(transport, node, desired(i), { attachment });
        ids.add(attachment.programId!);
      }
    } finally {
      const sent = await Promise.all(floods.map((f) => f.stop()));
      await new Promise((r) => setTimeout(r, 300));
      const received = { denied: await denied.stop(), allowed: await allowed.stop() };
      await remove(transport, node, `cx-swaptest-${process.pid}`, tb.server.iface, loaderPath);
      expect(Number(sent[0]!.split("\n").pop())).toBeGreaterThan(1000);
      expect(received.denied.split("\n").pop()).toBe("0");
      expect(Number(received.allowed.split("\n").pop())).toBeGreaterThan(0);
    }
    expect(ids.size).toBe(SWAPS + 1);
    expect(existsSync(join(PIN_ROOT, `cx-swaptest-${process.pid}`))).toBe(false);
  }, 600_000);
});
