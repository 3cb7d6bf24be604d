/**
 * "Did you mean …": the nearest known name to a misspelt one, for refusals of unknown keys (Factory
 * specs, experiment params).
 */

/** Edit distance: insertions, deletions and substitutions, one each. */
export function levenshtein(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) for (let j = 1; j <= b.length; j++) d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
  return d[a.length][b.length];
}

/** The option within edit distance 3 of `name`, nearest first, if any. */
export function closest(name: string, options: readonly string[]): string | null {
  const best = options.map((o) => [o, levenshtein(name, o)] as const).sort((p, q) => p[1] - q[1])[0];
  return best && best[1] <= 3 ? best[0] : null;
}

/** ` (did you mean "x"?)` after a refusal's message, or nothing when no option is near. */
export function suggestion(name: string, options: readonly string[]): string {
  const best = closest(name, options);
  return best ? ` (did you mean "${best}"?)` : "";
}
