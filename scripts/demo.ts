/**
 * The demos, on hosts in network namespaces and a local file backend (Calico objects rendered to a
 * directory), each run by the pulumi CLI in its example's directory, as a user would run it:
 *   up       examples/redis-host: a Redis host and a client; an allowed and a denied client PING it
 *   dos      examples/dos-denylist: an edge host flooded from a listed source while a client is served
 *   destroy  pulumi destroy of whichever ran, and removal of their hosts and files
 *
 * Run through scripts/demo.sh, which installs what is missing and builds the engine first.
 */
import { execFile, execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { LocalWorkspace, PulumiCommand } from "@pulumi/pulumi/automation";
import { packageRoot } from "../provider/bpf/build";
import { redisServerArgv } from "./redis";
import { engineEnv, setStackConfig } from "./workspace";

const ROOT = packageRoot();
const DEMO = join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "calico-xdp", "demo");

/** One demo: its stack, its two hosts and their addresses on 198.18.<subnet>.0/24. */
interface Demo {
  readonly stack: "demo" | "dos";
  readonly program: string;
  readonly host: {
    readonly node: string;
    readonly netns: string;
    readonly iface: string;
    readonly ip: string;
  };
  readonly client: {
    readonly netns: string;
    readonly iface: string;
    readonly allowed: string;
    readonly other: string;
  };
}

const DEMOS: Readonly<Record<"demo" | "dos", Demo>> = {
  demo: {
    stack: "demo",
    program: "redis-host",
    host: { node: "redis-1", netns: "cxdemo-redis", iface: "cxdemo0", ip: "198.18.0.1" },
    client: { netns: "cxdemo-client", iface: "cxdemo1", allowed: "198.18.0.10", other: "198.18.0.20" },
  },
  dos: {
    stack: "dos",
    program: "dos-denylist",
    host: { node: "edge-1", netns: "cxdemo-edge", iface: "cxdemo2", ip: "198.18.7.1" },
    client: { netns: "cxdemo-attack", iface: "cxdemo3", allowed: "198.18.7.10", other: "198.18.7.66" },
  },
};

const ip = (...args: string[]) => execFileSync("ip", args, { stdio: ["ignore", "pipe", "pipe"] }).toString();
const say = (text: string) => console.log(`\n=== ${text}`);
const pidfile = (demo: Demo) => join(DEMO, `${demo.stack}-redis.pid`);

function hostsExist(demo: Demo): boolean {
  return ip("netns", "list")
    .split("\n")
    .some((l) => l.startsWith(demo.host.netns) || l.startsWith(demo.client.netns));
}

function removeHosts(demo: Demo): void {
  if (existsSync(pidfile(demo))) {
    try {
      process.kill(
        Number(
          execFileSync("cat", [pidfile(demo)])
            .toString()
            .trim(),
        ),
      );
    } catch {
      // already stopped
    }
    rmSync(pidfile(demo), { force: true });
  }
  for (const ns of [demo.host.netns, demo.client.netns]) {
    try {
      ip("netns", "del", ns);
    } catch {
      // not there
    }
  }
}

function createHosts(demo: Demo): void {
  const { host, client } = demo;
  ip("netns", "add", host.netns);
  ip("netns", "add", client.netns);
  ip(
    "link",
    "add",
    host.iface,
    "netns",
    host.netns,
    "type",
    "veth",
    "peer",
    "name",
    client.iface,
    "netns",
    client.netns,
  );
  ip("-n", host.netns, "addr", "add", `${host.ip}/24`, "dev", host.iface);
  ip("-n", client.netns, "addr", "add", `${client.allowed}/24`, "dev", client.iface);
  ip("-n", client.netns, "addr", "add", `${client.other}/24`, "dev", client.iface);
  for (const [ns, dev] of [
    [host.netns, host.iface],
    [client.netns, client.iface],
  ] as const) {
    ip("-n", ns, "link", "set", "lo", "up");
    ip("-n", ns, "link", "set", dev, "up");
  }
  execFileSync("ip", redisServerArgv(host.netns, "--daemonize", "yes", "--pidfile", pidfile(demo)));
}

/** redis-cli PING from the client host, from one of its two addresses (chosen with a source route). */
function ping(demo: Demo, from: string): Promise<string> {
  const { host, client } = demo;
  ip("-n", client.netns, "route", "replace", `${host.ip}/32`, "dev", client.iface, "src", from);
  return new Promise((done) => {
    execFile(
      "timeout",
      ["3", "ip", "netns", "exec", client.netns, "redis-cli", "-h", host.ip, "PING"],
      (error, stdout) => {
        ip("-n", client.netns, "route", "del", `${host.ip}/32`);
        done(error ? "no answer within 3 s" : stdout.trim());
      },
    );
  });
}

/** `npm install` in the example (the package by its relative path), when its package.json changed. */
function installExample(dir: string): void {
  const stamp = join(dir, "node_modules", ".package.json.sha256");
  const want = readFileSync(join(dir, "package.json"), "utf8");
  if (existsSync(stamp) && readFileSync(stamp, "utf8") === want) return;
  say(`npm install in examples/${dir.split("/").pop()}`);
  execFileSync("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error"], {
    cwd: dir,
    stdio: "inherit",
  });
  writeFileSync(stamp, want);
}

