#!/usr/bin/env node
import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { parseArgs } from "node:util";
import { parseAllDocuments } from "yaml";
import { INTERFACE_NAME } from "../sdk/calico/names";
import { objectsOf, validateCalicoObject } from "../sdk/calico/validate";
import { formatIssues } from "../sdk/calico/zodkit";
import { xdpPolicySchema } from "../sdk/xdp/policy";
import {
  type Connection,
  connectionSchema,
  hostKeyWarnings,
  sshConnectionIssues,
} from "../sdk/xdp/programArgs";
import { buildObject } from "./bpf/build";
import { LoadedFilter } from "./bpf/filter";
import { prometheusText, serveMetrics, writeTextfile } from "./metrics";
import { previewComment } from "./previewComment";
import { formatStatus, xdpStatus } from "./status";
import { withTransport } from "./xdp/transport";

const USAGE = `usage:
  calico-xdp preview-comment < preview.json
      turn \`pulumi preview --json\` output (or a preview's event log) into a Markdown pull-request comment
  calico-xdp status [--netns NAME | --ssh [USER@]HOST[:PORT] [--identity FILE] [--agent SOCKET]
                    [--host-key KEY] | --connection FILE] [--interface IF] [--json]
      what XDP programs are attached on this machine, a namespace or an SSH host (ours or not), their
      mode, and our per-rule counters; --connection reads an XdpProgram node connection as JSON
  calico-xdp validate [--json] FILE...
      check hand-written Calico objects (YAML or JSON, several documents, Lists; HostEndpoint,
      GlobalNetworkPolicy, GlobalNetworkSet, FelixConfiguration, NetworkPolicy) with the components'
      rules: "OK Kind/name" or each problem with its field path; exit 1 if any is rejected
  calico-xdp metrics [--netns NAME | --ssh ... | --connection FILE] [--interface IF]
                     (--listen IP:PORT | --textfile PATH)
      the per-rule and per-reason packet and byte counters of every calico-xdp filter on the node, in
      Prometheus's text format: served at /metrics, or written once for node_exporter's textfile collector
  calico-xdp build [--source FILE]
      the policy filter as shipped (or FILE compiled with clang); print the object's path and sha256
  calico-xdp verdict --policy FILE --packet HEX [--packet HEX ...]
      load the filter with FILE's policy ({"ingress": [...], "failsafeInbound": [...], "failsafeOutbound":
      [...], "networkSets": [...], "hostEndpoints": [...], "selectorScope": "open"|"closed", "enforce":
      true|false}) and run each Ethernet frame through it with BPF_PROG_RUN; one JSON line per packet, exit 1 if a frame could not
      be run (root needed)`;

/** A problem with what the user gave: one line on stderr, exit code 2. */
class UsageError extends Error {}

function parsePolicyFile(path: string) {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new UsageError(`cannot read policy file ${path}: ${(error as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`policy file ${path} is not JSON: ${(error as Error).message}`);
  }
  const parsed = xdpPolicySchema.safeParse(json);
  if (!parsed.success)
    throw new UsageError(`policy file ${path}: ${formatIssues(parsed.error.issues).join("; ")}`);
  return parsed.data;
}

function parseHex(text: string, index: number): Buffer {
  const clean = text.replace(/[\s:]/g, "");
  if (clean.length === 0 || clean.length % 2 !== 0 || !/^[0-9a-fA-F]+$/.test(clean)) {
    throw new UsageError(`--packet #${index + 1} is not an even-length hex string`);
  }
  return Buffer.from(clean, "hex");
}

const ETHERNET_HEADER = 14;

