/**
 * Calico's label selector grammar (libcalico-go/lib/selector): parse, print, evaluate and build.
 * Printing is canonical (single quotes where possible, minimal parentheses, n-ary `&&`/`||`), so
 * `print(parse(s))` is a fixed point and a selector built in code always parses back to itself.
 */

export type SelectorNode =
  | { readonly kind: "all" }
  | { readonly kind: "global" }
  | { readonly kind: "has"; readonly label: string }
  | {
      readonly kind: "eq" | "ne" | "contains" | "startsWith" | "endsWith";
      readonly label: string;
      readonly value: string;
    }
  | { readonly kind: "in" | "notIn"; readonly label: string; readonly values: readonly string[] }
  | { readonly kind: "not"; readonly operand: SelectorNode }
  | { readonly kind: "and" | "or"; readonly operands: readonly SelectorNode[] };

export class SelectorSyntaxError extends Error {
  constructor(
    readonly reason: string,
    readonly position: number,
  ) {
    super(`${reason} at position ${position}`);
  }
}

const LABEL = /^[a-zA-Z0-9_./-]+/;
const MAX_LABEL_LENGTH = 512;

type Token =
  | { t: "label"; v: string; at: number }
  | { t: "string"; v: string; at: number }
  | { t: "op"; v: string; at: number }
  | { t: "end"; at: number };

const WORD_OPERATORS = ["not in", "starts with", "ends with", "contains", "in"] as const;

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const rest = text.slice(i);
    const space = /^\s+/.exec(rest);
    if (space) {
      i += space[0].length;
      continue;
    }
    const symbol = /^(==|!=|&&|\|\||!|\(|\)|\{|\}|,)/.exec(rest);
    if (symbol) {
      tokens.push({ t: "op", v: symbol[0], at: i });
      i += symbol[0].length;
      continue;
    }
    const quote = rest[0];
    if (quote === "'" || quote === '"') {
      const close = rest.indexOf(quote, 1);
      if (close < 0) throw new SelectorSyntaxError("unterminated string", i);
      tokens.push({ t: "string", v: rest.slice(1, close), at: i });
      i += close + 1;
      continue;
    }
    const word = WORD_OPERATORS.find((w) =>
      new RegExp(`^${w.replace(" ", "\\s+")}(?![a-zA-Z0-9_./-])`).test(rest),
    );
    const previous = tokens[tokens.length - 1];
    if (word && previous?.t === "label") {
      const matched = new RegExp(`^${word.replace(" ", "\\s+")}`).exec(rest)![0];
      tokens.push({ t: "op", v: word, at: i });
      i += matched.length;
      continue;
    }
    const fn = /^(all|global|has)\s*\(/.exec(rest);
    if (fn) {
      tokens.push({ t: "op", v: `${fn[1]}(`, at: i });
      i += fn[0].length;
      continue;
    }
    const label = LABEL.exec(rest);
    if (label) {
      if (label[0].length > MAX_LABEL_LENGTH) throw new SelectorSyntaxError("label name too long", i);
      tokens.push({ t: "label", v: label[0], at: i });
      i += label[0].length;
      continue;
    }
    throw new SelectorSyntaxError(`unexpected character ${JSON.stringify(rest[0])}`, i);
  }
  tokens.push({ t: "end", at: text.length });
  return tokens;
}

/** Parses a Calico selector; the empty selector is `all()`. Throws SelectorSyntaxError. */
export function parseSelector(text: string): SelectorNode {
  const tokens = tokenize(text);
  let position = 0;
  const peek = (): Token => tokens[position]!;
  const next = (): Token => tokens[position++]!;
  const isOp = (v: string): boolean => {
    const token = peek();
    return token.t === "op" && token.v === v;
  };
  const expect = (v: string): void => {
    const token = next();
    if (token.t !== "op" || token.v !== v) throw new SelectorSyntaxError(`expected "${v}"`, token.at);
  };
  const expectLabel = (): string => {
    const token = next();
    if (token.t !== "label") throw new SelectorSyntaxError("expected a label name", token.at);
    return token.v;
  };
  const expectString = (): string => {
    const token = next();
    if (token.t !== "string") throw new SelectorSyntaxError("expected a quoted string", token.at);
    return token.v;
  };

  const parseOr = (): SelectorNode => {
    const operands = [parseAnd()];
    while (isOp("||")) {
      next();
      operands.push(parseAnd());
    }
    return operands.length === 1 ? operands[0]! : { kind: "or", operands };
  };
  const parseAnd = (): SelectorNode => {
    const operands = [parseUnary()];
    while (isOp("&&")) {
      next();
      operands.push(parseUnary());
    }
    return operands.length === 1 ? operands[0]! : { kind: "and", operands };
  };
  const parseUnary = (): SelectorNode => {
    if (isOp("!")) {
      next();
      return { kind: "not", operand: parseUnary() };
    }
    if (isOp("(")) {
      next();
      const inner = parseOr();
      expect(")");
      return inner;
    }
    if (isOp("all(") || isOp("global(")) {
      const kind = (next() as { v: string }).v === "all(" ? "all" : "global";
      expect(")");
      return { kind };
    }
    if (isOp("has(")) {
      next();
      const label = expectLabel();
      expect(")");
      return { kind: "has", label };
    }
    const label = expectLabel();
    const operator = next();
    if (operator.t !== "op")
      throw new SelectorSyntaxError("expected an operator after the label", operator.at);
    switch (operator.v) {
      case "==":
        return { kind: "eq", label, value: expectString() };
      case "!=":
        return { kind: "ne", label, value: expectString() };
      case "contains":
        return { kind: "contains", label, value: expectString() };
      case "starts with":
        return { kind: "startsWith", label, value: expectString() };
      case "ends with":
        return { kind: "endsWith", label, value: expectString() };
      case "in":
      case "not in": {
        expect("{");
        const values: string[] = [];
        if (!isOp("}")) {
          values.push(expectString());
          while (isOp(",")) {
            next();
            values.push(expectString());
          }
        }
        expect("}");
        return { kind: operator.v === "in" ? "in" : "notIn", label, values };
      }
      default:
        throw new SelectorSyntaxError(`unexpected "${operator.v}"`, operator.at);
    }
  };

  if (peek().t === "end") return { kind: "all" };
  const node = parseOr();
  const trailing = peek();
  if (trailing.t !== "end") throw new SelectorSyntaxError("unexpected trailing input", trailing.at);
  return node;
}

