/**
 * Calico's label selector grammar (libcalico-go/lib/selector): parse, print, evaluate and build.
 * The tokenizer, parser and printer mirror Calico's, so printing gives Calico's canonical form (double
 * quotes where possible, every `&&`/`||` group parenthesized, sets sorted and de-duplicated),
 * `print(parse(s))` is a fixed point, and a selector built in code always parses back to itself.
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

type Token =
  | { t: "label"; v: string; at: number }
  | { t: "string"; v: string; at: number }
  | { t: "op"; v: string; at: number }
  | { t: "end"; at: number };

/** Calico v3.32.1's LabelKeyMatcher: a longer label is read as two, which is a syntax error. */
const LABEL = /^[a-zA-Z0-9_./-]{1,512}/;
/** Calico's tokenizer skips spaces and tabs only: a line break is an unexpected character. */
const BLANK = /^[ \t]*/;
/** After a label, an operator by its prefix, as Calico reads it (`startswith` and `starts with` alike). */
const LABEL_OPERATORS: readonly [RegExp, string][] = [
  [/^contains/, "contains"],
  [/^starts[ \t]*with/, "starts with"],
  [/^ends[ \t]*with/, "ends with"],
  [/^not[ \t]*in/, "not in"],
  [/^in/, "in"],
];

/** Calico's selector tokenizer (libcalico-go/lib/selector/tokenizer), token for token. */
function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  for (;;) {
    i += BLANK.exec(text.slice(i))![0].length;
    if (i >= text.length) break;
    const rest = text.slice(i);
    const at = i;
    const symbol = /^(==|!=|&&|\|\||!|\(|\)|\{|\}|,)/.exec(rest);
    if (symbol) {
      tokens.push({ t: "op", v: symbol[0], at });
      i += symbol[0].length;
      continue;
    }
    if (rest[0] === "'" || rest[0] === '"') {
      const close = rest.indexOf(rest[0], 1);
      if (close < 0) throw new SelectorSyntaxError("unterminated string", at);
      tokens.push({ t: "string", v: rest.slice(1, close), at });
      i += close + 1;
      continue;
    }
    if (rest[0] === "=" || rest[0] === "&" || rest[0] === "|")
      throw new SelectorSyntaxError(`expected ${rest[0]}${rest[0]}`, at);
    if (tokens[tokens.length - 1]?.t === "label") {
      const operator = LABEL_OPERATORS.map(([re, op]) => [re.exec(rest), op] as const).find(([m]) => m);
      if (!operator) throw new SelectorSyntaxError("expected an operator after the label", at);
      tokens.push({ t: "op", v: operator[1], at });
      i += operator[0]![0].length;
      continue;
    }
    const call = /^(has|all|global)\([ \t]*/.exec(rest);
    if (call) {
      i += call[0].length;
      if (call[1] === "has") {
        const label = LABEL.exec(text.slice(i));
        if (!label) throw new SelectorSyntaxError("no label name in has(", i);
        i += label[0].length;
        i += BLANK.exec(text.slice(i))![0].length;
        tokens.push({ t: "op", v: "has(", at }, { t: "label", v: label[0], at: at + 4 });
      } else {
        tokens.push({ t: "op", v: `${call[1]}(`, at });
      }
      if (text[i] !== ")") throw new SelectorSyntaxError(`no closing ')' after ${call[1]}(`, i);
      tokens.push({ t: "op", v: ")", at: i });
      i += 1;
      continue;
    }
    const label = LABEL.exec(rest);
    if (!label) throw new SelectorSyntaxError(`unexpected character ${JSON.stringify(rest[0])}`, at);
    tokens.push({ t: "label", v: label[0], at });
    i += label[0].length;
  }
  tokens.push({ t: "end", at: text.length });
  return tokens;
}

/** Byte order of UTF-8, as Go sorts strings. */
const byBytes = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

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
    // Calico collapses a run of "!" into one negation or none.
    let negated = false;
    while (isOp("!")) {
      next();
      negated = !negated;
    }
    if (negated) return { kind: "not", operand: parseUnary() };
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
        // As Calico's parser: strings each followed by a comma but the last, which may have one too.
        const values: string[] = [];
        while (peek().t === "string") {
          values.push(expectString());
          if (!isOp(",")) break;
          next();
        }
        expect("}");
        return {
          kind: operator.v === "in" ? "in" : "notIn",
          label,
          values: [...new Set(values)].sort(byBytes),
        };
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

/** Calico's quoting: double quotes, or single ones around a value that holds a double quote. */
function quote(value: string): string {
  if (!value.includes('"')) return `"${value}"`;
  if (!value.includes("'")) return `'${value}'`;
  throw new Error(`selector value ${JSON.stringify(value)} contains both quote characters`);
}

/** Calico's canonical text of a selector (its String()): every `&&` and `||` in parentheses. */
export function printSelector(node: SelectorNode): string {
  const print = (n: SelectorNode): string => {
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
        return `${n.label} ${n.kind === "in" ? "in" : "not in"} {${[...new Set(n.values)].sort(byBytes).map(quote).join(", ")}}`;
      case "not":
        // Calico's parser folds "!!" away, so its printed forms never hold one.
        return n.operand.kind === "not" ? print(n.operand.operand) : `!${print(n.operand)}`;
      case "and":
      case "or":
        return `(${n.operands.map(print).join(` ${n.kind === "and" ? "&&" : "||"} `)})`;
    }
  };
  return print(node);
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

type SelectorLike = string | SelectorNode;
const toNode = (s: SelectorLike): SelectorNode => (typeof s === "string" ? parseSelector(s) : s);

/**
 * Builds selector strings without hand-writing the grammar:
 * `selector.and(selector.eq("role", "redis"), selector.has("hep"))` -> `(role == "redis" && has(hep))`.
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
