import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import type { Duplex } from "node:stream";
import { Client, type ConnectConfig, utils } from "ssh2";
import type { Connection, SshProxy } from "../../sdk/xdp/programArgs";
import { BPFFS } from "../bpf/bpftool";
import { CommandError } from "../bpf/exec";
import { shellQuote } from "./shellQuote";
import type { CommandOptions, NodeTransport } from "./transport";

export type SshConnection = Extract<Connection, { type: "ssh" }>;

/** Where uploaded objects live on a node, named by their sha256 (tmpfs: gone after a reboot, rebuilt on demand). */
const REMOTE_OBJECTS = "/run/calico-xdp/objects";

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

function dialOnce(endpoint: SshProxy, sock: Duplex | undefined): Promise<Client> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    let presented: string | undefined;
    client.once("ready", () => resolve(client));
    client.once("error", (error: Error & { level?: string }) => {
      client.end();
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
    const config: ConnectConfig = {
      host: endpoint.host,
      port: endpoint.port,
      username: endpoint.user,
      privateKey: endpoint.privateKey,
      passphrase: endpoint.privateKeyPassword,
      agent: endpoint.agentSocketPath,
      readyTimeout: endpoint.perDialTimeout * 1000,
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

function forward(bastion: Client, to: SshProxy): Promise<Duplex> {
  return new Promise((resolve, reject) =>
    bastion.forwardOut("127.0.0.1", 0, to.host, to.port, (error, stream) =>
      error
        ? reject(new Error(`the bastion cannot open ${to.host}:${to.port}: ${error.message}`))
        : resolve(stream),
    ),
  );
}

interface Session {
  readonly client: Client;
  readonly bastion?: Client;
}

/**
 * A remote host over SSH: commands run as quoted argument vectors in its root network namespace,
 * objects are copied with SFTP and checked by sha256 there. One connection per operation, opened on
 * first use; it checks for ip/bpftool and mounts bpffs before anything else runs.
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
    return this.run([file, ...args], options);
  }

  host(file: string, args: readonly string[], options?: CommandOptions): Promise<string> {
    return this.run([file, ...args], options);
  }

  async upload(localPath: string): Promise<string> {
    const sha256 = createHash("sha256").update(readFileSync(localPath)).digest("hex");
    const target = `${REMOTE_OBJECTS}/${sha256}.o`;
    if ((await this.sha256Of(target)) === sha256) return target;
    await this.run(["mkdir", "-p", REMOTE_OBJECTS]);
    const partial = `${target}.${randomBytes(4).toString("hex")}`;
    const { client } = await this.connected();
    await new Promise<void>((resolve, reject) =>
      client.sftp((error, sftp) => {
        if (error) return reject(new Error(`SFTP to ${this.label} failed: ${error.message}`));
        sftp.fastPut(localPath, partial, (putError) => {
          sftp.end();
          if (putError) reject(new Error(`copying the object to ${this.label} failed: ${putError.message}`));
          else resolve();
        });
      }),
    );
    const copied = await this.sha256Of(partial);
    if (copied !== sha256) {
      await this.run(["rm", "-f", partial]);
      throw new Error(`the object copied to ${this.label} has sha256 ${copied}, not ${sha256}`);
    }
    await this.run(["mv", "-f", partial, target]);
    return target;
  }

  async close(): Promise<void> {
    const session = await this.session?.catch(() => undefined);
    session?.client.end();
    session?.bastion?.end();
    this.session = undefined;
  }

  private async sha256Of(path: string): Promise<string | undefined> {
    try {
      return (await this.run(["sha256sum", path])).split(/\s/)[0];
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
      const client = await dial(this.connection, bastion && (() => forward(bastion, this.connection)));
      const session = { client, bastion };
      await this.preflight(client);
      return session;
    } catch (error) {
      bastion?.end();
      throw error;
    }
  }

  /** ip and bpftool present, bpffs mounted. */
  private async preflight(client: Client): Promise<void> {
    const missing: string[] = [];
    for (const [tool, args, pkg] of REQUIRED_TOOLS) {
      try {
        await exec(client, [tool, ...args]);
      } catch (error) {
        if ((error as CommandError).code === 127) missing.push(`${tool} (package ${pkg})`);
        else throw error;
      }
    }
    if (missing.length)
      throw new Error(`${this.label} lacks ${missing.join(" and ")}: the node needs ip and bpftool`);
    if ((await exec(client, ["stat", "-f", "-c", "%T", BPFFS])).trim() !== "bpf_fs")
      await exec(client, ["mount", "-t", "bpf", "bpf", BPFFS]);
  }

  private async run(argv: readonly string[], options?: CommandOptions): Promise<string> {
    const { client } = await this.connected();
    return exec(client, argv, options);
  }
}

/** Runs one quoted argument vector; rejects with CommandError (exit code, stderr) when it fails. */
function exec(client: Client, argv: readonly string[], options: CommandOptions = {}): Promise<string> {
  const command = shellQuote(argv);
  return new Promise((resolve, reject) => {
    client.exec(command, (error, stream) => {
      if (error) return reject(new CommandError(argv, error.message, undefined));
      let stdout = "";
      let stderr = "";
      const timer = setTimeout(() => {
        stream.close();
        reject(new CommandError(argv, "timed out", "ETIMEDOUT"));
      }, options.timeoutMs ?? 120_000);
      stream.on("data", (chunk: Buffer) => {
        stdout += chunk.toString("utf8");
      });
      stream.stderr.on("data", (chunk: Buffer) => {
        stderr += chunk.toString("utf8");
      });
      stream.on("close", (code: number | null, signal?: string) => {
        clearTimeout(timer);
        if (code === 0) resolve(stdout);
        else reject(new CommandError(argv, stderr, code ?? signal ?? undefined));
      });
      stream.end(options.input);
    });
  });
}
