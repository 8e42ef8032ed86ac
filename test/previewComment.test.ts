import fc from "fast-check";
import { micromark } from "micromark";
import { gfm, gfmHtml } from "micromark-extension-gfm";
import { describe, expect, it } from "vitest";
import { COMMENT_LIMIT, previewComment } from "../provider/previewComment";

const XDP_URN =
  "urn:pulumi:pr::redis-host::calico-xdp:index:UntrackedPolicy$pulumi-nodejs:dynamic/calico-xdp:XdpProgram::redis-untracked-xdp";
const GNP_URN =
  "urn:pulumi:pr::redis-host::calico-xdp:index:UntrackedPolicy$kubernetes:projectcalico.org/v3:GlobalNetworkPolicy::redis-untracked";

/** An XdpProgram's inputs over two nodes; only the rule count and the maps digest vary. */
const xdpInputs = (ruleCount: number, mapsDigit: string) => ({
  nodes: [
    { name: "redis-1", connection: { type: "local" } },
    { name: "redis-2", connection: { type: "netns", netns: "r2" } },
  ],
  interfaceName: "eth0",
  ruleCount,
  sourceSha256: "a".repeat(64),
  mapsSha256: mapsDigit.repeat(64),
  mode: "auto",
});

/** The shape `pulumi preview --json` prints. */
const jsonPreview = {
  steps: [
    {
      op: "update",
      urn: XDP_URN,
      oldState: {
        type: "pulumi-nodejs:dynamic/calico-xdp:XdpProgram",
        inputs: xdpInputs(2, "b"),
        outputs: {
          attachments: [
            { node: "redis-1", mode: "native" },
            { node: "redis-2", mode: "generic" },
          ],
        },
      },
      newState: {
        type: "pulumi-nodejs:dynamic/calico-xdp:XdpProgram",
        inputs: xdpInputs(3, "c"),
      },
      diffReasons: ["rules", "mapsSha256", "ruleCount"],
    },
    {
      op: "update",
      urn: GNP_URN,
      newState: {
        type: "kubernetes:projectcalico.org/v3:GlobalNetworkPolicy",
        inputs: { kind: "GlobalNetworkPolicy", metadata: { name: "redis-untracked" } },
      },
      diffReasons: ["spec"],
    },
    {
      op: "create",
      urn: "urn:pulumi:pr::redis-host::kubernetes:projectcalico.org/v3:HostEndpoint::redis-3-eth0",
      newState: {
        type: "kubernetes:projectcalico.org/v3:HostEndpoint",
        inputs: { kind: "HostEndpoint", metadata: { name: "redis-3-eth0" } },
      },
    },
    { op: "same", urn: "urn:pulumi:pr::redis-host::pulumi:pulumi:Stack::redis-host-pr" },
    {
      op: "update",
      urn: "urn:pulumi:pr::redis-host::pulumi:providers:pulumi-nodejs::default",
      newState: { type: "pulumi:providers:pulumi-nodejs" },
    },
  ],
  changeSummary: { update: 2, create: 1, same: 1 },
};