async function stack(demo: Demo) {
  const engineBin = process.env.CALICO_XDP_ENGINE_BIN;
  if (!engineBin) {
    throw new Error(
      "run the demo through scripts/demo.sh (it builds the engine and sets CALICO_XDP_ENGINE_BIN)",
    );
  }
  const workDir = join(ROOT, "examples", demo.program);
  installExample(workDir);
  return LocalWorkspace.createOrSelectStack(
    { stackName: demo.stack, workDir },
    {
      pulumiCommand: await PulumiCommand.get({ root: dirname(engineBin), skipVersionCheck: true }),
      envVars: engineEnv(engineBin, join(DEMO, demo.stack), "calico-xdp-demo"),
    },
  );
}

function status(demo: Demo): void {
  process.stdout.write(
    execFileSync(
      process.execPath,
      [join(ROOT, "dist", "provider", "cli.js"), "status", "--netns", demo.host.netns],
      {
        encoding: "utf8",
      },
    ),
  );
}

/** Creates the hosts and runs `pulumi up` of the demo's example with `config`. */
async function start(demo: Demo, config: Record<string, unknown>) {
  if (hostsExist(demo)) {
    say("an earlier demo is still there: removing it first");
    await destroy(demo);
  }
  mkdirSync(DEMO, { recursive: true });
  say(
    `creating the hosts: ${demo.host.netns} (${demo.host.ip} on ${demo.host.iface}), ${demo.client.netns} (${demo.client.allowed} and ${demo.client.other})`,
  );
  createHosts(demo);
  const s = await stack(demo);
  await setStackConfig(s, {
    nodes: [
      { name: demo.host.node, interfaceName: demo.host.iface, ip: demo.host.ip, netns: demo.host.netns },
    ],
    renderYamlTo: join(DEMO, demo.stack, "rendered"),
    ...config,
  });
  say(`pulumi up of examples/${demo.program} (file backend, Calico objects rendered to a directory)`);
  await s.up({ onOutput: (out) => process.stdout.write(out) });
  say(`Calico objects written to ${join(DEMO, demo.stack, "rendered", "1-manifest")}`);
}

async function redisHost(): Promise<void> {
  const demo = DEMOS.demo;
  await start(demo, { clientCidrs: [`${demo.client.allowed}/32`] });
  say("what is attached on the redis host");
  status(demo);
  say(`redis-cli PING from the allowed client ${demo.client.allowed}`);
  console.log(await ping(demo, demo.client.allowed));
  say(`redis-cli PING from ${demo.client.other}, which the policy denies (dropped in XDP)`);
  console.log(await ping(demo, demo.client.other));
  say("per-rule counters (rule 0: Allow the clients, rule 1: Deny other 6379 traffic)");
  status(demo);
  say(
    "done. Try the DoS deny list with: npm run demo -- dos; tear everything down with: npm run demo:destroy",
  );
}

async function dos(): Promise<void> {
  const demo = DEMOS.dos;
  await start(demo, { denyNets: [`${demo.client.other}/32`, "198.18.8.0/24"] });
  say(`redis-cli PING from ${demo.client.allowed}, not on the deny list`);
  console.log(await ping(demo, demo.client.allowed));
  say(`a 5-second UDP flood from ${demo.client.other}, on the deny list, while ${demo.client.allowed} PINGs`);
  const flood = new Promise<string>((done) =>
    execFile(
      "ip",
      [
        "netns",
        "exec",
        demo.client.netns,
        process.execPath,
        join(ROOT, "dist", "scripts", "flood.js"),
        demo.host.ip,
        "9",
        demo.client.other,
        "5",
      ],
      (_error, stdout) => done(stdout.trim()),
    ),
  );
  await new Promise((r) => setTimeout(r, 2000));
  console.log(`PING during the flood: ${await ping(demo, demo.client.allowed)}`);
  console.log(`datagrams sent by the attacker: ${await flood}`);
  say(
    "rule 0 (Deny from the GlobalNetworkSet dos-deny-list) dropped them in XDP, before conntrack and iptables",
  );
  status(demo);
  say("done. Tear everything down with: npm run demo:destroy");
}

async function destroy(only?: Demo): Promise<void> {
  for (const demo of only ? [only] : Object.values(DEMOS)) {
    if (existsSync(join(DEMO, demo.stack, "state")) && process.env.CALICO_XDP_ENGINE_BIN) {
      say(`pulumi destroy of examples/${demo.program}`);
      const s = await stack(demo);
      await s.destroy({ onOutput: (out) => process.stdout.write(out) });
      await s.workspace.removeStack(demo.stack);
    }
    say(`removing ${demo.host.netns} and ${demo.client.netns}`);
    removeHosts(demo);
    rmSync(join(DEMO, demo.stack), { recursive: true, force: true });
  }
  if (!only) rmSync(DEMO, { recursive: true, force: true });
}

const MODES: Record<string, () => Promise<void>> = { up: redisHost, dos, destroy: () => destroy() };
const mode = MODES[process.argv[2] ?? "up"];
(mode ? mode() : Promise.reject(new Error(`unknown demo ${process.argv[2]}: use up, dos or destroy`))).catch(
  (error) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  },
);
