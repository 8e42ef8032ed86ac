/**
 * Turns a Pulumi preview into a Markdown comment for a pull request: what changes, what each node's
 * XDP filter becomes (program hash, rule count, mode), and which Calico objects change.
 *
 * Input: `pulumi preview --json` output (`{ steps: [...] }`), or the engine event log of a preview
 * (`pulumi preview --event-log FILE`, one JSON event per line, as the Automation API also delivers).
 */

/** GitHub's limit for an issue or pull-request comment body. */
export const COMMENT_LIMIT = 65_536;

interface State {
  type?: string;
  inputs?: Record<string, unknown>;
  outputs?: Record<string, unknown>;
}

interface Step {
  op: string;
  urn: string;
  type: string;
  old?: State;
  new?: State;
  diffs: string[];
}

const IGNORED_OPS = new Set(["same", "read", "refresh", "discard", "remove-pending-replace"]);
const XDP_TYPE = "pulumi-nodejs:dynamic/calico-xdp:XdpProgram";

function fromJsonPreview(doc: { steps?: Record<string, unknown>[] }): Step[] {
  return (doc.steps ?? []).map((s) => ({
    op: String(s.op),
    urn: String(s.urn),
    type: String(
      (s.newState as State | undefined)?.type ??
        (s.oldState as State | undefined)?.type ??
        typeOf(String(s.urn)),
    ),
    old: s.oldState as State | undefined,
    new: s.newState as State | undefined,
    diffs: [...((s.diffReasons as string[]) ?? []), ...((s.replaceReasons as string[]) ?? [])],
  }));
}

function fromEventLog(lines: string[]): Step[] {
  const steps: Step[] = [];
  for (const line of lines) {
    const meta = (JSON.parse(line) as { resourcePreEvent?: { metadata?: Record<string, unknown> } })
      .resourcePreEvent?.metadata;
    if (!meta) continue;
    steps.push({
      op: String(meta.op),
      urn: String(meta.urn),
      type: String(meta.type),
      old: meta.old as State | undefined,
      new: meta.new as State | undefined,
      diffs: (meta.diffs as string[] | undefined) ?? topLevelFields(meta.detailedDiff),
    });
  }
  return steps;
}

