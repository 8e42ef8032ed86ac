import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { skipReason } from "./requireAll";

const ip = (...args: string[]) => execFileSync("ip", args, { stdio: ["ignore", "pipe", "pipe"] }).toString();

const SSHD = "/usr/sbin/sshd";

/** One SSH test host: a network namespace joined to this machine by a veth pair, running Debian's sshd. */
export interface SshHost {
  readonly netns: string;
  /** The node's side of the veth pair (where XDP attaches). */
  readonly iface: string;
  /** The node's address (sshd listens here). */
  readonly address: string;
  /** This machine's address on the link: the allowed client. */
  readonly clientAddress: string;
  /** A second address of this machine on the link: the denied client. */
  readonly deniedAddress: string;
  /** The host key line (`ssh-ed25519 AAAA...`) and its `SHA256:` fingerprint. */
  readonly hostKey: string;
  readonly hostFingerprint: string;
  /** Starts sshd (again); resolves when it accepts connections. */
  start(): Promise<void>;
  /** Kills sshd and every session it started: the host is gone for SSH. */
  stop(): void;
}

export interface SshFleet {
  readonly hosts: readonly SshHost[];
  /** A host whose only link is to `bastion` (reach it with `proxy`); its sshd is started. */
  addBehind(bastion: SshHost): Promise<SshHost>;
  /** The private key sshd accepts (OpenSSH format) and one it does not. */
  readonly clientKey: string;
  readonly wrongKey: string;
  destroy(): void;
}

/** Why the SSH tests cannot run here, or undefined. */
export function sshSkip(): string | undefined {
  try {
    execFileSync(SSHD, ["-V"], { stdio: "ignore" });
    execFileSync("ssh-keygen", ["-?"], { stdio: "ignore" });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT")
      return skipReason("openssh-server/openssh-client are not installed (run scripts/setup.sh)");
  }
  return undefined;
}

function keygen(path: string): void {
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "calico-xdp-test", "-f", path]);
}

