import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import type { Duplex } from "node:stream";
import { Client, type ConnectConfig, type SFTPWrapper, utils } from "ssh2";
import type { Connection, SshProxy } from "../../sdk/xdp/programArgs";
import { BPFFS, bpffsMissing } from "../bpf/bpftool";
import { BoundedSink, CommandError, DEFAULT_MAX_OUTPUT } from "../bpf/exec";
import { shellQuote } from "./shellQuote";
import type { CommandOptions, NodeTransport } from "./transport";

export type SshConnection = Extract<Connection, { type: "ssh" }>;

/** Where uploaded objects and the loader live on a node, named by their sha256 (tmpfs: gone after a reboot, copied again on demand). */
const REMOTE_FILES = "/run/calico-xdp/objects";

/** What the node must have, and the Debian package that has it. */
const REQUIRED_TOOLS: readonly [tool: string, args: readonly string[], pkg: string][] = [
  ["ip", ["-V"], "iproute2"],
  ["bpftool", ["version"], "bpftool"],
];

const where = (e: SshProxy) => `${e.user}@${e.host}:${e.port}`;

/** `SHA256:...` as `ssh-keygen -lf` prints it. */
export function fingerprint(keyBlob: Buffer): string {
  return `SHA256:${createHash("sha256").update(keyBlob).digest("base64").replace(/=+$/, "")}`;
}

/** Whether a host key blob is the pinned one (a public key line or its fingerprint). */
export function hostKeyMatches(pinned: string, keyBlob: Buffer): boolean {
  const trimmed = pinned.trim();
  if (trimmed.startsWith("SHA256:")) return trimmed.replace(/=+$/, "") === fingerprint(keyBlob);
  const [, base64] = trimmed.split(/\s+/);
  return base64 !== undefined && Buffer.from(base64, "base64").equals(keyBlob);
}

/** Why a private key cannot be used (ssh2's reason, which never quotes the key), or undefined. */
export function privateKeyProblem(key: string, passphrase?: string): string | undefined {
  const parsed = utils.parseKey(key, passphrase);
  const first = Array.isArray(parsed) ? parsed[0] : parsed;
  if (first instanceof Error) return first.message;
  if (first === undefined) return "holds no key";
  return first.isPrivateKey() ? undefined : "is a public key: give the private key";
}

/** Failures that another attempt cannot fix. */
class DialRefused extends Error {}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Rejects with `message` unless `promise` settles within `ms`. */
function within<T>(promise: Promise<T>, ms: number, message: () => string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(message())), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** How long the server may take to answer a request (a channel, an exec, an SFTP operation). */
const replyMs = (endpoint: SshProxy) => endpoint.perDialTimeout * 1000;

function dialOnce(endpoint: SshProxy, sock: Duplex | undefined): Promise<Client> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    let presented: string | undefined;
    let settled = false;
    client.once("ready", () => {
      settled = true;
      resolve(client);
    });
    // Every error event is handled: a peer that is not an SSH server can emit several.
    client.on("error", (error: Error & { level?: string }) => {
      client.end();
      if (settled) return;
      settled = true;
      if (presented !== undefined && /verification failed|Host denied/i.test(error.message)) {
        reject(
          new DialRefused(
            `host key of ${where(endpoint)} is ${presented}, not the pinned hostKey: refusing to connect (if the host was reinstalled, update hostKey)`,
          ),
        );
      } else if (error.level === "client-authentication") {
        reject(
          new DialRefused(
            `${where(endpoint)} refused the credentials (${error.message}): check privateKey/agentSocketPath and the node's authorized_keys for ${endpoint.user}`,
          ),
        );
      } else {
        reject(error);
      }
    });
    client.once("close", () => {
      if (settled) return;
      settled = true;
      reject(new Error(`${where(endpoint)} closed the connection during the handshake`));
    });
    const config: ConnectConfig = {
      host: endpoint.host,
      port: endpoint.port,
      username: endpoint.user,
      privateKey: endpoint.privateKey,
      passphrase: endpoint.privateKeyPassword,
      agent: endpoint.agentSocketPath,
      // TCP connect, handshake and authentication together.
      readyTimeout: endpoint.perDialTimeout * 1000,
      // A node that stops answering mid-session is noticed within about 3 intervals.
      keepaliveInterval: 5000,
      keepaliveCountMax: 3,
      sock,
      hostVerifier: (key: Buffer) => {
        if (endpoint.hostKey === undefined || hostKeyMatches(endpoint.hostKey, key)) return true;
        presented = fingerprint(key);
        return false;
      },
    };
    try {
      client.connect(config);
    } catch (error) {
      settled = true;
      reject(new DialRefused(`cannot connect to ${where(endpoint)}: ${(error as Error).message}`));
    }
  });
}

