import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PIN_ROOT } from "../../provider/xdp/node";
import { testIdentity } from "../support/identity";
import { kernelSkip } from "../support/kernel";
import { createTestbed, type Testbed } from "../support/netns";
import { REPO_ROOT } from "../support/paths";
import { attachedId } from "../support/xdpLink";

const skip = kernelSkip(["clang", "bpftool", "ip", "unshare"]);

/** Runs the built provider's check and create for one netns node and prints the outcome as JSON. */
const SCRIPT = `
const { execFileSync } = require("node:child_process");
execFileSync("umount", ["/sys/fs/bpf"]);
const provider = require(${JSON.stringify(join(REPO_ROOT, "dist", "provider", "xdp", "provider.js"))});
const inputs = JSON.parse(process.argv[2]);
provider
  .check({}, inputs)
  .then(({ inputs: checked }) => provider.create(checked))
  .then(
    () => console.log(JSON.stringify({ created: true })),
    (error) => console.log(JSON.stringify({ message: error.message, reasons: error.reasons })),
  );
`;

describe.skipIf(skip)("a provider whose mount namespace has no bpffs", () => {
  let tb: Testbed;
  let dir: string;
  beforeAll(() => {
    tb = createTestbed();
    dir = mkdtempSync(join(tmpdir(), "calico-xdp-bpffs-"));
    writeFileSync(join(dir, "create.js"), SCRIPT);
  });
  afterAll(() => {
    tb?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it("GIVEN /sys/fs/bpf unmounted in its mount namespace WHEN it creates THEN the node fails saying how to mount bpffs, and nothing is attached or pinned", () => {
    const identity = testIdentity();
    const inputs = {
      identity,
      nodes: [{ name: "n1", connection: { type: "netns", netns: tb.server.netns } }],
      interfaceName: tb.server.iface,
      rules: [{ action: "Deny", protocol: "UDP" }],
    };
    const out = JSON.parse(
      execFileSync(
        "unshare",
        [
          "--mount",
          "--propagation",
          "private",
          process.execPath,
          join(dir, "create.js"),
          JSON.stringify(inputs),
        ],
        { encoding: "utf8" },
      ),
    );
    expect(out.reasons).toEqual([
      expect.stringMatching(
        /^n1: bpffs is not mounted at \/sys\/fs\/bpf on this machine: mount it in the host's mount namespace \(mount -t bpf bpf \/sys\/fs\/bpf/,
      ),
    ]);
    expect(attachedId(tb.server.netns, tb.server.iface)).toBeUndefined();
    expect(existsSync(join(PIN_ROOT, `cx-${identity}`))).toBe(false);
  });
});
