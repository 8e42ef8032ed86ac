import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server as NetServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Server, type ServerChannel, utils } from "ssh2";
import { afterEach, describe, expect, it } from "vitest";
import * as provider from "../../provider/xdp/provider";
import type { NodeAttachment } from "../../sdk/xdp/programArgs";
import { testIdentity } from "../support/identity";
import { REPO_ROOT } from "../support/paths";

/** Where a stub SSH server stops answering. */
type Stall = "channel" | "exec" | "sftp-open" | "endless-output";

/** Answers a real node would give to the provider's preflight and first steps. */
function answer(command: string, stream: ServerChannel): void {
  const reply = (out: string, code: number) => {
    stream.write(out);
    stream.exit(code);
    stream.end();
  };
  const program = command.split(" ")[0];
  if (program === "uname") reply("x86_64\n", 0);
  else if (program === "stat") reply("bpf_fs\n", 0);
  else if (program === "sha256sum") reply("", 1);
  else reply("", 0);
}

/** An SSH server (ssh2's own) on loopback that accepts any key and then stalls where told. */
function stubServer(stall: Stall): Promise<{ port: number; close: () => void }> {
  const hostKey = utils.generateKeyPairSync("ed25519").private;
  const server = new Server({ hostKeys: [hostKey] }, (client) => {
    client.on("error", () => undefined);
    client.on("authentication", (ctx) => ctx.accept());
    client.on("session", (accept) => {
      if (stall === "channel") return; // the channel open request is never answered
      const session = accept();
      session.on("exec", (acceptExec, _reject, info) => {
        if (stall === "exec") return; // nor the exec request
        const stream = acceptExec();
        if (stall === "endless-output" && info.command.startsWith("ip ")) {
          const chunk = Buffer.alloc(64 * 1024, 0x61);
          const pump = () => {
            while (stream.writable && stream.write(chunk));
            if (stream.writable) stream.once("drain", pump);
          };
          pump();
          return;
        }
        answer(info.command, stream);
      });
      session.on("sftp", (acceptSftp) => {
        const sftp = acceptSftp();
        sftp.on("OPEN", () => undefined); // the file is never opened
      });
    });
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      resolve({
        port: typeof address === "object" && address ? address.port : 0,
        close: () => server.close(),
      });
    }),
  );
}

/** A TCP listener that is not an SSH server: it answers like a web server and keeps the socket open. */
function notSsh(): Promise<{ port: number; close: () => void }> {
  const server: NetServer = createServer((socket) => {
    socket.on("error", () => undefined);
    socket.write("HTTP/1.1 400 Bad Request\r\n\r\n");
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      resolve({
        port: typeof address === "object" && address ? address.port : 0,
        close: () => server.close(),
      });
    }),
  );
}

const clientKey = utils.generateKeyPairSync("ed25519").private;

async function createOn(port: number): Promise<{ reasons: string[]; seconds: number }> {
  const inputs = (
    await provider.check(
      {},
      {
        identity: testIdentity(),
        nodes: [
          {
            name: "stalled-node",
            connection: {
              type: "ssh",
              host: "127.0.0.1",
              port,
              privateKey: clientKey,
              dialErrorLimit: 1,
              perDialTimeout: 2,
            },
          },
        ],
        interfaceName: "eth0",
        rules: [{ action: "Deny", protocol: "UDP" }],
      },
    )
  ).inputs;
  const started = Date.now();
  const failure = (await provider.create(inputs as never).then(
    () => ({ reasons: [] }),
    (error: { reasons?: string[]; properties?: { attachments: NodeAttachment[] } }) => error,
  )) as { reasons: string[] };
  return { reasons: failure.reasons, seconds: (Date.now() - started) / 1000 };
}

describe("SSH nodes that stop answering fail within their timeouts, naming the node and the phase", () => {
  let close: (() => void) | undefined;
  afterEach(() => close?.());

  it.each([
    [
      "channel",
      /^stalled-node: ip -V failed \(exit ETIMEDOUT\): the server did not open a session channel and start the command within 2 s/,
    ],
    [
      "exec",
      /^stalled-node: ip -V failed \(exit ETIMEDOUT\): the server did not open a session channel and start the command within 2 s/,
    ],
    ["sftp-open", /^stalled-node: copying to ssh root@127\.0\.0\.1:\d+ made no progress for 2 s/],
    ["endless-output", /^stalled-node: ip -V failed \(exit EOUTPUT\): printed more than 16777216 bytes/],
  ] as const)(
    "GIVEN a server that stalls at %s WHEN creating THEN the node fails alone with why",
    async (stall, reason) => {
      const server = await stubServer(stall);
      close = server.close;
      const { reasons, seconds } = await createOn(server.port);
      expect(reasons).toEqual([expect.stringMatching(reason)]);
      expect(seconds).toBeLessThan(30);
    },
  );

  it("GIVEN a listener that does not speak SSH WHEN creating THEN the node fails cleanly and the process lives on", async () => {
    const server = await notSsh();
    close = server.close;
    const { reasons, seconds } = await createOn(server.port);
    expect(reasons).toEqual([
      expect.stringMatching(/^stalled-node: cannot reach root@127\.0\.0\.1:\d+ \(1 attempt\): /),
    ]);
    expect(seconds).toBeLessThan(30);
  });

  it("GIVEN a listener that does not speak SSH WHEN calico-xdp status connects THEN it prints one line and exits 1", async () => {
    const server = await notSsh();
    close = server.close;
    const dir = mkdtempSync(join(tmpdir(), "calico-xdp-stall-"));
    try {
      const file = join(dir, "connection.json");
      writeFileSync(
        file,
        JSON.stringify({
          type: "ssh",
          host: "127.0.0.1",
          port: server.port,
          privateKey: clientKey,
          hostKey: "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU",
          dialErrorLimit: 1,
          perDialTimeout: 2,
        }),
      );
      const cli = spawnSync(
        process.execPath,
        [join(REPO_ROOT, "dist", "provider", "cli.js"), "status", "--connection", file],
        {
          encoding: "utf8",
        },
      );
      expect(cli.status).toBe(1);
      expect(cli.stderr).toMatch(
        /^calico-xdp status: cannot reach root@127\.0\.0\.1:\d+ \(1 attempt\): [^\n]*\n$/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