/** Dials with up to `dialErrorLimit` attempts, backing off, through `tunnel` when there is a bastion. */
async function dial(endpoint: SshProxy, tunnel?: () => Promise<Duplex>): Promise<Client> {
  let last: Error | undefined;
  for (let attempt = 1; attempt <= endpoint.dialErrorLimit; attempt++) {
    try {
      return await dialOnce(endpoint, tunnel ? await tunnel() : undefined);
    } catch (error) {
      if (error instanceof DialRefused) throw error;
      last = error as Error;
      if (attempt < endpoint.dialErrorLimit) await sleep(Math.min(250 * 2 ** (attempt - 1), 5000));
    }
  }
  throw new Error(
    `cannot reach ${where(endpoint)} (${endpoint.dialErrorLimit} attempt${endpoint.dialErrorLimit === 1 ? "" : "s"}): ${last?.message}`,
  );
}

function forward(bastion: Client, via: SshProxy, to: SshProxy): Promise<Duplex> {
  return within(
    new Promise<Duplex>((resolve, reject) =>
      bastion.forwardOut("127.0.0.1", 0, to.host, to.port, (error, stream) =>
        error
          ? reject(new Error(`the bastion cannot open ${to.host}:${to.port}: ${error.message}`))
          : resolve(stream),
      ),
    ),
    replyMs(via),
    () =>
      `the bastion ${where(via)} did not open a channel to ${to.host}:${to.port} within ${via.perDialTimeout} s`,
  );
}

interface Session {
  readonly client: Client;
  readonly bastion?: Client;
}

/** The Linux machine names of Node's architectures: the loader runs only on the one it was built for. */
const MACHINES: Readonly<Record<string, string>> = { x64: "x86_64", arm64: "aarch64" };

/**
 * A remote host over SSH: commands run as quoted argument vectors in its root network namespace,
 * files are copied with SFTP and checked by sha256 there. One connection per operation, opened on
 * first use; it checks the node's tools, architecture and bpffs before anything else runs. Every phase
 * has a timeout: the dial, each request the server must answer, and each command.
 */
export class SshTransport implements NodeTransport {
  readonly label: string;
  private session?: Promise<Session>;

  constructor(private readonly connection: SshConnection) {
    this.label = `ssh ${where(connection)}${connection.proxy ? ` via ${where(connection.proxy)}` : ""}`;
  }

  unavailable(): string | undefined {
    return undefined; // known only by dialling, which check() must not do
  }

  async prepare(): Promise<void> {
    await this.connected();
  }

  net(file: string, args: readonly string[], options?: CommandOptions): Promise<string> {
    return this.host(file, args, options);
  }

  async host(file: string, args: readonly string[], options?: CommandOptions): Promise<string> {
    return (await this.hostBuffer(file, args, options)).toString("utf8");
  }

  async hostBuffer(file: string, args: readonly string[], options?: CommandOptions): Promise<Buffer> {
    const { client } = await this.connected();
    return exec(client, this.connection, [file, ...args], options);
  }

  async upload(localPath: string, options: { readonly executable?: boolean } = {}): Promise<string> {
    const sha256 = createHash("sha256").update(readFileSync(localPath)).digest("hex");
    const target = `${REMOTE_FILES}/${sha256}${options.executable ? "" : ".o"}`;
    if ((await this.sha256Of(target)) === sha256) return target;
    await this.host("mkdir", ["-p", REMOTE_FILES]);
    const partial = `${target}.${randomBytes(4).toString("hex")}`;
    await this.put(localPath, partial);
    const copied = await this.sha256Of(partial);
    if (copied !== sha256) {
      await this.host("rm", ["-f", partial]);
      throw new Error(`the file copied to ${this.label} has sha256 ${copied}, not ${sha256}`);
    }
    if (options.executable) await this.host("chmod", ["0755", partial]);
    await this.host("mv", ["-f", partial, target]);
    return target;
  }

  async close(): Promise<void> {
    const session = await this.session?.catch(() => undefined);
    session?.client.end();
    session?.bastion?.end();
    this.session = undefined;
  }

  /** SFTP put with a timeout on the subsystem request and on every stretch without progress. */
  private async put(localPath: string, remotePath: string): Promise<void> {
    const { client } = await this.connected();
    const limit = replyMs(this.connection);
    const sftp = await within(
      new Promise<SFTPWrapper>((resolve, reject) =>
        client.sftp((error, sftp) =>
          error ? reject(new Error(`SFTP to ${this.label} failed: ${error.message}`)) : resolve(sftp),
        ),
      ),
      limit,
      () => `${this.label} did not open an SFTP session within ${this.connection.perDialTimeout} s`,
    );
    try {
      await new Promise<void>((resolve, reject) => {
        let timer: NodeJS.Timeout;
        const stalled = () => {
          timer = setTimeout(
            () =>
              reject(
                new Error(
                  `copying to ${this.label} made no progress for ${this.connection.perDialTimeout} s`,
                ),
              ),
            limit,
          );
        };
        stalled();
        sftp.fastPut(
          localPath,
          remotePath,
          {
            step: () => {
              clearTimeout(timer);
              stalled();
            },
          },
          (error) => {
            clearTimeout(timer);
            if (error) reject(new Error(`copying a file to ${this.label} failed: ${error.message}`));
            else resolve();
          },
        );
      });
    } finally {
      sftp.end();
    }
  }

