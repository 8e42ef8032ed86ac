import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, release } from "node:os";
import { join } from "node:path";
import { packageRoot } from "../provider/bpf/build";

/** bench/ at the repository root, whether run from source or from dist/bench. */
export const ROOT = packageRoot();
const DOCS = join(ROOT, "docs");
const RESULTS = join(ROOT, "bench", "results");

export interface Machine {
  readonly kernel: string;
  readonly cpu: string;
  readonly cores: number;
  readonly date: string;
}

export function machine(): Machine {
  return {
    kernel: release(),
    cpu: cpus()[0]?.model ?? "unknown",
    cores: cpus().length,
    date: new Date().toISOString(),
  };
}

export interface Sample {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly runs: readonly number[];
}

export function summarize(runs: readonly number[]): Sample {
  const sorted = [...runs].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]!, runs };
}

/**
 * `items` with their indices, in the order of one round of turns: each round starts one further along,
 * so that nobody always runs after the same neighbour (what it left in the kernel, a cache it warmed).
 */
export function turnOrder<T>(items: readonly T[], round: number): [number, T][] {
  return items.map((_, k) => {
    const i = (k + round) % items.length;
    return [i, items[i]!];
  });
}

/** `median (min–max)`, each number written by `show`. */
export function formatSample(s: Sample, show: (n: number) => string = (n) => n.toFixed(0)): string {
  return `${show(s.median)} (${show(s.min)}–${show(s.max)})`;
}

/** A horizontal bar chart as SVG: one bar per row, the spread drawn as a whisker. */
export function barChart(
  title: string,
  unit: string,
  rows: readonly { label: string; sample: Sample }[],
): string {
  const width = 720;
  const labelWidth = 260;
  const rowHeight = 28;
  const height = 50 + rows.length * rowHeight;
  const max = Math.max(...rows.map((r) => r.sample.max)) * 1.1 || 1;
  const x = (v: number) => labelWidth + ((width - labelWidth - 80) * v) / max;
  const xmlEscape = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;");
  const bars = rows.map(({ label, sample }, i) => {
    const y = 40 + i * rowHeight;
    return [
      `<text x="${labelWidth - 8}" y="${y + 15}" text-anchor="end">${xmlEscape(label)}</text>`,
      `<rect x="${labelWidth}" y="${y + 4}" width="${(x(sample.median) - labelWidth).toFixed(1)}" height="16" fill="#4a7ab5"/>`,
      `<line x1="${x(sample.min).toFixed(1)}" x2="${x(sample.max).toFixed(1)}" y1="${y + 12}" y2="${y + 12}" stroke="#222"/>`,
      `<text x="${(x(sample.max) + 6).toFixed(1)}" y="${y + 16}">${sample.median.toPrecision(4)} ${xmlEscape(unit)}</text>`,
    ].join("");
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/><text x="10" y="22" font-size="14" font-weight="bold">${xmlEscape(title)}</text>
${bars.join("\n")}
</svg>
`;
}

/** Writes the machine-readable results and replaces this benchmark's section of docs/benchmarks.md. */
export function publish(name: string, results: unknown, markdown: string, chart: string): void {
  mkdirSync(RESULTS, { recursive: true });
  mkdirSync(join(DOCS, "img"), { recursive: true });
  writeFileSync(join(RESULTS, `${name}.json`), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(join(DOCS, "img", `${name}.svg`), chart);
  const file = join(DOCS, "benchmarks.md");
  const header =
    "# Benchmarks\n\nEach section is written by `npm run bench` (or one part of it); ratios are against a baseline measured in the same run.\n";
  const current = existsSync(file) ? readFileSync(file, "utf8") : header;
  const begin = `<!-- bench:${name} -->`;
  const end = `<!-- /bench:${name} -->`;
  const section = `${begin}\n${markdown.trim()}\n\n![${name}](img/${name}.svg)\n${end}`;
  const updated = current.includes(begin)
    ? current.replace(new RegExp(`${begin}[\\s\\S]*?${end}`), section)
    : `${current.trimEnd()}\n\n${section}\n`;
  writeFileSync(file, updated);
}

export function gitRevision(): string {
  try {
    return execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT, encoding: "utf8" }).trim();
  } catch {
    return "unknown";
  }
}
