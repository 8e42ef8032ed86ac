import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type SshConnection, SshTransport } from "../../provider/xdp/ssh";
import { withTransport } from "../../provider/xdp/transport";
import { connectionSchema } from "../../sdk/xdp/programArgs";
import { kernelSkip } from "../support/kernel";
import { createSshFleet, type SshFleet, type SshHost, sshSkip } from "../support/sshd";

const skip = kernelSkip() ?? sshSkip();

const connection = (host: SshHost, privateKey: string, extra: Record<string, unknown> = {}) =>
  connectionSchema.parse({
    type: "ssh",
    host: host.address,
    privateKey,
    hostKey: host.hostKey,
    ...extra,
  }) as SshConnection;

/** Arguments a shell would act on if they were not quoted. */
const HOSTILE = [
  "$(touch /tmp/PWNED)",
  "`touch /tmp/PWNED`",
  "a; touch /tmp/PWNED",
  "a && touch /tmp/PWNED",
  "a | touch /tmp/PWNED",
  "> /tmp/PWNED",
  "it's",
  "'",
  '"$HOME"',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal the remote shell must not expand
  "${IFS}",
  "line\nbreak",
  "tab\there",
  "*",
  "~",
  "",
  " -e ",
  "\\",
  "ünïcødé",
];

describe.skipIf(skip)("the SSH transport against real sshd hosts", () => {
  let fleet: SshFleet;
  let marker: string;
  beforeAll(async () => {
    fleet = await createSshFleet(2);
    marker = join(tmpdir(), "PWNED");
    rmSync(marker, { force: true });
  });
  afterAll(() => {
    fleet?.destroy();
    rmSync(marker, { force: true });
  });

  it("GIVEN hostile arguments WHEN run remotely THEN each arrives as one argument, verbatim, and nothing else runs", async () => {
    const out = await withTransport(connection(fleet.hosts[0]!, fleet.clientKey), (t) =>
      t.host("printf", ["%s\\0", ...HOSTILE]),
    );
    expect(out.split("\0").slice(0, -1)).toEqual(HOSTILE);
    expect(existsSync(marker)).toBe(false);
  });

  it("GIVEN a command that fails WHEN run THEN the error has its exit code and stderr", async () => {
    await expect(
      withTransport(connection(fleet.hosts[0]!, fleet.clientKey), (t) => t.host("ls", ["/no/such/dir"])),
    ).rejects.toThrow(/ls \/no\/such\/dir failed \(exit 2\): .*No such file/);
  });

  it("GIVEN stdin input WHEN run THEN the remote command reads it", async () => {
    const out = await withTransport(connection(fleet.hosts[0]!, fleet.clientKey), (t) =>
      t.host("sha256sum", [], { input: "hello\n" }),
    );
    expect(out.split(" ")[0]).toBe(createHash("sha256").update("hello\n").digest("hex"));
  });

  it("GIVEN a file WHEN uploaded THEN SFTP copies it under its sha256, verified there, and a second upload reuses it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "calico-xdp-upload-"));
    try {
      const file = join(dir, "object.o");
      writeFileSync(file, `object ${Date.now()} ${Math.random()}\n`);
      const sha = createHash("sha256")
        .update(execFileSync("cat", [file]))
        .digest("hex");
      const t = new SshTransport(connection(fleet.hosts[1]!, fleet.clientKey));
      try {
        const remote = await t.upload(file);
        expect(remote).toBe(`/run/calico-xdp/objects/${sha}.o`);
        expect((await t.host("sha256sum", [remote])).split(" ")[0]).toBe(sha);
        const mtime = await t.host("stat", ["-c", "%Y.%Z", remote]);
        await new Promise((r) => setTimeout(r, 1100));
        expect(await t.upload(file)).toBe(remote);
        expect(await t.host("stat", ["-c", "%Y.%Z", remote])).toBe(mtime); // not copied again
        await t.host("rm", ["-f", remote]);
      } finally {
        await t.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("GIVEN the host key pinned as a line or a fingerprint WHEN connecting THEN both are accepted", async () => {
    const host = fleet.hosts[0]!;
    for (const hostKey of [host.hostKey, `${host.hostKey} comment@host`, host.hostFingerprint]) {
      expect(
        await withTransport(connection(host, fleet.clientKey, { hostKey }), (t) => t.host("echo", ["ok"])),
      ).toBe("ok\n");
    }
  });

  it("GIVEN another host's key pinned WHEN connecting THEN it is refused at once, naming the key presented", async () => {
    const [a, b] = fleet.hosts;
    const started = Date.now();
    await expect(
      withTransport(connection(a!, fleet.clientKey, { hostKey: b!.hostKey }), (t) => t.prepare()),
    ).rejects.toThrow(
      `host key of root@${a!.address}:22 is ${a!.hostFingerprint}, not the pinned hostKey: refusing to connect`,
    );
    expect(Date.now() - started).toBeLessThan(5000); // no retries: another attempt cannot fix it
  });

  it("GIVEN a key the node does not accept WHEN connecting THEN the error says the credentials were refused", async () => {
    await expect(
      withTransport(connection(fleet.hosts[0]!, fleet.wrongKey), (t) => t.prepare()),
    ).rejects.toThrow(
      new RegExp(
        `root@${fleet.hosts[0]!.address.replace(/\./g, "\\.")}:22 refused the credentials .*authorized_keys`,
      ),
    );
  });

  it("GIVEN nothing listening WHEN connecting THEN it tries dialErrorLimit times and says it cannot reach the host", async () => {
    const host = fleet.hosts[1]!;
    const gone = connection(host, fleet.clientKey, { port: 2222, dialErrorLimit: 3 });
    await expect(withTransport(gone, (t) => t.prepare())).rejects.toThrow(
      `cannot reach root@${host.address}:2222 (3 attempts): connect ECONNREFUSED ${host.address}:2222`,
    );
  });

  it("GIVEN a bastion WHEN the node is only reachable through it THEN commands run on the node", async () => {
    const bastion = fleet.hosts[0]!;
    const inner = await fleet.addBehind(bastion);
    const via = connection(inner, fleet.clientKey, {
      proxy: { host: bastion.address, privateKey: fleet.clientKey, hostKey: bastion.hostKey },
    });
    const links = JSON.parse(await withTransport(via, (t) => t.net("ip", ["-j", "link", "show"]))) as {
      ifname: string;
    }[];
    expect(links.map((l) => l.ifname)).toContain(inner.iface);
  });
});

describe.skipIf(skip)("a node's prerequisites", () => {
  it("GIVEN a node without bpftool on PATH WHEN prepared THEN it says exactly what is missing", async () => {
    const fleet = await createSshFleet(1, { sessionPath: "/usr/bin" });
    try {
      await expect(
        withTransport(connection(fleet.hosts[0]!, fleet.clientKey), (t) => t.prepare()),
      ).rejects.toThrow(`lacks bpftool (package bpftool): the node needs ip and bpftool`);
    } finally {
      fleet.destroy();
    }
  });

  it("GIVEN a node whose mount namespace has no bpffs WHEN prepared THEN it fails saying how to mount it, and mounts nothing", async () => {
    const fleet = await createSshFleet(1, { ownMountNamespace: true });
    try {
      const host = fleet.hosts[0]!;
      // What sshd started with: `ip netns exec` remounts /sys, without bpffs.
      const before = execFileSync("ip", [
        "netns",
        "exec",
        host.netns,
        "stat",
        "-f",
        "-c",
        "%T",
        "/sys/fs/bpf",
      ]);
      expect(before.toString().trim()).toBe("sysfs");
      await expect(withTransport(connection(host, fleet.clientKey), (t) => t.prepare())).rejects.toThrow(
        /bpffs is not mounted at \/sys\/fs\/bpf on ssh root@.*: mount it in the host's mount namespace \(mount -t bpf bpf \/sys\/fs\/bpf/,
      );
      // A private bpffs would have lost the pins with that namespace: none was mounted.
      const after = await withTransport(connection(host, fleet.clientKey), (t) =>
        t.hostBuffer("stat", ["-f", "-c", "%T", "/sys/fs/bpf"]),
      ).catch((error: Error) => error.message);
      expect(String(after)).not.toContain("bpf_fs");
    } finally {
      fleet.destroy();
    }
  });
});
