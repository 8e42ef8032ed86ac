import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  addrMatch,
  BY_SOURCE_NO_MATCH,
  CONFIG_SHADOW,
  FAILSAFE_BIT_WORDS,
  FAILSAFE_HINT_MULTIPLIER,
  failsafeHintBit,
  GEN_PREFIX_BITS,
  GENERATIONS,
  MAX_ADDR_ENTRIES,
  MAX_CIDRS,
  MAX_FAILSAFE,
  MAX_RULES,
  policyConfig,
  REASONS,
  SHARED_STRUCTS,
} from "../../sdk/xdp/layout";
import { REPO_ROOT } from "../support/paths";
import { skipReason } from "../support/requireAll";

function gccAvailable(): string | undefined {
  try {
    execFileSync("gcc", ["--version"], { stdio: "ignore" });
    return undefined;
  } catch {
    return skipReason("gcc is missing, so the C layout cannot be measured");
  }
}

/** Sizes and offsets as the C compiler lays out bpf/xdp_policy_shared.h. */
function cLayout(): Record<string, { size: number; offsets: Record<string, number> }> & {
  constants: Record<string, number>;
  hintBits: number[];
} {
  const lines = SHARED_STRUCTS.map((s) => {
    const fields = s.fields
      .map(([f]) => `printf("\\"${f}\\":%zu,", offsetof(struct ${s.name}, ${f}));`)
      .join(" ");
    return `printf("\\"${s.name}\\":{\\"size\\":%zu,\\"offsets\\":{", sizeof(struct ${s.name})); ${fields} printf("\\"_\\":0}},");`;
  });
  const source = `#include <stdio.h>
#include <stddef.h>
#include "xdp_policy_shared.h"
int main(void) {
  printf("{");
  ${lines.join("\n  ")}
  printf("\\"constants\\":{\\"MAX_RULES\\":%d,\\"MAX_FAILSAFE\\":%d,\\"MAX_CIDRS\\":%d,\\"REASON_COUNT\\":%d,\\"GENERATIONS\\":%d,\\"GEN_PREFIX_BITS\\":%d,\\"CONFIG_SHADOW\\":%u,\\"REASON_SHADOW_DENY\\":%d,\\"FAILSAFE_BIT_WORDS\\":%d,\\"MAX_ADDR_ENTRIES\\":%d,\\"BY_SOURCE_NO_MATCH\\":%d,\\"FAILSAFE_HINT_MULTIPLIER\\":%u},", MAX_RULES, MAX_FAILSAFE, MAX_CIDRS, REASON_COUNT, GENERATIONS, GEN_PREFIX_BITS, CONFIG_SHADOW, REASON_SHADOW_DENY, FAILSAFE_BIT_WORDS, MAX_ADDR_ENTRIES, BY_SOURCE_NO_MATCH, FAILSAFE_HINT_MULTIPLIER);
  printf("\\"hintBits\\":[");
  for (unsigned port = 0; port < 65536; port++) printf("%s%u", port ? "," : "", failsafe_hint_bit(port));
  printf("]}");
  return 0;
}`;
  const dir = mkdtempSync(join(tmpdir(), "calico-xdp-layout-"));
  try {
    writeFileSync(join(dir, "layout.c"), source);
    execFileSync("gcc", ["-I", join(REPO_ROOT, "bpf"), "-o", join(dir, "layout"), join(dir, "layout.c")]);
    return JSON.parse(execFileSync(join(dir, "layout"), { encoding: "utf8" }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe.skipIf(gccAvailable())("the TS codecs and the C structs agree", () => {
  const layout = cLayout();

  it.each(SHARED_STRUCTS.map((s) => [s.name, s] as const))(
    "GIVEN struct %s THEN sizes and offsets match",
    (name, codec) => {
      const { _: _sentinel, ...offsets } = layout[name]!.offsets;
      expect({ size: codec.size, offsets: codec.offsets }).toEqual({ size: layout[name]!.size, offsets });
    },
  );

  it("GIVEN the shared constants THEN both sides use the same limits", () => {
    expect(layout.constants).toEqual({
      MAX_RULES,
      MAX_FAILSAFE,
      MAX_CIDRS,
      REASON_COUNT: REASONS.length,
      GENERATIONS,
      GEN_PREFIX_BITS,
      CONFIG_SHADOW,
      REASON_SHADOW_DENY: REASONS.indexOf("shadow-deny"),
      FAILSAFE_BIT_WORDS,
      MAX_ADDR_ENTRIES,
      BY_SOURCE_NO_MATCH,
      FAILSAFE_HINT_MULTIPLIER,
    });
  });

  it("GIVEN every port THEN both sides give it the same failsafe hint bit", () => {
    const ports = Array.from({ length: 65536 }, (_, port) => port);
    expect(layout.hintBits).toEqual(ports.map(failsafeHintBit));
    // The hint spreads ports over all 64 bits, or it would let through more packets than it saves.
    expect(new Set(layout.hintBits).size).toBe(64);
  });

  it("GIVEN values WHEN encoded and decoded THEN they round-trip", () => {
    const config = {
      ...policyConfig.zero(),
      rules: (1n << 64n) - 1n,
      deny: 1n << 63n,
      failsafe_tcp: (1n << 64n) - 1n,
      sel_open: 1n << 5n,
      rule_count: 64,
    };
    expect(policyConfig.decode(policyConfig.encode(config))).toEqual(config);
    const match = {
      nets: 5n,
      not_nets: 1n << 40n,
      sel: 2n,
      not_sel: 1n << 63n,
      failsafe: 3n << 32n,
      by_source: BY_SOURCE_NO_MATCH,
    };
    expect(addrMatch.decode(addrMatch.encode(match))).toEqual(match);
    expect(addrMatch.encode(match).subarray(0, 8).toString("hex")).toBe("0500000000000000");
  });
});
