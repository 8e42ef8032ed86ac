import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readCounters } from "../../provider/bpf/bpftool";
import { buildObject, packageRoot } from "../../provider/bpf/build";
import { nodePinDir, PIN_ROOT } from "../../provider/xdp/node";
import * as provider from "../../provider/xdp/provider";
import type { NodeAttachment } from "../../sdk/xdp/programArgs";
import { background, inNetns } from "../support/hosts";
import { testIdentity } from "../support/identity";
import { kernelSkip } from "../support/kernel";
import { createTestbed, type Testbed } from "../support/netns";
import { calicoXdpStatus } from "../support/status";
import { attachedId, detachFromOutside } from "../support/xdpLink";

const skip = kernelSkip();

describe.skipIf(skip)("XdpProgram provider on netns nodes", () => {
  let tb: Testbed;
  let server: Awaited<ReturnType<typeof background>>;
  const rules = (allowed: string[]) => [
    { action: "Allow", protocol: "TCP", source: { nets: allowed }, destination: { ports: [6379] } },
    { action: "Deny", protocol: "TCP", destination: { ports: [6379] } },
  ];
  const identity = testIdentity();
  const inputsFor = (allowed: string[]) => ({
    identity,
    nodes: [{ name: "redis-1", connection: { type: "netns", netns: tb.server.netns } }],
    interfaceName: tb.server.iface,
    rules: rules(allowed),
  });
  const connect = (from: string) => inNetns(tb.client.netns, "tcp-connect", tb.server.address, "6379", from);

  beforeAll(async () => {
    tb = createTestbed();
    server = await background(tb.server.netns, "tcp-server", "6379");
  });
  afterAll(async () => {
    await server?.stop();
    tb?.destroy();
  });

  let id: string;
  let outs: Record<string, unknown> & { attachments: NodeAttachment[] };

  it("GIVEN no program WHEN clients connect THEN both reach the server", async () => {
    expect(await connect(tb.client.address)).toBe("connected");
    expect(await connect(tb.client.deniedAddress)).toBe("connected");
  });

  it("GIVEN valid inputs WHEN checked THEN they are normalised with digests and no failures", async () => {
    const result = await provider.check({}, inputsFor([`${tb.client.address}/32`]));
    expect(result.failures).toBeUndefined();
    expect(result.inputs).toMatchObject({
      mode: "auto",
      takeOver: false,
      ruleCount: 2,
    });
    expect(result.inputs.mapsSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(result.inputs.sourceSha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it("GIVEN create WHEN attached THEN the allowed client connects, the denied one does not, and counters match", async () => {
    const checked = (await provider.check({}, inputsFor([`${tb.client.address}/32`]))).inputs;
    const created = await provider.create(checked as never);
    id = created.id;
    outs = created.outs;
    const [attachment] = outs.attachments;
    expect(attachment).toMatchObject({ node: "redis-1", status: "attached", ruleCount: 2 });
    expect(["native", "generic"]).toContain(attachment!.mode);
    expect(attachment!.programId).toBe(attachedId(tb.server.netns, tb.server.iface));
    expect(await connect(tb.client.address)).toBe("connected");
    expect(await connect(tb.client.deniedAddress)).toBe("timeout");
    const counters = await readCounters(join(attachment!.pinDir!, "rule_stats"));
    expect(counters[0]!.packets).toBeGreaterThan(0n); // the allowed client's packets
    expect(counters[1]!.packets).toBeGreaterThan(0n); // the denied client's SYNs (and retries)
  });

  it("GIVEN the attached filter WHEN calico-xdp status runs THEN it shows our program, its mode and per-rule counters", () => {
    const json = JSON.parse(calicoXdpStatus(tb.server.netns, "--json"));
    expect(json).toEqual([
      expect.objectContaining({
        interface: tb.server.iface,
        programId: outs.attachments[0]!.programId,
        owner: "calico-xdp",
        mode: outs.attachments[0]!.mode,
        linkId: outs.attachments[0]!.linkId,
        rules: expect.arrayContaining([
          expect.objectContaining({ rule: 0 }),
          expect.objectContaining({ rule: 1 }),
        ]),
      }),
    ]);
    const table = calicoXdpStatus(tb.server.netns, "--interface", tb.server.iface);
    expect(table).toMatch(
      new RegExp(
        `^${tb.server.iface}: program \\d+ "calico_xdp_poli", (native|generic) mode, link ${outs.attachments[0]!.linkId}, owner calico-xdp`,
      ),
    );
    expect(table).toMatch(
      /verdicts: non-ip \d+, malformed \d+, failsafe \d+, undecidable \d+, no-match \d+, allow [1-9]\d*, deny [1-9]\d*, pass 0/,
    );
  });

  it("GIVEN a rules-only change WHEN diffed and updated THEN it is an update that rewrites maps in place", async () => {
    const news = (
      await provider.check(outs, inputsFor([`${tb.client.address}/32`, `${tb.client.deniedAddress}/32`]))
    ).inputs;
    const d = await provider.diff(id, outs as never, news as never);
    expect(d).toEqual({ changes: true });
    const before = outs.attachments[0]!.programId;
    const attachedAt = outs.attachments[0]!.attachedAt;
    const updated = await provider.update(id, outs as never, news as never);
    outs = updated.outs;
    expect(outs.attachments[0]!.programId).toBe(before);
    expect(outs.attachments[0]!.attachedAt).toBe(attachedAt);
    expect(attachedId(tb.server.netns, tb.server.iface)).toBe(before);
    expect(await connect(tb.client.deniedAddress)).toBe("connected");
  });

  it("GIVEN no change WHEN diffed THEN there is nothing to do", async () => {
    const news = (
      await provider.check(outs, inputsFor([`${tb.client.address}/32`, `${tb.client.deniedAddress}/32`]))
    ).inputs;
    expect((await provider.diff(id, outs as never, news as never)).changes).toBe(false);
  });

  it("GIVEN another interface WHEN diffed THEN it is an update in place, not a replacement", async () => {
    const news = (await provider.check(outs, { ...inputsFor([]), interfaceName: "lo" })).inputs;
    expect(await provider.diff(id, outs as never, news as never)).toEqual({ changes: true });
  });

  it("GIVEN the program detached from outside WHEN refreshed THEN drift is reported, and update re-attaches", async () => {
    detachFromOutside(tb.server.netns, tb.server.iface);
    const refreshed = await provider.read(id, outs as never);
    expect(refreshed.id).toBe(id);
    const props = refreshed.props as typeof outs;
    expect(props.attachments[0]).toMatchObject({
      status: "detached",
      drift: `no XDP program on ${tb.server.iface}`,
    });
    const news = (await provider.check(props, inputsFor([`${tb.client.address}/32`]))).inputs;
    expect((await provider.diff(id, props as never, news as never)).changes).toBe(true);
    outs = (await provider.update(id, props as never, news as never)).outs;
    expect(outs.attachments[0]!.status).toBe("attached");
    expect(attachedId(tb.server.netns, tb.server.iface)).toBe(outs.attachments[0]!.programId);
    expect(await connect(tb.client.deniedAddress)).toBe("timeout");
  });

  it("GIVEN maps changed outside Pulumi WHEN refreshed THEN drift says so", async () => {
    const dir = outs.attachments[0]!.pinDir!;
    // Protocol 99 of the generation packets use now.
    const active = JSON.parse(
      execFileSync(
        "bpftool",
        ["map", "lookup", "pinned", join(dir, "active_gen"), "key", "0", "0", "0", "0", "-j"],
        {
          encoding: "utf8",
        },
      ),
    ).value as string[];
    const index = Number.parseInt(active[0]!, 16) * 256 + 99;
    execFileSync("bpftool", [
      "map",
      "update",
      "pinned",
      join(dir, "proto_match"),
      "key",
      ...[index & 0xff, index >> 8, 0, 0].map(String),
      "value",
      "hex",
      ...Array(16).fill("01"),
    ]);
    const props = (await provider.read(id, outs as never)).props as typeof outs;
    expect(props.attachments[0]).toMatchObject({
      status: "attached",
      drift: "the program's maps were changed outside Pulumi",
    });
    outs = (
      await provider.update(
        id,
        props as never,
        (
          await provider.check(props, inputsFor([`${tb.client.address}/32`]))
        ).inputs as never,
      )
    ).outs;
    expect(
      ((await provider.read(id, outs as never)).props as typeof outs).attachments[0]!.drift,
    ).toBeUndefined();
  });

  it("GIVEN delete WHEN run twice THEN the program is detached, the pins are gone, and the second is a no-op", async () => {
    await provider.delete(id, outs as never);
    expect(attachedId(tb.server.netns, tb.server.iface)).toBeUndefined();
    expect(existsSync(nodePinDir(id, "redis-1"))).toBe(false);
    expect(existsSync(join(PIN_ROOT, id))).toBe(false);
    await provider.delete(id, outs as never);
    expect(await connect(tb.client.deniedAddress)).toBe("connected");
  });
});

describe.skipIf(skip)("XdpProgram never replaces a program it did not attach", () => {
  let tb: Testbed;
  let foreignId: number;
  beforeAll(async () => {
    tb = createTestbed();
    const empty = await buildObject(join(packageRoot(), "bench", "programs", "empty.c"));
    execFileSync("ip", [
      "netns",
      "exec",
      tb.server.netns,
      "ip",
      "link",
      "set",
      "dev",
      tb.server.iface,
      "xdpgeneric",
      "obj",
      empty.path,
      "sec",
      "xdp",
    ]);
    foreignId = attachedId(tb.server.netns, tb.server.iface)!;
  });
  afterAll(() => tb?.destroy());

  const identity = testIdentity();
  const inputs = (takeOver: boolean) => ({
    identity,
    nodes: [{ name: "n1", connection: { type: "netns", netns: tb.server.netns } }],
    interfaceName: tb.server.iface,
    rules: [{ action: "Deny", protocol: "UDP" }],
    takeOver,
  });

  it("GIVEN a foreign program WHEN created THEN the node fails with what was found and what to do, and it stays attached", async () => {
    const checked = (await provider.check({}, inputs(false))).inputs;
    const failure = await provider.create(checked as never).then(
      () => undefined,
      (error: unknown) =>
        error as Error & { id: string; properties: { attachments: NodeAttachment[] }; reasons: string[] },
    );
    expect(failure?.id).toMatch(/^cx-/);
    expect(failure?.reasons).toEqual([
      expect.stringMatching(
        new RegExp(
          `^n1: ${tb.server.iface} on node n1 runs an XDP program this resource did not attach \\(id ${foreignId}, name "xdp_empty", generic mode\\): refusing to replace it; detach it, or set takeOver: true`,
        ),
      ),
    ]);
    expect(failure?.properties.attachments).toEqual([
      expect.objectContaining({ node: "n1", status: "failed" }),
    ]);
    expect(attachedId(tb.server.netns, tb.server.iface)).toBe(foreignId);
    await provider.delete(failure!.id, failure!.properties as never);
    expect(attachedId(tb.server.netns, tb.server.iface)).toBe(foreignId);
  });

  it("GIVEN takeOver WHEN created THEN our filter replaces it", async () => {
    const checked = (await provider.check({}, inputs(true))).inputs;
    const { id, outs } = await provider.create(checked as never);
    const attachment = (outs.attachments as NodeAttachment[])[0]!;
    // The foreign program is detached, and ours attached the way `auto` attaches on a veth.
    expect(attachment).toMatchObject({ status: "attached", mode: "native" });
    expect(attachedId(tb.server.netns, tb.server.iface)).toBe(attachment.programId);
    expect(attachment.programId).not.toBe(foreignId);
    await provider.delete(id, outs as never);
    expect(attachedId(tb.server.netns, tb.server.iface)).toBeUndefined();
  });
});

describe.skipIf(skip)("XdpProgram where two resources meet, and where a node is gone", () => {
  let tb: Testbed;
  beforeAll(() => {
    tb = createTestbed();
  });
  afterAll(() => tb?.destroy());
  const inputs = (identity: string, netns = tb.server.netns) => ({
    identity,
    nodes: [{ name: "n1", connection: { type: "netns", netns } }],
    interfaceName: tb.server.iface,
    rules: [{ action: "Deny", protocol: "UDP" }],
  });

  it("GIVEN two resources created at once on one interface WHEN both run in auto mode THEN one attaches and the other says who is there", async () => {
    const [a, b] = [testIdentity(), testIdentity()];
    const results = await Promise.allSettled(
      [a, b].map(async (identity) =>
        provider.create((await provider.check({}, inputs(identity))).inputs as never),
      ),
    );
    const won = results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
    const lost = results.flatMap((r) => (r.status === "rejected" ? [r.reason as { reasons: string[] }] : []));
    expect(won).toHaveLength(1);
    expect(lost.map((l) => l.reasons)).toEqual([
      [
        expect.stringMatching(
          /^n1: .* runs another calico-xdp resource's filter \(id \d+, name "calico_xdp_poli", native mode\): refusing to replace it/,
        ),
      ],
    ]);
    expect(attachedId(tb.server.netns, tb.server.iface)).toBe(
      (won[0]!.outs.attachments as NodeAttachment[])[0]!.programId,
    );
    await provider.delete(won[0]!.id, won[0]!.outs as never);
    const loser = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
    await provider.delete(
      (loser.reason as { id: string }).id,
      (loser.reason as { properties: never }).properties,
    );
    expect(attachedId(tb.server.netns, tb.server.iface)).toBeUndefined();
  });

  it("GIVEN a node whose namespace was deleted WHEN the resource is deleted THEN its pins go too", async () => {
    const bed = createTestbed();
    const identity = testIdentity();
    const { id, outs } = await provider.create(
      (await provider.check({}, { ...inputs(identity, bed.server.netns), interfaceName: bed.server.iface }))
        .inputs as never,
    );
    expect(existsSync(join(PIN_ROOT, id, "n1"))).toBe(true);
    bed.destroy();
    await provider.delete(id, outs as never);
    expect(existsSync(join(PIN_ROOT, id))).toBe(false);
  });
});

describe("XdpProgram check rejects bad input before anything runs", () => {
  const ssh = { type: "ssh", host: "198.19.0.2", agentSocketPath: "/run/ssh-agent.sock" };
  const base = {
    identity: testIdentity(),
    nodes: [{ name: "n1", connection: { type: "local" } }],
    interfaceName: "eth0",
    rules: [],
  };
  it.each([
    [
      "shell metacharacters in the interface",
      { interfaceName: "eth0;reboot" },
      "interfaceName",
      /"eth0;reboot" is not an interface name/,
    ],
    ["an over-long interface", { interfaceName: "a".repeat(16) }, "interfaceName", /is 16 characters long/],
    [
      "a bad node name",
      { nodes: [{ name: "Node_1", connection: { type: "local" } }] },
      "nodes[0].name",
      /did you mean "node-1"/,
    ],
    [
      "a netns name with a slash",
      { nodes: [{ name: "n", connection: { type: "netns", netns: "../x" } }] },
      "nodes[0].connection.netns",
      /is not a network namespace name/,
    ],
    [
      "an unknown netns",
      { nodes: [{ name: "n", connection: { type: "netns", netns: "cx-does-not-exist" } }] },
      "nodes[0].connection",
      /network namespace cx-does-not-exist does not exist/,
    ],
    [
      "an unknown transport",
      { nodes: [{ name: "n", connection: { type: "telnet" } }] },
      "nodes[0].connection.type",
      /type must be "local", "netns" or "ssh"/,
    ],
    [
      "an SSH host that is an ssh option",
      { nodes: [{ name: "n", connection: { ...ssh, host: "-oProxyCommand=reboot" } }] },
      "nodes[0].connection.host",
      /"-oProxyCommand=reboot" is not an IP address or a DNS name/,
    ],
    [
      "an SSH user with a shell metacharacter",
      { nodes: [{ name: "n", connection: { ...ssh, user: "root;id" } }] },
      "nodes[0].connection.user",
      /is not a user name/,
    ],
    [
      "an SSH node without a key or agent",
      { nodes: [{ name: "n", connection: { type: "ssh", host: "node-1.example" } }] },
      "nodes[0].connection.privateKey",
      /is missing: give privateKey \(a Pulumi secret\) or agentSocketPath/,
    ],
    [
      "a key passphrase without a key",
      {
        nodes: [
          {
            name: "n",
            connection: {
              type: "ssh",
              host: "198.19.0.2",
              agentSocketPath: "/run/agent",
              privateKeyPassword: "pw",
            },
          },
        ],
      },
      "nodes[0].connection.privateKeyPassword",
      /is set but privateKey is not/,
    ],
    [
      "a private key ssh2 cannot read",
      { nodes: [{ name: "n", connection: { ...ssh, privateKey: "not-a-key-SECRETSECRET" } }] },
      "nodes[0].connection.privateKey",
      /^cannot be used: (?!.*SECRETSECRET)/,
    ],
    [
      "a host key that is not one",
      { nodes: [{ name: "n", connection: { ...ssh, hostKey: "AAAA" } }] },
      "nodes[0].connection.hostKey",
      /is not a host key: give the public key line/,
    ],
    [
      "a bastion without credentials",
      { nodes: [{ name: "n", connection: { ...ssh, proxy: { host: "bastion.example" } } }] },
      "nodes[0].connection.proxy.privateKey",
      /is missing/,
    ],
    [
      "an SSH port out of range",
      { nodes: [{ name: "n", connection: { ...ssh, port: 70000 } }] },
      "nodes[0].connection.port",
      /65535/,
    ],
    ["a mode typo", { mode: "drv" }, "mode", /"drv" is not an XDP mode/],
    [
      "a duplicate node",
      {
        nodes: [
          { name: "n", connection: { type: "local" } },
          { name: "n", connection: { type: "local" } },
        ],
      },
      "nodes[1].name",
      /"n" is listed twice/,
    ],
    [
      "two names for one namespace",
      {
        nodes: [
          { name: "a", connection: { type: "netns", netns: "cx-same" } },
          { name: "b", connection: { type: "netns", netns: "cx-same" } },
        ],
      },
      "nodes[1].connection",
      /reaches network namespace cx-same, as node "a" does: one node, one entry/,
    ],
    [
      "two names for one SSH host",
      {
        nodes: [
          { name: "a", connection: { ...ssh } },
          { name: "b", connection: { ...ssh, port: 22 } },
        ],
      },
      "nodes[1].connection",
      /reaches 198\.19\.0\.2:22, as node "a" does/,
    ],
    ["rules and source", { source: "/tmp/x.c" }, "rules", /exactly one of rules/],
    [
      "65 rules",
      { rules: Array.from({ length: 65 }, () => ({ action: "Deny" })) },
      "rules",
      /more than 64 rules/,
    ],
    [
      "a lowercase protocol",
      { rules: [{ action: "Deny", protocol: "tcp" }] },
      "rules[0].protocol",
      /did you mean "TCP"/,
    ],
  ])("GIVEN %s THEN check fails at %s", async (_name, change, property, reason) => {
    const result = await provider.check({}, { ...base, ...change });
    expect(result.failures).toEqual(
      expect.arrayContaining([{ property, reason: expect.stringMatching(reason) }]),
    );
  });

  it("GIVEN unknown values during preview THEN check passes them through untouched", async () => {
    const news = { ...base, interfaceName: "04da6b54-80e4-46f7-96ec-b56ff0331ba9" };
    expect(await provider.check({}, news)).toEqual({ inputs: news });
  });
});