async function verdict(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { policy: { type: "string" }, packet: { type: "string", multiple: true } },
  });
  if (!values.policy) throw new UsageError("verdict needs --policy FILE");
  if (!values.packet?.length) throw new UsageError("verdict needs at least one --packet HEX");
  const policy = parsePolicyFile(values.policy);
  const frames = values.packet.map(parseHex);
  if (process.getuid?.() !== 0) throw new UsageError("verdict loads a BPF program and needs root");
  const filter = await LoadedFilter.load(policy);
  let unanswered = 0;
  try {
    // One line per packet: a frame the kernel cannot run gets its own error line, the others their verdict.
    for (const [i, frame] of frames.entries()) {
      const line =
        frame.length < ETHERNET_HEADER
          ? {
              packet: i + 1,
              error: `is ${frame.length} bytes: BPF_PROG_RUN needs at least a ${ETHERNET_HEADER}-byte Ethernet header`,
            }
          : await filter.verdict(frame);
      if ("error" in line) unanswered++;
      process.stdout.write(`${JSON.stringify(line)}\n`);
    }
  } finally {
    await filter.close();
  }
  return unanswered ? 1 : 0;
}

async function build(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { source: { type: "string" } } });
  const object = await buildObject(values.source);
  process.stdout.write(`path ${object.path}\nsha256 ${object.sha256}\n`);
}

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    throw new UsageError(`cannot read ${what} ${path}: ${(error as Error).message}`);
  }
}

/** The node to look at, as the same connection object XdpProgram takes. */
function statusConnection(values: Record<string, string | boolean | undefined>): Connection {
  const given = (["netns", "ssh", "connection"] as const).filter((k) => values[k] !== undefined);
  if (given.length > 1) throw new UsageError(`give one of --${given.join(", --")}`);
  let raw: unknown = { type: "local" };
  if (typeof values.netns === "string") raw = { type: "netns", netns: values.netns };
  if (typeof values.connection === "string") {
    try {
      raw = JSON.parse(readText(values.connection, "connection file"));
    } catch (error) {
      if (error instanceof UsageError) throw error;
      throw new UsageError(`connection file ${values.connection} is not JSON`);
    }
  }
  if (typeof values.ssh === "string") {
    const match = /^(?:([^@]+)@)?(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(values.ssh);
    if (!match) throw new UsageError(`--ssh ${JSON.stringify(values.ssh)} is not [USER@]HOST[:PORT]`);
    raw = {
      type: "ssh",
      host: match[2]!.replace(/^\[|\]$/g, ""),
      ...(match[1] === undefined ? {} : { user: match[1] }),
      ...(match[3] === undefined ? {} : { port: Number(match[3]) }),
      ...(typeof values.identity === "string"
        ? { privateKey: readText(values.identity, "identity file") }
        : {}),
      ...(typeof values.agent === "string" ? { agentSocketPath: values.agent } : {}),
      ...(typeof values["host-key"] === "string" ? { hostKey: values["host-key"] } : {}),
    };
  } else if (
    values.identity !== undefined ||
    values.agent !== undefined ||
    values["host-key"] !== undefined
  ) {
    throw new UsageError("--identity, --agent and --host-key go with --ssh");
  }
  // The same rules as XdpProgram's nodes, including "privateKey or agentSocketPath".
  const parsed = connectionSchema.safeParse(raw);
  const issues = parsed.success ? sshConnectionIssues(parsed.data) : parsed.error.issues;
  if (!parsed.success || issues.length)
    throw new UsageError(`connection: ${formatIssues(issues).join("; ")}`);
  return parsed.data;
}

/** The node options of `status` and `metrics`: which node, reached how. */
const NODE_OPTIONS = {
  netns: { type: "string" },
  ssh: { type: "string" },
  identity: { type: "string" },
  agent: { type: "string" },
  "host-key": { type: "string" },
  connection: { type: "string" },
  interface: { type: "string" },
} as const;

/** The node to read and a reader of its XDP status, checked as `status` and `metrics` both need. */
function nodeReader(command: string, values: Record<string, string | boolean | undefined>) {
  const connection = statusConnection(values);
  const iface = values.interface;
  if (typeof iface === "string" && !INTERFACE_NAME.test(iface)) {
    throw new UsageError(`--interface ${JSON.stringify(iface)} is not an interface name`);
  }
  if (connection.type !== "ssh" && process.getuid?.() !== 0)
    throw new UsageError(`${command} reads BPF maps and needs root`);
  const nodes = connection.type === "ssh" ? [{ name: connection.host, connection }] : [];
  for (const warning of hostKeyWarnings(`calico-xdp ${command}`, nodes))
    process.stderr.write(`warning: ${warning}\n`);
  return () => withTransport(connection, (t) => xdpStatus(t, typeof iface === "string" ? iface : undefined));
}

async function status(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { ...NODE_OPTIONS, json: { type: "boolean" } } });
  const result = await nodeReader("status", values)();
  process.stdout.write(values.json ? `${JSON.stringify(result)}\n` : formatStatus(result));
}

