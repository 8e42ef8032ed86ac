import { existsSync } from "node:fs";
import type { Connection } from "../../sdk/xdp/programArgs";
import { requireBpffs } from "../bpf/bpftool";
import { type RunOptions, run, runBuffer } from "../bpf/exec";
import type { LoaderHost } from "../bpf/loader";
import { SshTransport } from "./ssh";

export type CommandOptions = RunOptions;

/**
 * How the provider reaches a node. Commands are argument vectors, never shell strings. `net` runs in
 * the node's network namespace (inspecting interfaces); `host` runs where the node's bpffs is (load,
 * pin, map updates, and the loader, which enters `netns` itself to attach).
 */
export interface NodeTransport {
  readonly label: string;
  /** The network namespace the loader enters to attach, for nodes that are one on this machine. */
  readonly netns?: string;
  /** Makes the node's host usable (connects, checks its tools and its bpffs) or throws why it is not. */
  prepare(): Promise<void>;
  net(file: string, args: readonly string[], options?: CommandOptions): Promise<string>;
  host(file: string, args: readonly string[], options?: CommandOptions): Promise<string>;
  hostBuffer(file: string, args: readonly string[], options?: CommandOptions): Promise<Buffer>;
  /** A local file's path as the node sees it (copied there when the node is remote). */
  upload(localPath: string, options?: { readonly executable?: boolean }): Promise<string>;
  /** Why the node's network side is gone for good (its namespace was deleted), known without connecting. */
  unavailable(): string | undefined;
  close(): Promise<void>;
}

class LocalTransport implements NodeTransport {
  readonly label: string = "this machine";
  readonly netns?: string;
  async prepare() {
    requireBpffs("this machine");
  }
  net(file: string, args: readonly string[], options?: CommandOptions) {
    return run(file, args, options);
  }
  host(file: string, args: readonly string[], options?: CommandOptions) {
    return run(file, args, options);
  }
  hostBuffer(file: string, args: readonly string[], options?: CommandOptions) {
    return runBuffer(file, args, options);
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
 * our bpffs, so only interface commands run inside it; the loader enters the namespace for the net
 * side alone and keeps the host's bpffs.
 */
class NetnsTransport extends LocalTransport {
  override readonly label: string;
  override readonly netns: string;
  constructor(netns: string) {
    super();
    this.netns = netns;
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

/** The loader on the node (copied there first when the node is remote). */
export async function loaderOn(t: NodeTransport, localLoader: string): Promise<LoaderHost> {
  const path = await t.upload(localLoader, { executable: true });
  return { loader: path, hostBuffer: (file, args, options) => t.hostBuffer(file, args, options) };
}
