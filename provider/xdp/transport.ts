import { existsSync } from "node:fs";
import type { Connection } from "../../sdk/xdp/programArgs";
import { ensureBpffs } from "../bpf/bpftool";
import { run } from "../bpf/exec";
import { SshTransport } from "./ssh";

export interface CommandOptions {
  /** Written to the command's stdin. */
  readonly input?: string;
  readonly timeoutMs?: number;
}

/**
 * How the provider reaches a node. Commands are argument vectors, never shell strings. `net` runs in
 * the node's network namespace (interfaces: inspect, attach, detach); `host` runs where the node's
 * bpffs is (load, pin, map updates).
 */
export interface NodeTransport {
  readonly label: string;
  /** Makes the node usable (connects, checks its tools, mounts bpffs) or throws why it is not. */
  prepare(): Promise<void>;
  net(file: string, args: readonly string[], options?: CommandOptions): Promise<string>;
  host(file: string, args: readonly string[], options?: CommandOptions): Promise<string>;
  /** A local file's path as the node sees it (copied there when the node is remote). */
  upload(localPath: string): Promise<string>;
  /** Why the node is gone for good (e.g. its namespace was deleted), known without connecting; or undefined. */
  unavailable(): string | undefined;
  close(): Promise<void>;
}

class LocalTransport implements NodeTransport {
  readonly label: string = "this machine";
  async prepare() {
    const problem = this.unavailable();
    if (problem) throw new Error(problem);
    await ensureBpffs();
  }
  net(file: string, args: readonly string[], options?: CommandOptions) {
    return run(file, args, options);
  }
  host(file: string, args: readonly string[], options?: CommandOptions) {
    return run(file, args, options);
  }
  async upload(localPath: string) {
    return localPath;
  }
  unavailable(): string | undefined {
    return undefined;
  }
  async close() {}
}

/**
 * A network namespace on this machine. `ip netns exec` also enters a fresh mount namespace without
 * our bpffs, so only interface commands run inside it, and programs are referenced there by id.
 */
class NetnsTransport extends LocalTransport {
  override readonly label: string;
  constructor(readonly netns: string) {
    super();
    this.label = `netns ${netns}`;
  }
  override net(file: string, args: readonly string[], options?: CommandOptions) {
    return run("ip", ["netns", "exec", this.netns, file, ...args], options);
  }
  override unavailable() {
    return existsSync(`/run/netns/${this.netns}`)
      ? undefined
      : `network namespace ${this.netns} does not exist (ip netns list)`;
  }
}

export function transportFor(connection: Connection): NodeTransport {
  switch (connection.type) {
    case "local":
      return new LocalTransport();
    case "netns":
      return new NetnsTransport(connection.netns);
    case "ssh":
      return new SshTransport(connection);
  }
}

/** Runs `work` with a transport to the node and always closes it. */
export async function withTransport<R>(
  connection: Connection,
  work: (t: NodeTransport) => Promise<R>,
): Promise<R> {
  const t = transportFor(connection);
  try {
    return await work(t);
  } finally {
    await t.close();
  }
}