async function metrics(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { ...NODE_OPTIONS, listen: { type: "string" }, textfile: { type: "string" } },
  });
  if ((values.listen === undefined) === (values.textfile === undefined))
    throw new UsageError("give one of --listen HOST:PORT or --textfile PATH");
  const read = nodeReader("metrics", values);
  if (values.textfile !== undefined) {
    if (!values.textfile.startsWith("/")) throw new UsageError("--textfile needs an absolute path");
    writeTextfile(values.textfile, prometheusText(await read()));
    return;
  }
  const match = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(values.listen!);
  const port = Number(match?.[2]);
  if (!match || !(port >= 1 && port <= 65535) || isIP(match[1]!.replace(/^\[|\]$/g, "")) === 0)
    throw new UsageError(`--listen ${JSON.stringify(values.listen)} is not IP:PORT`);
  const host = match[1]!.replace(/^\[|\]$/g, "");
  await serveMetrics(host, port, read);
  process.stderr.write(`calico-xdp metrics: serving http://${values.listen}/metrics\n`);
  await new Promise(() => {});
}

async function comment(args: string[]): Promise<void> {
  parseArgs({ args, options: {} });
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  let markdown: string;
  try {
    markdown = previewComment(Buffer.concat(chunks).toString("utf8"));
  } catch (error) {
    throw new UsageError(`stdin is not a Pulumi preview: ${(error as Error).message}`);
  }
  process.stdout.write(markdown);
}

/** Every object in the files: each YAML document (or JSON file), and the items of a List. */
function readObjects(paths: readonly string[]): { file: string; object: unknown }[] {
  return paths.flatMap((file) => {
    const documents = parseAllDocuments(readText(file, "file"));
    const broken = documents.flatMap((d) => d.errors);
    if (broken.length)
      throw new UsageError(`${file} is not YAML or JSON: ${broken[0]!.message.split("\n")[0]}`);
    return documents.flatMap((d) => objectsOf(d.toJS())).map((object) => ({ file, object }));
  });
}

async function validate(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { json: { type: "boolean" } },
  });
  if (positionals.length === 0) throw new UsageError("validate needs at least one FILE");
  const verdicts = readObjects(positionals).map(({ file, object }) => ({
    file,
    ...validateCalicoObject(object),
  }));
  if (values.json) process.stdout.write(`${JSON.stringify(verdicts)}\n`);
  else
    for (const v of verdicts) {
      const subject = `${v.kind}/${v.name}`;
      if (v.problems.length === 0)
        process.stdout.write(
          `OK ${subject}${v.unchecked ? ` (not checked: ${v.unchecked.join(", ")})` : ""}\n`,
        );
      for (const problem of v.problems) process.stdout.write(`${v.file}: ${subject}: ${problem}\n`);
    }
  return verdicts.some((v) => v.problems.length > 0) ? 1 : 0;
}

/** A command may resolve with its exit code; anything else is 0. */
const COMMANDS: Record<string, (args: string[]) => Promise<unknown>> = {
  build,
  metrics,
  "preview-comment": comment,
  status,
  validate,
  verdict,
};

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const handler = command === undefined ? undefined : COMMANDS[command];
  if (handler === undefined) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  try {
    const code = await handler(rest);
    return typeof code === "number" ? code : 0;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    const usage =
      error instanceof UsageError || (typeof code === "string" && code.startsWith("ERR_PARSE_ARGS"));
    process.stderr.write(`calico-xdp ${command}: ${(error as Error).message.split("\n")[0]}\n`);
    return usage ? 2 : 1;
  }
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
