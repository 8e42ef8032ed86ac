import { execFileSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PIN_ROOT } from "../../provider/xdp/node";
import { startRedis } from "../../scripts/redis";
import { engineEnv } from "../../scripts/workspace";
import type { NodeAttachment } from "../../sdk/xdp/programArgs";
import { engine } from "../support/engine";
import { inNetns } from "../support/hosts";
import { kernelSkip } from "../support/kernel";
import { createTestbed, type Testbed } from "../support/netns";
import { REPO_ROOT } from "../support/paths";
import { redisPing } from "../support/redis";
import { attachedId } from "../support/xdpLink";

const skip = kernelSkip(["clang", "bpftool", "ip", "redis-server", "redis-cli", "npm"]);
const COMPILERS = /^(clang|llc|cc|gcc|c\+\+|g\+\+|[a-z0-9_]+-linux-gnu-)/;

/** A directory of links to every program on PATH but compilers: a machine without clang or cc. */
function pathWithoutCompilers(dir: string): string {
  mkdirSync(dir);
  for (const from of (process.env.PATH ?? "").split(delimiter)) {
    if (!existsSync(from)) continue;
    for (const name of readdirSync(from)) {
      if (!COMPILERS.test(name) && !existsSync(join(dir, name)))
        symlinkSync(join(from, name), join(dir, name));
    }
  }
  return dir;
}