/** `spec.ingress[0]` -> `spec`: the fields a detailed diff touches. */
function topLevelFields(detailedDiff: unknown): string[] {
  if (detailedDiff === null || typeof detailedDiff !== "object") return [];
  return [...new Set(Object.keys(detailedDiff).map((path) => path.split(/[.[]/)[0]!))];
}

const typeOf = (urn: string) => urn.split("::")[2]?.split("$").pop() ?? "";
/** A URN is `urn:pulumi:<stack>::<project>::<type>::<name>`, and the name may itself contain `::`. */
const nameOf = (urn: string) => urn.split("::").slice(3).join("::") || urn;

export function parsePreview(text: string): Step[] {
  const trimmed = text.trim();
  if (trimmed === "")
    throw new Error("the preview is empty: pipe `pulumi preview --json` (or an event log) into this command");
  if (trimmed.startsWith("{") && !trimmed.includes("\n{")) {
    const doc = JSON.parse(trimmed) as { steps?: Record<string, unknown>[] };
    if (Array.isArray(doc.steps)) return fromJsonPreview(doc);
  }
  return fromEventLog(trimmed.split("\n").filter((l) => l.trim() !== ""));
}

/**
 * Any string from the preview (names, types, nodes, fields: all chosen by whoever wrote the program) as
 * an inline code span on one line, so no Markdown, HTML, comment, mention or link in it takes effect:
 * a fence longer than any backtick run inside, line breaks and control characters as spaces.
 */
export function code(value: unknown): string {
  const text = String(value).replace(/[\p{Cc}\u2028\u2029]/gu, " ");
  const fence = "`".repeat(Math.max(0, ...(text.match(/`+/g) ?? []).map((run) => run.length)) + 1);
  const pad = /^[` ]|[` ]$/.test(text) ? " " : "";
  return `${fence}${pad}${text}${pad}${fence}`;
}

/** The engine's own words (operations), kept plain when they are words; anything else as code. */
const word = (value: unknown) => (/^[a-z][a-z-]*$/.test(String(value)) ? String(value) : code(value));

/**
 * A table cell: a pipe would end it even inside a code span, so each is escaped, with any backslashes
 * before it doubled so that they cannot escape the escape.
 */
const cell = (text: string) => text.replace(/(\\*)\|/g, (_, slashes: string) => `${slashes}${slashes}\\|`);

const count = (value: unknown) => (typeof value === "number" ? String(value) : code(value));
const short = (hash: unknown) => (typeof hash === "string" ? code(hash.slice(0, 12)) : "–");
const change = (before: unknown, after: unknown, format: (v: unknown) => string) =>
  before === undefined || JSON.stringify(before) === JSON.stringify(after)
    ? format(after)
    : `${format(before)} → ${format(after)}`;

function xdpRows(steps: readonly Step[]): string[] {
  return steps
    .filter((s) => s.type === XDP_TYPE)
    .flatMap((s) => {
      const before = s.old?.inputs ?? {};
      const after = s.new?.inputs ?? {};
      const nodes = (
        (after.nodes ?? before.nodes ?? []) as {
          name: string;
          connection?: { type: string; netns?: string };
        }[]
      ).map((n) => `${code(n.name)}${n.connection?.netns ? ` (netns ${code(n.connection.netns)})` : ""}`);
      const mode = (s.new?.outputs?.attachments ?? s.old?.outputs?.attachments) as
        | { node: string; mode?: string }[]
        | undefined;
      const modes = mode?.length
        ? mode.map((a) => `${code(a.node)}: ${word(a.mode ?? "?")}`).join(", ")
        : word(after.mode ?? before.mode ?? "auto");
      return nodes.map((node, i) =>
        [
          i === 0 ? code(nameOf(s.urn)) : "",
          i === 0 ? word(s.op) : "",
          node,
          code(after.interfaceName ?? before.interfaceName ?? ""),
          change(before.ruleCount, after.ruleCount, count),
          change(before.sourceSha256, after.sourceSha256, short),
          change(before.mapsSha256, after.mapsSha256, short),
          i === 0 ? modes : "",
        ]
          .map(cell)
          .join(" | "),
      );
    })
    .map((row) => `| ${row} |`);
}

function calicoRows(steps: readonly Step[]): string[] {
  return steps
    .filter((s) => /^kubernetes:(crd\.)?projectcalico\.org\//.test(s.type))
    .map((s) => {
      const object = (s.new?.inputs ?? s.old?.inputs ?? {}) as {
        kind?: string;
        metadata?: { name?: string };
      };
      const kind = object.kind ?? s.type.split(":").pop();
      const fields = s.diffs.length ? ` (${s.diffs.map(code).join(", ")})` : "";
      return `| ${cell(code(kind))} | ${cell(code(object.metadata?.name ?? nameOf(s.urn)))} | ${cell(word(s.op) + fields)} |`;
    });
}

/** The Markdown comment, at most COMMENT_LIMIT characters (long tables are cut with a note). */
export function previewComment(text: string, limit = COMMENT_LIMIT): string {
  // The stack and provider plumbing say nothing a reviewer of host protection needs.
  const steps = parsePreview(text).filter(
    (s) =>
      !IGNORED_OPS.has(s.op) && s.type !== "pulumi:pulumi:Stack" && !s.type.startsWith("pulumi:providers:"),
  );
  const counts = new Map<string, number>();
  for (const s of steps) counts.set(s.op, (counts.get(s.op) ?? 0) + 1);
  const summary = counts.size
    ? [...counts.entries()].map(([op, n]) => `${n} to ${op}`).join(", ")
    : "no changes";
  const sections = [`### Pulumi preview: ${summary}`];
  const xdp = xdpRows(steps);
  if (xdp.length) {
    sections.push(
      [
        "#### XDP filters",
        "| resource | change | node | interface | rules | program | maps | mode |",
        "|---|---|---|---|---|---|---|---|",
        ...xdp,
      ].join("\n"),
    );
  }
  const calico = calicoRows(steps);
  if (calico.length)
    sections.push(
      ["#### Calico resources", "| kind | name | change |", "|---|---|---|", ...calico].join("\n"),
    );
  const others = steps.filter((s) => s.type !== XDP_TYPE && !/projectcalico\.org\//.test(s.type));
  if (others.length)
    sections.push(
      [
        "#### Other resources",
        ...others.map((s) => `- ${word(s.op)} ${code(s.type)} ${code(nameOf(s.urn))}`),
      ].join("\n"),
    );
  return trim(`${sections.join("\n\n")}\n`, limit);
}

function trim(body: string, limit: number): string {
  if (body.length <= limit) return body;
  const note =
    "\n\n_… cut to fit GitHub's comment size limit; run `pulumi preview --diff` for everything._\n";
  const lines = body.split("\n");
  let out = "";
  for (const line of lines) {
    if (out.length + line.length + 1 + note.length > limit) break;
    out += `${line}\n`;
  }
  return `${out.trimEnd()}${note}`;
}
