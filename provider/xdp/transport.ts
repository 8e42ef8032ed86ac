import { existsSync } from "node:fs";
import type { Connection } from "../../sdk/xdp/programArgs";
import { run } from "../bpf/exec";

/**
 * How the provider reaches a node. Commands are argument vectors, never shell strings. `net` runs in
 * the node's network namespace (interfaces: inspect, attach, detach); `host` runs where the node's
 * bpffs is (load, pin, map updates). An SSH transport implements the same two on a remote host.
 */
export interface NodeTransport {
  readonly label: string;
  net(file: string, args: readonly string[]): Promise<string>;
  host(file: string, args: readonly string[]): Promise<string>;
  /** A local file's path as the node sees it (copied there when the node is remote). */
  upload(localPath: string): Promise<string>;
  /** Why the node cannot be used at all (e.g. its namespace is gone), or undefined. */
  unavailable(): string | undefined;
}

class LocalTransport implements NodeTransport {
  readonly label: string = "this machine";
  net(file: string, args: readonly string[]) {
    return run(file, args);
  }
  host(file: string, args: readonly string[]) {
    return run(file, args);
  }
  async upload(localPath: string) {
    return localPath;
  }
  unavailable(): string | undefined {
    return undefined;
  }
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
  override net(file: string, args: readonly string[]) {
    return run("ip", ["netns", "exec", this.netns, file, ...args]);
  }
  override unavailable() {
    return existsSync(`/run/netns/${this.netns}`)
      ? undefined
      : `network namespace ${this.netns} does not exist (ip netns list)`;
  }
}

export function transportFor(connection: Connection): NodeTransport {
  return connection.type === "local" ? new LocalTransport() : new NetnsTransport(connection.netns);
}
