import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { containsAddress, formatIp, normalizeCidr, parseCidr, parseIp } from "../../sdk/calico/cidr";
import { netSchema } from "../../sdk/calico/rule";

const v4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((parts) => parts.join("."));
const v6 = fc
  .array(fc.nat(0xffff), { minLength: 8, maxLength: 8 })
  .map((groups) => groups.map((g) => g.toString(16)).join(":"));

describe("CIDR normalisation", () => {
  it("PROPERTY the normal form is masked, idempotent, accepted by the policy schema and contains the address", () => {
    const cidr = fc.oneof(
      fc.tuple(v4, fc.nat(32)).map(([a, l]) => ({ text: `${a}/${l}`, address: a })),
      fc.tuple(v6, fc.nat(128)).map(([a, l]) => ({ text: `${a}/${l}`, address: a })),
    );
    fc.assert(
      fc.property(cidr, ({ text, address }) => {
        const normal = normalizeCidr(text)!;
        expect(normalizeCidr(normal)).toBe(normal);
        const parsed = parseCidr(normal);
        expect(parsed.ok && parsed.masked).toBe(true);
        expect(netSchema.parse(normal)).toBe(normal);
        const ip = parseIp(address)!;
        expect(parsed.ok && containsAddress(parsed.network, ip.version, ip.address)).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });

  it("PROPERTY IPv6 formatting round-trips through Node's parser", () => {
    fc.assert(
      fc.property(v6, (text) => {
        const ip = parseIp(text)!;
        expect(parseIp(formatIp(6, ip.address))!.address).toBe(ip.address);
      }),
    );
  });

  it.each([
    ["10.1.2.3/8", "10.0.0.0/8"],
    ["2001:DB8::1/32", "2001:db8::/32"],
    ["::ffff:10.0.0.1/128", "::ffff:a00:1/128"],
    ["fe80:0:0:0:1:0:0:0/64", "fe80::/64"],
    ["1:0:0:2:0:0:0:3/128", "1:0:0:2::3/128"],
    ["0.0.0.0/0", "0.0.0.0/0"],
  ])("GIVEN %s WHEN normalised THEN %s", (input, expected) => {
    expect(normalizeCidr(input)).toBe(expected);
  });

  it.each(["10.0.0.0", "10.0.0.0/", "10.0.0.0/x", "10.0.0/8", "fe80::1%eth0/64", "::/129"])(
    "GIVEN %s WHEN parsed THEN it is not a CIDR",
    (input) => {
      expect(parseCidr(input).ok).toBe(false);
    },
  );
});

describe("the address parser reads what Node's net.isIP accepts, and nothing else", () => {
  const { isIP } = require("node:net") as typeof import("node:net");
  const text = fc.oneof(
    v4,
    v6,
    // Compressed IPv6 and dotted tails.
    fc
      .tuple(fc.array(fc.nat(0xffff), { maxLength: 7 }), fc.nat(7), fc.option(v4, { nil: undefined }))
      .map(([groups, at, tail]) => {
        const hex = groups.map((g) => g.toString(16));
        const cut = Math.min(at, hex.length);
        return `${hex.slice(0, cut).join(":")}::${hex.slice(cut).join(":")}${tail ? `${hex.length > cut ? ":" : ""}${tail}` : ""}`;
      }),
    // Near misses: characters from both grammars, in any order.
    fc.stringMatching(/^[0-9a-fA-F:.]{0,45}$/),
    fc.constantFrom(
      "01.2.3.4",
      "1.2.3",
      "1.2.3.4.5",
      "256.1.1.1",
      "::1%eth0",
      ":::",
      "1::2::3",
      "1:2:3:4:5:6:7:8:9",
      "::ffff:1.2.3.4",
      "1:2:3:4:5:6:1.2.3.4",
      "",
      " 1.2.3.4",
    ),
  );
  it("PROPERTY same verdict as isIP, and the address formats back to what isIP normalises to", () => {
    fc.assert(
      fc.property(text, (candidate) => {
        const version = isIP(candidate);
        const parsed = parseIp(candidate);
        expect(parsed?.version ?? 0, candidate).toBe(version === 6 && candidate.includes("%") ? 0 : version);
        if (parsed) {
          const back = formatIp(parsed.version, parsed.address);
          expect(parseIp(back)).toEqual(parsed);
        }
      }),
      { numRuns: 20_000 },
    );
  });
});
