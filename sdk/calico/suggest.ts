/**
 * The candidate closest to `value`, if any: a case-insensitive match, then a candidate the value is a
 * prefix of (`interface` -> `interfaceName`), then one within edit distance 2.
 */
export function closest(value: string, candidates: readonly string[]): string | undefined {
  const lower = value.toLowerCase();
  const sameCase = candidates.find((c) => c.toLowerCase() === lower);
  if (sameCase !== undefined) return sameCase;
  const extended = candidates.find((c) => lower.length >= 3 && c.toLowerCase().startsWith(lower));
  if (extended !== undefined) return extended;
  let best: { candidate: string; distance: number } | undefined;
  for (const candidate of candidates) {
    const distance = editDistance(lower, candidate.toLowerCase());
    if (distance <= 2 && (best === undefined || distance < best.distance)) best = { candidate, distance };
  }
  return best?.candidate;
}

/** `: did you mean "X"?` when a close candidate exists, else the list of valid values. */
export function didYouMean(value: string, candidates: readonly string[]): string {
  const hit = closest(value, candidates);
  if (hit !== undefined) return `: did you mean ${JSON.stringify(hit)}?`;
  return `: expected one of ${candidates.map((c) => JSON.stringify(c)).join(", ")}`;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min(previous[j]! + 1, current[j - 1]! + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length]!;
}