describe("calico-xdp preview-comment", () => {
  it("GIVEN pulumi preview --json WHEN rendered THEN it summarises changes, per-node XDP changes and Calico objects", () => {
    const md = previewComment(JSON.stringify(jsonPreview));
    expect(md).toMatch(/^### Pulumi preview: 2 to update, 1 to create\n/);
    expect(md).toContain(
      "| `redis-untracked-xdp` | update | `redis-1` | `eth0` | 2 → 3 | `aaaaaaaaaaaa` | `bbbbbbbbbbbb` → `cccccccccccc` | `redis-1`: native, `redis-2`: generic |",
    );
    expect(md).toContain("|  |  | `redis-2` (netns `r2`) | `eth0` | 2 → 3 |");
    expect(md).toContain("| `GlobalNetworkPolicy` | `redis-untracked` | update (`spec`) |");
    expect(md).toContain("| `HostEndpoint` | `redis-3-eth0` | create |");
    expect(md).not.toContain("pulumi:pulumi:Stack");
    expect(md).not.toContain("pulumi:providers:");
  });

  it("GIVEN a preview with hundreds of objects WHEN rendered THEN the comment stays under GitHub's limit and says it was cut", () => {
    const steps = Array.from({ length: 3000 }, (_, i) => ({
      op: "create",
      urn: `urn:pulumi:pr::p::kubernetes:projectcalico.org/v3:HostEndpoint::node-${i}-eth0-with-a-long-name`,
      newState: {
        type: "kubernetes:projectcalico.org/v3:HostEndpoint",
        inputs: { kind: "HostEndpoint", metadata: { name: `node-${i}-eth0-with-a-long-name` } },
      },
    }));
    const md = previewComment(JSON.stringify({ steps }));
    expect(md.length).toBeLessThanOrEqual(COMMENT_LIMIT);
    expect(md).toMatch(/cut to fit GitHub's comment size limit/);
    expect(md).toMatch(/^### Pulumi preview: 3000 to create/);
  });

  it("GIVEN no changes WHEN rendered THEN it says so", () => {
    expect(
      previewComment(
        JSON.stringify({ steps: [{ op: "same", urn: "urn:pulumi:s::p::pulumi:pulumi:Stack::p-s" }] }),
      ),
    ).toBe("### Pulumi preview: no changes\n");
  });

  it("GIVEN empty input WHEN rendered THEN it explains what to pipe in", () => {
    expect(() => previewComment("")).toThrow(/pipe `pulumi preview --json`/);
  });

  /** GitHub's Markdown (GFM, raw HTML allowed as GitHub allows some) as HTML. */
  const asGitHub = (md: string) =>
    micromark(md, { extensions: [gfm()], htmlExtensions: [gfmHtml()], allowDangerousHtml: true });
  const decode = (html: string) =>
    html
      .replace(/&lt;/g, "<")
      .replace(/&gt;/g, ">")
      .replace(/&quot;/g, '"')
      .replace(/&amp;/g, "&");
  const hostile = fc
    .array(
      fc.constantFrom(
        "`",
        "``",
        "|",
        "\\",
        "\\|",
        "<!--",
        "-->",
        "<img src=x onerror=alert(1)>",
        "@org/team",
        "\n### Pulumi preview: forged\n",
        "\r\n",
        "*",
        "_",
        "[x](https://evil.example)",
        "https://evil.example",
        ":tada:",
        "&amp;",
        " ",
        "a",
      ),
      { minLength: 1, maxLength: 8 },
    )
    .map((parts) => parts.join(""));

  it("PROPERTY any resource name, node, interface, kind or type stays text in its own cell: no heading, HTML, comment, link or mention", () => {
    fc.assert(
      fc.property(hostile, (name) => {
        const steps = [
          {
            op: "create",
            urn: `urn:pulumi:pr::p::calico-xdp:index:UntrackedPolicy$${XDP_URN.split("$")[1]!.split("::")[0]}::${name}`,
            newState: {
              type: "pulumi-nodejs:dynamic/calico-xdp:XdpProgram",
              inputs: {
                nodes: [{ name, connection: { type: "netns", netns: name } }],
                interfaceName: name,
                ruleCount: 1,
              },
            },
          },
          {
            op: "create",
            urn: `urn:pulumi:pr::p::kubernetes:projectcalico.org/v3:HostEndpoint::${name}`,
            newState: {
              type: "kubernetes:projectcalico.org/v3:HostEndpoint",
              inputs: { kind: name, metadata: { name } },
            },
          },
          {
            op: "create",
            urn: `urn:pulumi:pr::p::my:index:${name}::${name}`,
            newState: { type: `my:${name}` },
          },
        ];
        const html = asGitHub(previewComment(JSON.stringify({ steps })));
        const tags = [...html.matchAll(/<\/?([a-zA-Z][a-zA-Z0-9]*)/g)].map((m) => m[1]!);
        expect(new Set(tags)).toEqual(
          new Set(["h3", "h4", "table", "thead", "tbody", "tr", "th", "td", "code", "ul", "li"]),
        );
        expect(html).not.toContain("<!--");
        expect(html.match(/<h3>/g)).toHaveLength(1);
        const rows = [...html.matchAll(/<tr>([\s\S]*?)<\/tr>/g)].map((m) => m[1]!);
        expect(rows.map((r) => r.match(/<t[dh][ >]/g)?.length)).toEqual([8, 8, 3, 3]);
        // Mentions, emoji and autolinks are not made inside code.
        const outsideCode = html.replace(/<code>[\s\S]*?<\/code>/g, "");
        expect(outsideCode).not.toMatch(/@|:tada:|https:/);
        // And the reviewer reads the name as it is (line breaks as spaces; a backslash before a pipe doubled).
        const shown = decode(rows[1]!.match(/<td><code>([\s\S]*?)<\/code><\/td>/)![1]!);
        const flat = (text: string) => text.replace(/\\/g, "").replace(/\s+/g, " ").trim();
        expect(flat(shown)).toBe(flat(name));
      }),
      { numRuns: 300 },
    );
  });
});
