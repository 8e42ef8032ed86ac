import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PIN_ROOT } from "../../provider/xdp/node";
import * as provider from "../../provider/xdp/provider";
import type { NodeAttachment } from "../../sdk/xdp/programArgs";
import { inNetns } from "../support/hosts";
import { testIdentity } from "../support/identity";
import { kernelSkip } from "../support/kernel";
import { createSshFleet, type SshFleet, sshSkip } from "../support/sshd";
import { attachedId } from "../support/xdpLink";

const skip = kernelSkip() ?? sshSkip();
const NODES = 20;

type Outs = Record<string, unknown> & { attachments: NodeAttachment[] };

describe.skipIf(skip)(`a fleet of ${NODES} SSH nodes`, () => {
  let fleet: SshFleet;
  let id: string | undefined;
  beforeAll(async () => {
    fleet = await createSshFleet(NODES);
  }, 60_000);
  afterAll(() => {
    fleet?.destroy();
  });

  const identity = testIdentity();
  const inputs = (port: number) => ({
    identity,
    nodes: fleet.hosts.map((h, i) => ({
      name: `node-${String(i).padStart(2, "0")}`,
      connection: { type: "ssh", host: h.address, privateKey: fleet.clientKey, hostKey: h.hostKey },
    })),
    interfaceName: fleet.hosts[0]!.iface,
    rules: fleet.hosts.map((h) => ({
      action: "Deny",
      protocol: "TCP",
      source: { nets: [`${h.deniedAddress}/32`] },
      destination: { ports: [port] },
    })),
  });
  const check = async (news: Record<string, unknown>, olds: Record<string, unknown> = {}) => {
    const result = await provider.check(olds, news);
    expect(result.failures).toBeUndefined();
    return result.inputs as never;
  };
  /** Per node: what a connection to `port` from the denied address gets (nothing listens, so RST unless dropped). */
  const probeAll = (port: number) =>
    Promise.all(
      fleet.hosts.map((h) => inNetns(undefined, "tcp-connect", h.address, String(port), h.deniedAddress)),
    );
  const expectEveryNode = (outs: Outs) => {
    expect(outs.attachments).toHaveLength(NODES);
    for (const [i, h] of fleet.hosts.entries()) {
      expect(outs.attachments[i]).toMatchObject({ status: "attached", ruleCount: NODES });
      expect(attachedId(h.netns, h.iface)).toBe(outs.attachments[i]!.programId);
    }
  };

  it("GIVEN 20 nodes WHEN created, updated and destroyed THEN every node follows", async () => {
    const created = await provider.create(await check(inputs(7001)));
    id = created.id;
    let outs = created.outs as Outs;
    expectEveryNode(outs);
    expect(await probeAll(7001)).toEqual(fleet.hosts.map(() => "timeout"));
    expect(await probeAll(7002)).toEqual(fleet.hosts.map(() => "error ECONNREFUSED"));

    const news = await check(inputs(7002), outs);
    const updated = (await provider.update(id, outs as never, news)).outs as Outs;
    expectEveryNode(updated);
    expect(updated.attachments.map((a) => a.programId)).toEqual(outs.attachments.map((a) => a.programId));
    expect(new Set(updated.attachments.map((a) => a.mapsSha256))).toEqual(
      new Set([(news as { mapsSha256: string }).mapsSha256]),
    );
    expect(await probeAll(7002)).toEqual(fleet.hosts.map(() => "timeout"));
    expect(await probeAll(7001)).toEqual(fleet.hosts.map(() => "error ECONNREFUSED"));
    outs = updated;

    await provider.delete(id, outs as never);
    for (const h of fleet.hosts) expect(attachedId(h.netns, h.iface)).toBeUndefined();
    expect(existsSync(join(PIN_ROOT, id))).toBe(false);
  }, 300_000);
});