describe.skipIf(skip)(
  "examples/redis-host as a user runs it: the packed package installed, the pulumi CLI, no compiler",
  () => {
    let tb: Testbed;
    let redis: { stop: () => void };
    let work: string;
    let project: string;
    let env: NodeJS.ProcessEnv;

    const pulumi = (...args: string[]) => {
      try {
        return execFileSync("pulumi", [...args, "--non-interactive"], {
          cwd: project,
          env,
          encoding: "utf8",
          stdio: ["ignore", "pipe", "pipe"],
          timeout: 600_000,
        });
      } catch (error) {
        const { stdout, stderr } = error as { stdout?: string; stderr?: string };
        throw new Error(`pulumi ${args.join(" ")} failed:\n${stdout}\n${stderr}`);
      }
    };
    const xdpProgram = () =>
      JSON.parse(pulumi("stack", "export")).deployment.resources.find((r: { type: string }) =>
        r.type.endsWith("calico-xdp:XdpProgram"),
      ) as { urn: string; id: string };
    const outputs = () => JSON.parse(pulumi("stack", "output", "--json"));
    const attachment = (): NodeAttachment => outputs().attachments[0];
    const connectFromDenied = () =>
      inNetns(tb.client.netns, "tcp-connect", tb.server.address, "6379", tb.client.deniedAddress);
    const shipped = () =>
      JSON.parse(
        readFileSync(
          join(project, "node_modules", "pulumi-calico-xdp", "dist", "bpf", "prebuilt.json"),
          "utf8",
        ),
      )["xdp_policy.o"].sha256;

    beforeAll(async () => {
      const { bin, skip: noEngine } = engine();
      if (noEngine) throw new Error(noEngine);
      tb = createTestbed();
      redis = await startRedis(tb.server.netns);
      work = mkdtempSync(join(tmpdir(), "calico-xdp-cli-"));
      // What `npm publish` would ship, built by `npm run build` (setup did).
      const [packed] = JSON.parse(
        execFileSync("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", work], {
          cwd: REPO_ROOT,
          encoding: "utf8",
        }),
      );
      project = join(work, "redis-host");
      cpSync(join(REPO_ROOT, "examples", "redis-host"), project, {
        recursive: true,
        filter: (src) => !/node_modules|Pulumi\..+\.yaml$|package-lock\.json$/.test(src),
      });
      const manifest = JSON.parse(readFileSync(join(project, "package.json"), "utf8"));
      manifest.dependencies["pulumi-calico-xdp"] = `file:${join(work, packed.filename)}`;
      writeFileSync(join(project, "package.json"), JSON.stringify(manifest, null, 2));
      execFileSync("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error"], {
        cwd: project,
        stdio: ["ignore", "ignore", "inherit"],
        timeout: 900_000,
      });
      env = {
        ...process.env,
        ...engineEnv(bin!, work, "calico-xdp-tests"),
        PATH: `${bin}${delimiter}${pathWithoutCompilers(join(work, "bin"))}`,
        XDG_CACHE_HOME: join(work, "cache"),
      };
      pulumi("stack", "init", "e2e");
      pulumi("config", "set", "--path", "nodes[0].name", "redis-1");
      pulumi("config", "set", "--path", "nodes[0].interfaceName", tb.server.iface);
      pulumi("config", "set", "--path", "nodes[0].ip", tb.server.address);
      pulumi("config", "set", "--path", "nodes[0].netns", tb.server.netns);
      pulumi("config", "set", "--path", "clientCidrs[0]", `${tb.client.address}/32`);
      pulumi("config", "set", "renderYamlTo", join(work, "rendered"));
    }, 3_600_000);

    afterAll(() => {
      try {
        if (project && env) pulumi("destroy", "--yes");
      } finally {
        redis?.stop();
        tb?.destroy();
        if (work) rmSync(work, { recursive: true, force: true });
      }
    }, 600_000);

    it("GIVEN no compiler on PATH WHEN the CLI previews THEN it plans the objects and the filter, and preview --json makes the pull-request comment", () => {
      expect(() => execFileSync("clang", ["--version"], { env, stdio: "ignore" })).toThrow();
      const text = pulumi("preview");
      expect(text).toMatch(/calico-xdp:index:UntrackedPolicy\s+redis-untracked\s+create/);
      expect(text).toMatch(/XdpProgram\s+redis-untracked-xdp\s+create/);
      const comment = execFileSync(join(project, "node_modules", ".bin", "calico-xdp"), ["preview-comment"], {
        input: pulumi("preview", "--json"),
        env,
        encoding: "utf8",
      });
      expect(comment).toContain(
        `| \`redis-untracked-xdp\` | create | \`redis-1\` (netns \`${tb.server.netns}\`) |`,
      );
      expect(attachedId(tb.server.netns, tb.server.iface)).toBeUndefined();
    });

    it("GIVEN the preview WHEN up runs THEN the shipped filter is attached: the client is served, another source is dropped", async () => {
      pulumi("up", "--yes");
      const applied = attachment();
      expect(applied).toMatchObject({ status: "attached", ruleCount: 2, objectSha256: shipped() });
      expect(attachedId(tb.server.netns, tb.server.iface)).toBe(applied.programId);
      expect(await redisPing(tb.client.netns, tb.server.address)).toBe("PONG");
      expect(await connectFromDenied()).toBe("timeout");
    });

    it("GIVEN another client network in config WHEN up runs THEN the same program admits it", async () => {
      const before = attachment();
      pulumi("config", "set", "--path", "clientCidrs[1]", `${tb.client.deniedAddress}/32`);
      pulumi("up", "--yes");
      const after = attachment();
      expect(after.programId).toBe(before.programId);
      expect(after.mapsSha256).not.toBe(before.mapsSha256);
      expect(await connectFromDenied()).toBe("connected");
    });

    it("GIVEN nothing changed on the node WHEN refreshed THEN there is no drift and no change to preview", () => {
      // Objects rendered to a directory cannot be read back (the Kubernetes provider needs a cluster).
      pulumi("refresh", "--yes", "--target", xdpProgram().urn);
      expect(attachment()).toMatchObject({ status: "attached" });
      expect(attachment().drift).toBeUndefined();
      expect(() => pulumi("preview", "--expect-no-changes")).not.toThrow();
    });

    it("GIVEN the stack WHEN destroyed THEN the filter is detached and its pins are gone", () => {
      const { id } = xdpProgram();
      pulumi("destroy", "--yes");
      expect(attachedId(tb.server.netns, tb.server.iface)).toBeUndefined();
      expect(existsSync(join(PIN_ROOT, id))).toBe(false);
    });
  },
);
