import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  matchesSelector,
  parseSelector,
  printSelector,
  type SelectorNode,
  SelectorSyntaxError,
  selector,
} from "../../sdk/calico/selector";

const label = fc
  .stringMatching(/^[a-z][a-z0-9_./-]{0,10}$/)
  .filter((l) => !["in", "not", "contains", "starts", "ends"].includes(l));
const value = fc.stringMatching(/^[a-zA-Z0-9 _.'-]{0,8}$/);

const leaf: fc.Arbitrary<SelectorNode> = fc.oneof(
  fc.constant({ kind: "all" } as const),
  label.map((l) => ({ kind: "has", label: l }) as const),
  fc
    .tuple(fc.constantFrom("eq", "ne", "contains", "startsWith", "endsWith" as const), label, value)
    .map(([kind, l, v]) => ({ kind, label: l, value: v }) as SelectorNode),
  fc
    .tuple(fc.constantFrom("in", "notIn" as const), label, fc.array(value, { maxLength: 3 }))
    .map(([kind, l, values]) => ({ kind, label: l, values }) as SelectorNode),
);

const tree: fc.Arbitrary<SelectorNode> = fc.letrec<{ node: SelectorNode }>((tie) => ({
  node: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    leaf,
    tie("node").map((operand) => ({ kind: "not", operand }) as const),
    fc
      .tuple(fc.constantFrom("and", "or" as const), fc.array(tie("node"), { minLength: 2, maxLength: 3 }))
      .map(([kind, operands]) => ({ kind, operands }) as SelectorNode),
  ),
})).node;

describe("selector grammar", () => {
  it("PROPERTY print then parse gives back the same selector", () => {
    fc.assert(
      fc.property(tree, (node) => {
        const text = printSelector(node);
        expect(printSelector(parseSelector(text))).toBe(text);
      }),
      { numRuns: 500 },
    );
  });

  it("PROPERTY parsing the printed form evaluates like the original on any labels", () => {
    const labels = fc.dictionary(label, value, { maxKeys: 4 });
    fc.assert(
      fc.property(tree, labels, (node, l) => {
        expect(matchesSelector(parseSelector(printSelector(node)), l)).toBe(matchesSelector(node, l));
      }),
      { numRuns: 500 },
    );
  });

  it.each([
    ["", "all()"],
    ["  role=='db'  ", 'role == "db"'],
    ['a == "it\'s"', `a == "it's"`],
    [`a == '"'`, `a == '"'`],
    ["a in {'y','x','y',} && !has(b)", '(a in {"x", "y"} && !has(b))'],
    ["a notin {} || b startswith 'p'", '(a not in {} || b starts with "p")'],
    ["(a == 'x' || b == 'y') && c ends with 'z'", '((a == "x" || b == "y") && c ends with "z")'],
    ["!(a contains 'x')", '!a contains "x"'],
    ["!!a == 'x'", 'a == "x"'],
    ["has( a )\t&& all( )", "(has(a) && all())"],
    ["projectcalico.org/name == 'n'", 'projectcalico.org/name == "n"'],
  ])("GIVEN %j WHEN printed THEN it reads %j", (input, expected) => {
    expect(printSelector(parseSelector(input))).toBe(expected);
  });

  it.each([
    ["a == 'x' &&", /expected a label name/],
    ["a ==", /expected a quoted string/],
    ["a == 'x' b", /unexpected trailing input/],
    ["~ == 'x'", /unexpected character "~"/],
    ["a ~ 'x'", /expected an operator after the label/],
    ["has()", /no label name in has\(/],
    ["has (a)", /unexpected "\("/],
    ["a == 'x'\n&& b == 'y'", /unexpected character "\\n"/],
    [`${"a".repeat(513)} == 'x'`, /expected an operator after the label/],
  ])("GIVEN %j WHEN parsed THEN it fails with %s", (input, message) => {
    expect(() => parseSelector(input)).toThrow(SelectorSyntaxError);
    expect(() => parseSelector(input)).toThrow(message);
  });

  it("GIVEN labels WHEN evaluated THEN != and not in hold for absent labels, as in Calico", () => {
    expect(matchesSelector(parseSelector("a != 'x'"), {})).toBe(true);
    expect(matchesSelector(parseSelector("a not in {'x'}"), {})).toBe(true);
    expect(matchesSelector(parseSelector("a in {'x'}"), {})).toBe(false);
    expect(matchesSelector(parseSelector("a contains 'x'"), { a: "yxz" })).toBe(true);
  });

  it("GIVEN the builder WHEN combining THEN it prints canonical selectors", () => {
    expect(selector.and(selector.eq("role", "redis"), selector.has("hep"))).toBe(
      '(role == "redis" && has(hep))',
    );
    expect(selector.or("a == 'x'", selector.or("b == 'y'", "c == 'z'"))).toBe(
      '(a == "x" || b == "y" || c == "z")',
    );
    expect(selector.and(selector.or("a == 'x'", "b == 'y'"), "c == 'z'")).toBe(
      '((a == "x" || b == "y") && c == "z")',
    );
    expect(selector.not(selector.in("env", ["test", "dev", "test"]))).toBe('!env in {"dev", "test"}');
    expect(selector.matchLabels({ z: "1", a: "2" })).toBe('(a == "2" && z == "1")');
    expect(selector.and()).toBe("all()");
  });
});
