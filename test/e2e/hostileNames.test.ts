import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as k8s from "@pulumi/kubernetes";
import { LocalWorkspace } from "@pulumi/pulumi/automation";
import { micromark } from "micromark";
import { gfm, gfmHtml } from "micromark-extension-gfm";
import { GlobalNetworkSet, XdpProgram } from "pulumi-calico-xdp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { previewComment } from "../../provider/previewComment";
import { engineWorkspace } from "../../scripts/workspace";
import { engine } from "../support/engine";
import { kernelSkip } from "../support/kernel";
import { createTestbed, type Testbed } from "../support/netns";

const skip = kernelSkip(["bpftool", "ip"]);
/** Names the engine accepts and a comment must not obey. */
const HOSTILE = [
  "deny`list|<!-- hidden",
  "edge <img src=x onerror=alert(1)> @org/team",
  "x\n### Pulumi preview: nothing to review\n",
];

describe.skipIf(skip)(
  "calico-xdp preview-comment on a real engine's preview of hostile resource names",
  () => {
    let tb: Testbed;
    let work: string;

    beforeAll(() => {
      tb = createTestbed();
      work = mkdtempSync(join(tmpdir(), "calico-xdp-hostile-"));
    });
    afterAll(() => {
      tb?.destroy();
      if (work) rmSync(work, { recursive: true, force: true });
    });

    it("GIVEN resources named with backticks, pipes, HTML, a comment, a mention and a line break WHEN previewed THEN the comment shows each as text in its row", async () => {
      const { bin, skip: noEngine } = engine();
      if (noEngine) throw new Error(noEngine);
      const stack = await LocalWorkspace.createOrSelectStack(
        {
          projectName: "hostile-names",
          stackName: "pr",
          program: async () => {
            const render = new k8s.Provider("render", { renderYamlToDirectory: join(work, "rendered") });
            new GlobalNetworkSet(
              HOSTILE[0]!,
              { nets: ["198.18.9.0/24"], labels: { role: "deny" }, resourceName: "deny-list" },
              { provider: render },
            );
            for (const name of HOSTILE.slice(1))
              new XdpProgram(name, {
                nodes: [{ name: "edge-1", connection: { type: "netns", netns: tb.server.netns } }],
                interfaceName: tb.server.iface,
                rules: [{ action: "Deny", source: { nets: ["198.18.9.0/24"] } }],
              });
          },
        },
        await engineWorkspace(bin!, work, "calico-xdp-tests", "hostile-names"),
      );
      const events: string[] = [];
      await stack.preview({ onEvent: (event) => events.push(JSON.stringify(event)) });
      const md = previewComment(events.join("\n"));
      const html = micromark(md, {
        extensions: [gfm()],
        htmlExtensions: [gfmHtml()],
        allowDangerousHtml: true,
      });
      expect(html.match(/<h3>/g)).toHaveLength(1);
      expect(html).not.toMatch(/<!--|<img/);
      expect(html.replace(/<code>[\s\S]*?<\/code>/g, "")).not.toContain("@org");
      // Two XdpProgram rows of eight cells, one GlobalNetworkSet row of three.
      const rows = [...html.matchAll(/<tr>([\s\S]*?)<\/tr>/g)].map((m) => m[1]!.match(/<t[dh][ >]/g)?.length);
      expect(rows).toEqual([8, 8, 8, 3, 3]);
      expect(html).toContain("<code>edge &lt;img src=x onerror=alert(1)&gt; @org/team</code>");
    }, 600_000);
  },
);
