import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as provider from "../../provider/xdp/provider";
import type { NodeAttachment } from "../../sdk/xdp/programArgs";
import { testIdentity } from "../support/identity";
import { kernelSkip } from "../support/kernel";
import { createTestbed, type Testbed } from "../support/netns";
import { REPO_ROOT } from "../support/paths";
import { attachedProgram } from "../support/xdpLink";

const skip = kernelSkip(["clang", "bpftool", "ip", "llvm-objdump"]);

describe.skipIf(skip)("XdpProgram with your own XDP source", () => {
  let tb: Testbed;
  beforeAll(() => {
    tb = createTestbed();
  });
  afterAll(() => tb?.destroy());
  const identity = testIdentity();
  const inputs = (section?: string) => ({
    identity,
    nodes: [{ name: "n1", connection: { type: "netns", netns: tb.server.netns } }],
    interfaceName: tb.server.iface,
    source: join(REPO_ROOT, "bench", "programs", "empty.c"),
    ...(section ? { section } : {}),
  });

  it("GIVEN a custom source WHEN created THEN it is built, attached, refreshed without drift and removed", async () => {
    const checked = (await provider.check({}, inputs())).inputs;
    expect(checked).toMatchObject({ ruleCount: 0 });
    const { id, outs } = await provider.create(checked as never);
    const [attachment] = outs.attachments as NodeAttachment[];
    expect(attachment).toMatchObject({ status: "attached" });
    expect(attachedProgram(tb.server.netns, tb.server.iface)).toMatchObject({
      id: attachment!.programId,
      name: "xdp_empty",
    });
    const refreshed = (await provider.read(id, outs as never)).props as { attachments: NodeAttachment[] };
    expect(refreshed.attachments[0]).toMatchObject({ status: "attached" });
    expect(refreshed.attachments[0]!.drift).toBeUndefined();
    await provider.delete(id, outs as never);
    expect(attachedProgram(tb.server.netns, tb.server.iface)).toBeUndefined();
  });

  it("GIVEN a custom source with a map pinned by name WHEN created THEN the map is pinned with its version, not at the bpffs root", async () => {
    const dir = mkdtempSync(join(tmpdir(), "calico-xdp-pinned-"));
    const source = join(dir, "pinned.c");
    writeFileSync(
      source,
      [
        "#include <linux/bpf.h>",
        "#include <bpf/bpf_helpers.h>",
        "struct {",
        "\t__uint(type, BPF_MAP_TYPE_ARRAY);",
        "\t__uint(max_entries, 1);",
        "\t__type(key, __u32);",
        "\t__type(value, __u64);",
        "\t__uint(pinning, LIBBPF_PIN_BY_NAME);",
        '} cx_pinned_test SEC(".maps");',
        'SEC("xdp") int xdp_pinned(struct xdp_md *ctx) { __u32 k = 0; __u64 *v = bpf_map_lookup_elem(&cx_pinned_test, &k); if (v) (*v)++; return XDP_PASS; }',
        'char LICENSE[] SEC("license") = "Dual BSD/GPL";',
        "",
      ].join("\n"),
    );
    try {
      const checked = (await provider.check({}, { ...inputs(), source })).inputs;
      const { id, outs } = await provider.create(checked as never);
      const [attachment] = outs.attachments as NodeAttachment[];
      expect(attachment).toMatchObject({ status: "attached" });
      expect(existsSync(join(attachment!.pinDir!, "cx_pinned_test"))).toBe(true);
      expect(existsSync("/sys/fs/bpf/cx_pinned_test")).toBe(false);
      await provider.delete(id, outs as never);
      expect(existsSync(attachment!.pinDir!)).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("GIVEN a section the object does not have WHEN created THEN the node fails saying so", async () => {
    const checked = (await provider.check({}, inputs("xdp/nope"))).inputs;
    await expect(provider.create(checked as never)).rejects.toThrow(/has no section "xdp\/nope"/);
  });
});

describe("no code path builds a shell command string", () => {
  it("GIVEN the sources WHEN scanned THEN child processes are started with argument vectors only", () => {
    const files = execFileSync("git", ["ls-files", "sdk", "provider", "bench", "scripts", "test"], {
      cwd: REPO_ROOT,
      encoding: "utf8",
    })
      .split("\n")
      .filter((f) => /\.(ts|js)$/.test(f));
    const offenders = files.filter((f) => {
      const text = readFileSync(join(REPO_ROOT, f), "utf8");
      return /\bexecSync\(|\bexec\(\s*[`"']|shell:\s*true|child_process"\)\.exec\b|import \{[^}]*\bexec\b[^}]*\} from "node:child_process"/.test(
        text,
      );
    });
    expect(files.length).toBeGreaterThan(20);
    expect(offenders).toEqual([]);
  });
});