function quote(value: string): string {
  if (!value.includes("'")) return `'${value}'`;
  if (!value.includes('"')) return `"${value}"`;
  throw new Error(`selector value ${JSON.stringify(value)} contains both quote characters`);
}

const PRECEDENCE = { or: 1, and: 2 } as const;

/** Canonical text of a selector. */
export function printSelector(node: SelectorNode): string {
  const print = (n: SelectorNode, parent: number): string => {
    switch (n.kind) {
      case "all":
        return "all()";
      case "global":
        return "global()";
      case "has":
        return `has(${n.label})`;
      case "eq":
        return `${n.label} == ${quote(n.value)}`;
      case "ne":
        return `${n.label} != ${quote(n.value)}`;
      case "contains":
        return `${n.label} contains ${quote(n.value)}`;
      case "startsWith":
        return `${n.label} starts with ${quote(n.value)}`;
      case "endsWith":
        return `${n.label} ends with ${quote(n.value)}`;
      case "in":
      case "notIn":
        return `${n.label} ${n.kind === "in" ? "in" : "not in"} {${n.values.map(quote).join(", ")}}`;
      case "not":
        return `!${print(n.operand, 3)}`;
      case "and":
      case "or": {
        const own = PRECEDENCE[n.kind];
        const text = n.operands
          .map((o) => print(o, own + (o.kind === n.kind ? 1 : 0)))
          .join(` ${n.kind === "and" ? "&&" : "||"} `);
        return own < parent ? `(${text})` : text;
      }
    }
  };
  return print(node, 0);
}

/** Evaluates a selector against a label set, with Calico's semantics (`!=` and `not in` hold when absent). */
export function matchesSelector(node: SelectorNode, labels: Readonly<Record<string, string>>): boolean {
  const value = "label" in node ? labels[node.label] : undefined;
  switch (node.kind) {
    case "all":
    case "global":
      return true;
    case "has":
      return value !== undefined;
    case "eq":
      return value === node.value;
    case "ne":
      return value !== node.value;
    case "contains":
      return value?.includes(node.value) ?? false;
    case "startsWith":
      return value?.startsWith(node.value) ?? false;
    case "endsWith":
      return value?.endsWith(node.value) ?? false;
    case "in":
      return value !== undefined && node.values.includes(value);
    case "notIn":
      return value === undefined || !node.values.includes(value);
    case "not":
      return !matchesSelector(node.operand, labels);
    case "and":
      return node.operands.every((o) => matchesSelector(o, labels));
    case "or":
      return node.operands.some((o) => matchesSelector(o, labels));
  }
}

/** Whether `global()` appears anywhere in the selector. */
export function usesGlobal(node: SelectorNode): boolean {
  if (node.kind === "global") return true;
  if (node.kind === "not") return usesGlobal(node.operand);
  if (node.kind === "and" || node.kind === "or") return node.operands.some(usesGlobal);
  return false;
}

type SelectorLike = string | SelectorNode;
const toNode = (s: SelectorLike): SelectorNode => (typeof s === "string" ? parseSelector(s) : s);

/**
 * Builds selector strings without hand-writing the grammar:
 * `selector.and(selector.eq("role", "redis"), selector.has("hep"))` -> `role == 'redis' && has(hep)`.
 */
export const selector = {
  all: (): string => "all()",
  has: (label: string): string => printSelector({ kind: "has", label }),
  eq: (label: string, value: string): string => printSelector({ kind: "eq", label, value }),
  ne: (label: string, value: string): string => printSelector({ kind: "ne", label, value }),
  in: (label: string, values: readonly string[]): string => printSelector({ kind: "in", label, values }),
  notIn: (label: string, values: readonly string[]): string =>
    printSelector({ kind: "notIn", label, values }),
  not: (operand: SelectorLike): string => printSelector({ kind: "not", operand: toNode(operand) }),
  and: (...operands: SelectorLike[]): string => combine("and", operands),
  or: (...operands: SelectorLike[]): string => combine("or", operands),
  /** `k1 == 'v1' && k2 == 'v2'` over the labels in key order: matches every object carrying them. */
  matchLabels: (labels: Readonly<Record<string, string>>): string =>
    combine(
      "and",
      Object.keys(labels)
        .sort()
        .map((k) => ({ kind: "eq", label: k, value: labels[k]! }) as const),
    ),
};

function combine(kind: "and" | "or", operands: readonly SelectorLike[]): string {
  const nodes = operands.map(toNode).flatMap((n) => (n.kind === kind ? n.operands : [n]));
  if (nodes.length === 0) return "all()";
  return printSelector(nodes.length === 1 ? nodes[0]! : { kind, operands: nodes });
}
