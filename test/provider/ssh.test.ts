import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PIN_ROOT } from "../../provider/xdp/node";
import * as provider from "../../provider/xdp/provider";
import type { NodeAttachment } from "../../sdk/xdp/programArgs";
import { background, inNetns } from "../support/hosts";
import { testIdentity } from "../support/identity";
import { kernelSkip } from "../support/kernel";
import { REPO_ROOT } from "../support/paths";
import { createSshFleet, type SshFleet, sshSkip } from "../support/sshd";
import { attachedId, detachFromOutside } from "../support/xdpLink";

const skip = kernelSkip() ?? sshSkip();

type Outs = Record<string, unknown> & { attachments: NodeAttachment[] };

describe.skipIf(skip)("XdpProgram over SSH on three hosts", () => {
  let fleet: SshFleet;
  let servers: Awaited<ReturnType<typeof background>>[] = [];
  let id: string;
  let outs: Outs;

  const identity = testIdentity();
  const inputsFor = (allowDenied: boolean, extra: Record<string, unknown> = {}) => ({
    identity,
    nodes: fleet.hosts.map((h, i) => ({
      name: `redis-${i}`,
      connection: {
        type: "ssh",
        host: h.address,
        privateKey: fleet.clientKey,
        hostKey: h.hostKey,
        dialErrorLimit: 2,
        perDialTimeout: 5,
      },
    })),
    interfaceName: fleet.hosts[0]!.iface,
    rules: [
      {
        action: "Allow",
        protocol: "TCP",
        source: {
          nets: fleet.hosts.flatMap((h) => [
            `${h.clientAddress}/32`,
            ...(allowDenied ? [`${h.deniedAddress}/32`] : []),
          ]),
        },
        destination: { ports: [6379] },
      },
      { action: "Deny", protocol: "TCP", destination: { ports: [6379] } },
    ],
    ...extra,
  });
  const checked = async (inputs: Record<string, unknown>, olds: Record<string, unknown> = {}) => {
    const result = await provider.check(olds, inputs);
    expect(result.failures).toBeUndefined();
    return result.inputs as never;
  };
  const connect = (i: number, from: "clientAddress" | "deniedAddress") =>
    inNetns(undefined, "tcp-connect", fleet.hosts[i]!.address, "6379", fleet.hosts[i]![from]);
  const byNode = (a: NodeAttachment[]) => Object.fromEntries(a.map((x) => [x.node, x]));

  beforeAll(async () => {
    fleet = await createSshFleet(3);
    servers = await Promise.all(fleet.hosts.map((h) => background(h.netns, "tcp-server", "6379")));
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    fleet?.destroy();
    if (id) rmSync(join(PIN_ROOT, id), { recursive: true, force: true });
  });

  it("GIVEN SSH nodes WHEN checked THEN the keys move out of nodes into credentials", async () => {
    const inputs = (await checked(inputsFor(false))) as Record<string, unknown>;
    expect(JSON.stringify(inputs.nodes)).not.toContain("PRIVATE KEY");
    expect(inputs.nodes).toEqual(
      fleet.hosts.map((h, i) =>
        expect.objectContaining({
          name: `redis-${i}`,
          connection: expect.objectContaining({ type: "ssh", host: h.address, port: 22, user: "root" }),
        }),
      ),
    );
    expect(inputs.credentials).toEqual({
      "redis-0": { privateKey: fleet.clientKey },
      "redis-1": { privateKey: fleet.clientKey },
      "redis-2": { privateKey: fleet.clientKey },
    });
  });

  it("GIVEN create WHEN attached on every host THEN allowed clients connect, denied ones do not", async () => {
    const created = await provider.create(await checked(inputsFor(false)));
    id = created.id;
    outs = created.outs as Outs;
    expect(outs.attachments.map((a) => a.status)).toEqual(["attached", "attached", "attached"]);
    for (const [i, host] of fleet.hosts.entries()) {
      expect(outs.attachments[i]!.programId).toBe(attachedId(host.netns, host.iface));
      expect(await connect(i, "clientAddress")).toBe("connected");
      expect(await connect(i, "deniedAddress")).toBe("timeout");
    }
  });

  it("GIVEN the filter WHEN calico-xdp status runs over SSH THEN it shows our program and its counters", () => {
    const dir = mkdtempSync(join(tmpdir(), "calico-xdp-key-"));
    try {
      const key = join(dir, "id");
      writeFileSync(key, fleet.clientKey, { mode: 0o600 });
      const host = fleet.hosts[1]!;
      const json = JSON.parse(
        execFileSync(
          process.execPath,
          [
            join(REPO_ROOT, "dist", "provider", "cli.js"),
            "status",
            "--ssh",
            `root@${host.address}:22`,
            "--identity",
            key,
            "--host-key",
            host.hostFingerprint,
            "--interface",
            host.iface,
            "--json",
          ],
          { encoding: "utf8" },
        ),
      );
      expect(json).toEqual([
        expect.objectContaining({
          interface: host.iface,
          programId: outs.attachments[1]!.programId,
          owner: "calico-xdp",
          rules: expect.arrayContaining([
            expect.objectContaining({ rule: 0 }),
            expect.objectContaining({ rule: 1 }),
          ]),
        }),
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("GIVEN a rules-only change WHEN updated THEN maps change in place on every host", async () => {
    const news = await checked(inputsFor(true), outs);
    expect(await provider.diff(id, outs as never, news)).toEqual({ changes: true });
    const updated = (await provider.update(id, outs as never, news)).outs as Outs;
    expect(updated.attachments.map((a) => a.programId)).toEqual(outs.attachments.map((a) => a.programId));
    for (const i of [0, 1, 2]) expect(await connect(i, "deniedAddress")).toBe("connected");
    outs = updated;
  });

  it("GIVEN a program detached on one host WHEN refreshed and updated THEN only that host is touched", async () => {
    const host = fleet.hosts[1]!;
    detachFromOutside(host.netns, host.iface);
    const refreshed = (await provider.read(id, outs as never)).props as Outs;
    expect(refreshed.attachments.map((a) => a.status)).toEqual(["attached", "detached", "attached"]);
    const news = await checked(inputsFor(true), refreshed);
    expect((await provider.diff(id, refreshed as never, news)).changes).toBe(true);
    const updated = (await provider.update(id, refreshed as never, news)).outs as Outs;
    expect(updated.attachments.map((a) => a.status)).toEqual(["attached", "attached", "attached"]);
    expect(updated.attachments[1]!.programId).toBe(attachedId(host.netns, host.iface));
    expect(byNode(updated.attachments)["redis-0"]).toEqual(byNode(refreshed.attachments)["redis-0"]);
    expect(byNode(updated.attachments)["redis-2"]).toEqual(byNode(refreshed.attachments)["redis-2"]);
    outs = updated;
  });

  it("GIVEN a host whose sshd is killed WHEN updated THEN it fails alone, and the next update retries only it", async () => {
    const down = fleet.hosts[2]!;
    down.stop();
    const news = await checked(inputsFor(false), outs);
    const failure = (await provider.update(id, outs as never, news).then(
      () => undefined,
      (e: unknown) => e,
    )) as { properties: Outs; reasons: string[] };
    expect(failure.reasons).toEqual([
      expect.stringMatching(
        new RegExp(`^redis-2: cannot reach root@${down.address.replace(/\./g, "\\.")}:22`),
      ),
    ]);
    const partial = failure.properties;
    expect(partial.attachments.map((a) => a.status)).toEqual(["attached", "attached", "failed"]);
    expect(await connect(0, "deniedAddress")).toBe("timeout"); // the new rules reached the others
    // The key is only in credentials (which Pulumi keeps secret), never in nodes or errors.
    expect(JSON.stringify({ ...partial, credentials: undefined })).not.toContain("PRIVATE KEY");

    await down.start();
    const retried = (await provider.update(id, partial as never, news)).outs as Outs;
    expect(retried.attachments.map((a) => a.status)).toEqual(["attached", "attached", "attached"]);
    expect(retried.attachments[0]).toEqual(partial.attachments[0]); // untouched
    expect(retried.attachments[1]).toEqual(partial.attachments[1]);
    expect(retried.attachments[2]!.mapsSha256).toBe(retried.attachments[0]!.mapsSha256);
    expect(await connect(2, "deniedAddress")).toBe("timeout");
    outs = retried;
  });

  it("GIVEN an unreachable host WHEN deleted THEN delete fails and keeps the resource; with force it gives the host up", async () => {
    const down = fleet.hosts[0]!;
    down.stop();
    await expect(provider.delete(id, outs as never)).rejects.toThrow(
      /could not be removed from 1 of 3 nodes, so it stays in state .*redis-0: cannot reach/,
    );
    expect(attachedId(fleet.hosts[1]!.netns, fleet.hosts[1]!.iface)).toBeUndefined();
    expect(attachedId(down.netns, down.iface)).toBe(outs.attachments[0]!.programId);

    const forced = await checked(inputsFor(false, { force: true }), outs);
    expect((await provider.diff(id, outs as never, forced)).changes).toBe(true);
    await provider.delete(id, { ...outs, force: true } as never);
    // Given up, not cleaned: once it is back, destroying again removes what is left.
    await down.start();
    await provider.delete(id, outs as never);
    expect(attachedId(down.netns, down.iface)).toBeUndefined();
    expect(existsSync(join(PIN_ROOT, id))).toBe(false);
  });
});