  private async sha256Of(path: string): Promise<string | undefined> {
    try {
      return (await this.host("sha256sum", [path])).split(/\s/)[0];
    } catch {
      return undefined;
    }
  }

  private connected(): Promise<Session> {
    this.session ??= this.open();
    return this.session;
  }

  private async open(): Promise<Session> {
    const { proxy } = this.connection;
    const bastion = proxy ? await dial(proxy) : undefined;
    try {
      const client = await dial(
        this.connection,
        bastion && proxy && (() => forward(bastion, proxy, this.connection)),
      );
      const session = { client, bastion };
      await this.preflight(client);
      return session;
    } catch (error) {
      bastion?.end();
      throw error;
    }
  }

  /** ip and bpftool present, the loader's architecture, bpffs mounted (never mounted by us). */
  private async preflight(client: Client): Promise<void> {
    const missing: string[] = [];
    for (const [tool, args, pkg] of REQUIRED_TOOLS) {
      try {
        await exec(client, this.connection, [tool, ...args]);
      } catch (error) {
        if ((error as CommandError).code === 127) missing.push(`${tool} (package ${pkg})`);
        else throw error;
      }
    }
    if (missing.length)
      throw new Error(`${this.label} lacks ${missing.join(" and ")}: the node needs ip and bpftool`);
    const machine = (await exec(client, this.connection, ["uname", "-m"])).toString("utf8").trim();
    const ours = MACHINES[process.arch] ?? process.arch;
    if (machine !== ours)
      throw new Error(
        `${this.label} is ${machine}, but the loader is built for ${ours} here: run pulumi up from a ${machine} machine`,
      );
    const fs = (await exec(client, this.connection, ["stat", "-f", "-c", "%T", BPFFS]))
      .toString("utf8")
      .trim();
    if (fs !== "bpf_fs") throw new Error(bpffsMissing(this.label));
  }
}

/**
 * Runs one quoted argument vector; rejects with CommandError (exit code, stderr) when it fails, when
 * the server does not answer the channel or exec request in time, when the command outlives its
 * timeout, or when it prints more than its output limit.
 */
function exec(
  client: Client,
  endpoint: SshProxy,
  argv: readonly string[],
  options: CommandOptions = {},
): Promise<Buffer> {
  const command = shellQuote(argv);
  const limit = options.maxOutput ?? DEFAULT_MAX_OUTPUT;
  const timeoutMs = options.timeoutMs ?? 120_000;
  return new Promise((resolve, reject) => {
    let done = false;
    const finish = (error: Error | undefined, out?: Buffer) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      client.removeListener("close", onClose);
      if (error) reject(error);
      else resolve(out!);
    };
    const onClose = () => finish(new CommandError(argv, "the SSH connection closed", "ECONNRESET"));
    client.once("close", onClose);
    let timer = setTimeout(
      () =>
        finish(
          new CommandError(
            argv,
            `the server did not open a session channel and start the command within ${endpoint.perDialTimeout} s`,
            "ETIMEDOUT",
          ),
        ),
      replyMs(endpoint),
    );
    client.exec(command, (error, stream) => {
      if (error) return finish(new CommandError(argv, error.message, undefined));
      if (done) {
        stream.close();
        return;
      }
      clearTimeout(timer);
      timer = setTimeout(() => {
        stream.close();
        finish(new CommandError(argv, `timed out after ${timeoutMs / 1000} s`, "ETIMEDOUT"));
      }, timeoutMs);
      const stdout = new BoundedSink(limit);
      const stderr = new BoundedSink(limit);
      const tooMuch = () => {
        stream.close();
        finish(new CommandError(argv, `printed more than ${limit} bytes`, "EOUTPUT"));
      };
      stream.on("data", (chunk: Buffer) => stdout.push(chunk) || tooMuch());
      stream.stderr.on("data", (chunk: Buffer) => stderr.push(chunk) || tooMuch());
      stream.on("error", (streamError: Error) =>
        finish(new CommandError(argv, streamError.message, undefined)),
      );
      stream.on("close", (code: number | null, signal?: string) => {
        if (code === 0) finish(undefined, stdout.buffer());
        else finish(new CommandError(argv, stderr.buffer().toString("utf8"), code ?? signal ?? undefined));
      });
      stream.end(options.input);
    });
  });
}
