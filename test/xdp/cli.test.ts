import { execFile } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { buildPacket } from "../../sdk/xdp/packet";
import { kernelSkip } from "../support/kernel";
import { REPO_ROOT } from "../support/paths";

const CLI = join(REPO_ROOT, "dist", "provider", "cli.js");
const dir = mkdtempSync(join(tmpdir(), "calico-xdp-cli-"));
chmodSync(dir, 0o755); // the non-root run must be able to read its policy file
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function cli(args: string[], user?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const [file, argv] = user
    ? ["runuser", ["-u", user, "--", process.execPath, CLI, ...args]]
    : [process.execPath, [CLI, ...args]];
  return new Promise((resolve) => {
    execFile(file, argv as string[], (error, stdout, stderr) => {
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

function policyFile(content: unknown): string {
  const path = join(dir, `policy-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(path, typeof content === "string" ? content : JSON.stringify(content));
  return path;
}

const redisPolicy = {
  ingress: [
    { action: "Allow", protocol: "TCP", source: { nets: ["198.18.1.0/24"] }, destination: { ports: [6379] } },
    { action: "Deny", protocol: "TCP", destination: { ports: [6379] } },
  ],
  failsafeInbound: [{ protocol: "TCP", port: 22 }],
};
const hex = (spec: Parameters<typeof buildPacket>[0]) => buildPacket(spec).toString("hex");

describe("calico-xdp verdict: bad input gives one clear line and exit code 2", () => {
  it.each([
    [
      "a missing policy file",
      ["verdict", "--policy", "/nonexistent.json", "--packet", hex({})],
      /^calico-xdp verdict: cannot read policy file \/nonexistent.json/,
    ],
    [
      "a file that is not JSON",
      ["verdict", "--policy", policyFile("{oops"), "--packet", hex({})],
      /is not JSON/,
    ],
    [
      "an invalid rule",
      ["verdict", "--policy", policyFile({ ingress: [{ action: "deny" }] }), "--packet", hex({})],
      /ingress\[0\]\.action "deny" is not an action: did you mean "Deny"\?/,
    ],
    [
      "odd-length hex",
      ["verdict", "--policy", policyFile(redisPolicy), "--packet", "abc"],
      /--packet #1 is not an even-length hex string/,
    ],
    [
      "non-hex characters",
      ["verdict", "--policy", policyFile(redisPolicy), "--packet", hex({}), "--packet", "zz"],
      /--packet #2 is not an even-length hex string/,
    ],
    [
      "no packets",
      ["verdict", "--policy", policyFile(redisPolicy)],
      /verdict needs at least one --packet HEX/,
    ],
    ["an unknown command", ["frobnicate"], /^usage:/],
  ])("GIVEN %s THEN exit 2", async (_name, args, message) => {
    const result = await cli(args as string[]);
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toMatch(message);
    expect(result.stdout).toBe("");
  });
});

const skip = kernelSkip(["clang", "bpftool", "runuser"]);

describe.skipIf(skip)("calico-xdp with root", () => {
  it("GIVEN a non-root user WHEN verdict runs THEN it says root is needed and exits 2", async () => {
    const result = await cli(["verdict", "--policy", policyFile(redisPolicy), "--packet", hex({})], "nobody");
    expect(result).toMatchObject({
      code: 2,
      stderr: "calico-xdp verdict: verdict loads a BPF program and needs root\n",
    });
  });

  it("GIVEN packets WHEN verdict runs THEN it prints one JSON line per packet", async () => {
    const result = await cli([
      "verdict",
      "--policy",
      policyFile(redisPolicy),
      "--packet",
      hex({ source: "198.18.1.4", destinationPort: 6379 }),
      "--packet",
      hex({ source: "198.18.2.4", destinationPort: 6379 }),
      "--packet",
      hex({ destinationPort: 22 }),
      "--packet",
      hex({ etherType: 0x0806 }),
    ]);
    expect(result.stderr).toBe("");
    expect(
      result.stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l)),
    ).toEqual([
      { verdict: "XDP_PASS", reason: "allow", rule: 0 },
      { verdict: "XDP_DROP", reason: "deny", rule: 1 },
      { verdict: "XDP_PASS", reason: "failsafe", rule: null },
      { verdict: "XDP_PASS", reason: "non-ip", rule: null },
    ]);
  });

  it("GIVEN a frame shorter than Ethernet among others WHEN verdict runs THEN that one gets an error line and the others their verdicts", async () => {
    const result = await cli([
      "verdict",
      "--policy",
      policyFile(redisPolicy),
      "--packet",
      hex({ source: "198.18.2.4", destinationPort: 6379 }),
      "--packet",
      "0011",
      "--packet",
      hex({ source: "198.18.1.4", destinationPort: 6379 }),
    ]);
    expect(result.code).toBe(1);
    expect(
      result.stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l)),
    ).toEqual([
      { verdict: "XDP_DROP", reason: "deny", rule: 1 },
      { packet: 2, error: "is 2 bytes: BPF_PROG_RUN needs at least a 14-byte Ethernet header" },
      { verdict: "XDP_PASS", reason: "allow", rule: 0 },
    ]);
  });

  it("GIVEN a policy file with network sets, host endpoints and a closed scope WHEN verdict runs THEN selectors decide", async () => {
    const policy = {
      ingress: [{ action: "Deny", source: { selector: "dos-deny-list == 'true'" } }, { action: "Allow" }],
      networkSets: [{ name: "deny", labels: { "dos-deny-list": "true" }, nets: ["198.18.100.0/24"] }],
      hostEndpoints: [{ name: "edge-1-eth0", labels: { edge: "true" }, expectedIPs: ["198.18.0.2"] }],
      selectorScope: "closed",
      failsafeOutbound: [{ protocol: "UDP", port: 53 }],
    };
    const result = await cli([
      "verdict",
      "--policy",
      policyFile(policy),
      "--packet",
      hex({ source: "198.18.100.9", destinationPort: 80 }),
      "--packet",
      hex({ source: "198.18.9.9", destinationPort: 80 }),
      "--packet",
      hex({ protocol: 17, source: "198.18.100.9", sourcePort: 53, destinationPort: 40000 }),
    ]);
    expect(
      result.stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l)),
    ).toEqual([
      { verdict: "XDP_DROP", reason: "deny", rule: 0 },
      { verdict: "XDP_PASS", reason: "allow", rule: 1 },
      { verdict: "XDP_PASS", reason: "failsafe", rule: null },
    ]);
  });

  it("GIVEN build WHEN run THEN it prints the shipped filter's path and sha256, and builds a given source with clang", async () => {
    const shipped = await cli(["build"]);
    expect(shipped.code).toBe(0);
    const { sha256 } = JSON.parse(readFileSync(join(REPO_ROOT, "dist", "bpf", "prebuilt.json"), "utf8"))[
      "xdp_policy.o"
    ];
    expect(shipped.stdout).toBe(`path ${join(REPO_ROOT, "dist", "bpf", "xdp_policy.o")}\nsha256 ${sha256}\n`);
    const custom = await cli(["build", "--source", join(REPO_ROOT, "bench", "programs", "empty.c")]);
    expect(custom.code).toBe(0);
    expect(custom.stdout).toMatch(/^path \/.+\/calico-xdp\/objects\/[0-9a-f]{64}\.o\nsha256 [0-9a-f]{64}\n$/);
  });
});
