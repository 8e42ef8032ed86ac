/**
 * The demo: a Redis host and a client host in network namespaces, `pulumi up` of examples/redis-host
 * through the Automation API on a local file backend (Calico objects rendered to a directory), then an
 * allowed and a denied client and the filter's per-rule counters. `destroy` removes everything it made.
 *
 * Run through scripts/demo.sh, which installs what is missing and builds the engine first.
 */
import { execFile, execFileSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { LocalWorkspace } from "@pulumi/pulumi/automation";
import { packageRoot } from "../provider/bpf/build";
import { redisServerArgv } from "./redis";
import { engineWorkspace } from "./workspace";

const ROOT = packageRoot();
const DEMO = join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "calico-xdp", "demo");
const REDIS_NS = "cxdemo-redis";
const CLIENT_NS = "cxdemo-client";
const REDIS_IF = "cxdemo0";
const CLIENT_IF = "cxdemo1";
const REDIS_IP = "198.18.0.1";
const ALLOWED_IP = "198.18.0.10";
const DENIED_IP = "198.18.0.20";

const ip = (...args: string[]) => execFileSync("ip", args, { stdio: ["ignore", "pipe", "pipe"] }).toString();
const say = (text: string) => console.log(`\n=== ${text}`);

function namespacesExist(): boolean {
  return ip("netns", "list")
    .split("\n")
    .some((l) => l.startsWith(REDIS_NS) || l.startsWith(CLIENT_NS));
}

function removeTestbed(): void {
  const pidfile = join(DEMO, "redis.pid");
  if (existsSync(pidfile)) {
    try {
      process.kill(Number(execFileSync("cat", [pidfile]).toString().trim()));
    } catch {
      // already stopped
    }
    rmSync(pidfile, { force: true });
  }
  for (const ns of [REDIS_NS, CLIENT_NS]) {
    try {
      ip("netns", "del", ns);
    } catch {
      // not there
    }
  }
}

function createTestbed(): void {
  ip("netns", "add", REDIS_NS);
  ip("netns", "add", CLIENT_NS);
  ip(
    "link",
    "add",
    REDIS_IF,
    "netns",
    REDIS_NS,
    "type",
    "veth",
    "peer",
    "name",
    CLIENT_IF,
    "netns",
    CLIENT_NS,
  );
  ip("-n", REDIS_NS, "addr", "add", `${REDIS_IP}/24`, "dev", REDIS_IF);
  ip("-n", CLIENT_NS, "addr", "add", `${ALLOWED_IP}/24`, "dev", CLIENT_IF);
  ip("-n", CLIENT_NS, "addr", "add", `${DENIED_IP}/24`, "dev", CLIENT_IF);
  for (const [ns, dev] of [
    [REDIS_NS, REDIS_IF],
    [CLIENT_NS, CLIENT_IF],
  ] as const) {
    ip("-n", ns, "link", "set", "lo", "up");
    ip("-n", ns, "link", "set", dev, "up");
  }
  execFileSync("ip", redisServerArgv(REDIS_NS, "--daemonize", "yes", "--pidfile", join(DEMO, "redis.pid")));
}

/** redis-cli PING from the client host, from one of its two addresses (chosen with a source route). */
function ping(from: string): Promise<string> {
  ip("-n", CLIENT_NS, "route", "replace", `${REDIS_IP}/32`, "dev", CLIENT_IF, "src", from);
  return new Promise((done) => {
    execFile(
      "timeout",
      ["3", "ip", "netns", "exec", CLIENT_NS, "redis-cli", "-h", REDIS_IP, "PING"],
      (error, stdout) => {
        ip("-n", CLIENT_NS, "route", "del", `${REDIS_IP}/32`);
        done(error ? "no answer within 3 s" : stdout.trim());
      },
    );
  });
}

async function stack() {
  const engineBin = process.env.CALICO_XDP_ENGINE_BIN;
  if (!engineBin) {
    throw new Error(
      "run the demo through scripts/demo.sh (it builds the engine and sets CALICO_XDP_ENGINE_BIN)",
    );
  }
  const { redisHostFromConfig } = require(join(ROOT, "dist", "examples", "redis-host", "program.js"));
  return LocalWorkspace.createOrSelectStack(
    { projectName: "redis-host", stackName: "demo", program: async () => redisHostFromConfig() },
    await engineWorkspace(engineBin, DEMO, "calico-xdp-demo"),
  );
}

function status(): void {
  process.stdout.write(
    execFileSync(
      process.execPath,
      [join(ROOT, "dist", "provider", "cli.js"), "status", "--netns", REDIS_NS],
      { encoding: "utf8" },
    ),
  );
}

async function up(): Promise<void> {
  if (namespacesExist()) {
    say("an earlier demo is still there: removing it first");
    await destroy();
  }
  mkdirSync(DEMO, { recursive: true });
  say(
    `creating the testbed: redis host ${REDIS_NS} (${REDIS_IP} on ${REDIS_IF}), client host ${CLIENT_NS} (${ALLOWED_IP} allowed, ${DENIED_IP} not)`,
  );
  createTestbed();
  const demo = await stack();
  await demo.setAllConfig({
    nodes: {
      value: JSON.stringify([{ name: "redis-1", interfaceName: REDIS_IF, ip: REDIS_IP, netns: REDIS_NS }]),
    },
    clientCidrs: { value: JSON.stringify([`${ALLOWED_IP}/32`]) },
    renderYamlTo: { value: join(DEMO, "rendered") },
  });
  say("pulumi up of examples/redis-host (file backend, Calico objects rendered to a directory)");
  await demo.up({ onOutput: (out) => process.stdout.write(out) });
  say(`Calico objects written to ${join(DEMO, "rendered", "1-manifest")}`);
  say("what is attached on the redis host");
  status();
  say(`redis-cli PING from the allowed client ${ALLOWED_IP}`);
  console.log(await ping(ALLOWED_IP));
  say(`redis-cli PING from ${DENIED_IP}, which the policy denies (dropped in XDP)`);
  console.log(await ping(DENIED_IP));
  say("per-rule counters (rule 0: Allow the clients, rule 1: Deny other 6379 traffic)");
  status();
  say("done. Tear everything down with: npm run demo:destroy");
}

async function destroy(): Promise<void> {
  if (existsSync(join(DEMO, "state")) && process.env.CALICO_XDP_ENGINE_BIN) {
    say("pulumi destroy");
    const demo = await stack();
    await demo.destroy({ onOutput: (out) => process.stdout.write(out) });
    await demo.workspace.removeStack("demo");
  }
  say("removing the testbed and the demo's files");
  removeTestbed();
  rmSync(DEMO, { recursive: true, force: true });
}

(process.argv[2] === "destroy" ? destroy() : up()).catch((error) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
