import { execFileSync } from "node:child_process";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { shellQuote } from "../../provider/xdp/shellQuote";

/** What a POSIX shell makes of the quoted command line: the arguments printf receives. */
const throughShell = (argv: string[]) =>
  execFileSync("sh", ["-c", shellQuote(["printf", "%s\\0", "first", ...argv])])
    .toString()
    .split("\0")
    .slice(1, -1);

const arg = fc
  .oneof(fc.string({ unit: "binary-ascii" }), fc.string({ unit: "grapheme" }))
  .filter((s) => !s.includes("\0"));

describe("shellQuote", () => {
  it("GIVEN any arguments without NUL WHEN a shell reads the quoted line THEN it gets exactly those arguments", () => {
    fc.assert(
      fc.property(fc.array(arg, { maxLength: 6 }), (argv) => {
        expect(throughShell(argv)).toEqual(argv);
      }),
      { numRuns: 200 },
    );
  });

  it("GIVEN plain words WHEN quoted THEN they stay readable; anything else is single-quoted", () => {
    expect(shellQuote(["bpftool", "net", "attach", "xdpdrv", "id", "42", "dev", "eth0"])).toBe(
      "bpftool net attach xdpdrv id 42 dev eth0",
    );
    expect(shellQuote(["echo", "a b", "it's", ""])).toBe("echo 'a b' 'it'\\''s' ''");
  });

  it("GIVEN a NUL byte or nothing WHEN quoted THEN it is refused", () => {
    expect(() => shellQuote(["echo", "a\0b"])).toThrow("NUL");
    expect(() => shellQuote([])).toThrow("no command");
  });
});