/** Waits until something listens on the address's port 22, asking `ss` inside the namespace. */
async function listening(address: string, timeoutMs: number, netns: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ip("netns", "exec", netns, "ss", "-Hltn", `src ${address}:22`).includes(address)) {
    if (Date.now() > deadline) throw new Error(`sshd on ${address} did not start`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

interface HostOptions {
  readonly ownMountNamespace?: boolean;
  /** PATH for sessions (sshd's SetEnv), to leave tools out. */
  readonly sessionPath?: string;
}

/** Writes the host's key and sshd config; the namespace and addresses exist already. */
function sshHost(
  dir: string,
  link: Omit<SshHost, "hostKey" | "hostFingerprint" | "start" | "stop">,
  options: HostOptions,
): SshHost {
  const hostKeyPath = join(dir, `host-${link.netns}`);
  keygen(hostKeyPath);
  const config = join(dir, `sshd-${link.netns}.conf`);
  writeFileSync(
    config,
    [
      `ListenAddress ${link.address}`,
      `HostKey ${hostKeyPath}`,
      `AuthorizedKeysFile ${join(dir, "authorized_keys")}`,
      "PermitRootLogin prohibit-password",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "UsePAM no",
      "StrictModes no",
      "PidFile none",
      "MaxStartups 100",
      "Subsystem sftp internal-sftp",
      "LogLevel ERROR",
      ...(options.sessionPath ? [`SetEnv PATH=${options.sessionPath}`] : []),
      "",
    ].join("\n"),
  );
  const [type, blob] = readFileSync(`${hostKeyPath}.pub`, "utf8").trim().split(" ");
  const fingerprint = execFileSync("ssh-keygen", ["-l", "-E", "sha256", "-f", `${hostKeyPath}.pub`])
    .toString()
    .split(" ")[1]!;
  const command = options.ownMountNamespace
    ? ["ip", "netns", "exec", link.netns, SSHD, "-D", "-e", "-f", config]
    : ["nsenter", `--net=/run/netns/${link.netns}`, SSHD, "-D", "-e", "-f", config];
  let daemon: ChildProcess | undefined;
  return {
    ...link,
    hostKey: `${type} ${blob}`,
    hostFingerprint: fingerprint,
    async start() {
      daemon = spawn(command[0]!, command.slice(1), { stdio: "ignore" });
      await listening(link.address, 5000, link.netns);
    },
    stop() {
      daemon?.kill("SIGKILL");
      daemon = undefined;
      // Sessions outlive the listener: everything in the namespace goes.
      for (const pid of ip("netns", "pids", link.netns).split("\n").filter(Boolean)) {
        try {
          process.kill(Number(pid), "SIGKILL");
        } catch {
          // exited meanwhile
        }
      }
    },
  };
}

/**
 * `count` SSH hosts on 198.19.<n>.0/24 (a /29 each), with generated host and client keys. sshd joins
 * only the namespace's network (nsenter), so the nodes share this machine's bpffs like the netns
 * nodes; with `ownMountNamespace` it runs under `ip netns exec` instead and finds no bpffs mounted.
 * `destroy()` kills every sshd and removes the namespaces and keys: call it from afterAll/finally.
 */
export async function createSshFleet(count: number, options: HostOptions = {}): Promise<SshFleet> {
  if (count > 30) throw new Error("at most 30 hosts per fleet");
  const tag = randomBytes(3).toString("hex");
  const third = 1 + (Number.parseInt(tag.slice(0, 4), 16) % 250);
  const dir = mkdtempSync(join(tmpdir(), "calico-xdp-sshd-"));
  const hosts: SshHost[] = [];
  const behind: SshHost[] = [];
  const namespaces: string[] = [];
  const destroy = () => {
    for (const host of [...hosts, ...behind]) host.stop();
    for (const ns of namespaces) {
      try {
        ip("netns", "del", ns);
      } catch {
        // already gone
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const addBehind = async (bastion: SshHost) => {
    // The last /29 of the fleet's /24, between the bastion and the new host only.
    const index = 31 - behind.length;
    const netns = `cxh-${tag}-b${behind.length}`;
    const iface = `xn${tag}`;
    const peer = `xb${tag}${behind.length}`;
    ip("netns", "add", netns);
    namespaces.push(netns);
    ip("-n", bastion.netns, "link", "add", peer, "type", "veth", "peer", "name", iface, "netns", netns);
    const address = `198.19.${third}.${8 * index + 2}`;
    ip("-n", bastion.netns, "addr", "add", `198.19.${third}.${8 * index + 1}/29`, "dev", peer);
    ip("-n", bastion.netns, "link", "set", peer, "up");
    ip("-n", netns, "addr", "add", `${address}/29`, "dev", iface);
    ip("-n", netns, "link", "set", "lo", "up");
    ip("-n", netns, "link", "set", iface, "up");
    const host = sshHost(
      dir,
      {
        netns,
        iface,
        address,
        clientAddress: `198.19.${third}.${8 * index + 1}`,
        deniedAddress: `198.19.${third}.${8 * index + 3}`,
      },
      {},
    );
    behind.push(host);
    await host.start();
    return host;
  };
  try {
    mkdirSync("/run/sshd", { recursive: true }); // sshd's privilege separation directory
    keygen(join(dir, "client"));
    keygen(join(dir, "wrong"));
    writeFileSync(join(dir, "authorized_keys"), readFileSync(join(dir, "client.pub")));
    for (let i = 0; i < count; i++) {
      const netns = `cxh-${tag}-${i}`;
      const iface = `xn${tag}`; // the same name on every node, as eth0 would be
      const peer = `xr${tag}${i}`;
      const link = {
        netns,
        iface,
        address: `198.19.${third}.${8 * i + 2}`,
        clientAddress: `198.19.${third}.${8 * i + 1}`,
        deniedAddress: `198.19.${third}.${8 * i + 3}`,
      };
      ip("netns", "add", netns);
      namespaces.push(netns);
      ip("link", "add", peer, "type", "veth", "peer", "name", iface, "netns", netns);
      ip("addr", "add", `${link.clientAddress}/29`, "dev", peer);
      ip("addr", "add", `${link.deniedAddress}/29`, "dev", peer);
      ip("link", "set", peer, "up");
      ip("-n", netns, "addr", "add", `${link.address}/29`, "dev", iface);
      ip("-n", netns, "link", "set", "lo", "up");
      ip("-n", netns, "link", "set", iface, "up");
      hosts.push(sshHost(dir, link, options));
    }
    await Promise.all(hosts.map((h) => h.start()));
  } catch (error) {
    destroy();
    throw error;
  }
  return {
    hosts,
    addBehind,
    clientKey: readFileSync(join(dir, "client"), "utf8"),
    wrongKey: readFileSync(join(dir, "wrong"), "utf8"),
    destroy,
  };
}
