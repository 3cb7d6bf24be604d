/** Correlations and ranking metrics used by the evaluation harness (no external dependency). */

export function mean(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  return s / a.length;
}

export function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  const ma = mean(a);
  const mb = mean(b);
  let sab = 0,
    saa = 0,
    sbb = 0;
  for (let i = 0; i < n; i++) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) ** 2;
    sbb += (b[i] - mb) ** 2;
  }
  return saa > 0 && sbb > 0 ? sab / Math.sqrt(saa * sbb) : 0;
}

/** Ranks with ties averaged (1-based), as scipy.stats.rankdata. */
export function ranks(a: ArrayLike<number>): Float64Array {
  const idx = Array.from({ length: a.length }, (_, i) => i).sort((i, j) => a[i] - a[j]);
  const r = new Float64Array(a.length);
  for (let s = 0; s < idx.length; ) {
    let e = s;
    while (e + 1 < idx.length && a[idx[e + 1]] === a[idx[s]]) e++;
    const avg = (s + e) / 2 + 1;
    for (let k = s; k <= e; k++) r[idx[k]] = avg;
    s = e + 1;
  }
  return r;
}

/** Spearman's rank correlation: Pearson of the (tie-averaged) ranks. */
export function spearman(a: ArrayLike<number>, b: ArrayLike<number>): number {
  return pearson(ranks(a), ranks(b));
}

/** ROC AUC of `scores` for binary `labels` (1 = positive): the Mann–Whitney U statistic, ties counted half. */
export function rocAuc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const r = ranks(scores);
  let pos = 0,
    sumPos = 0;
  for (let i = 0; i < labels.length; i++)
    if (labels[i]) {
      pos++;
      sumPos += r[i];
    }
  const neg = labels.length - pos;
  if (pos === 0 || neg === 0) return NaN;
  return (sumPos - (pos * (pos + 1)) / 2) / (pos * neg);
}

/** The q-quantile (0 ≤ q ≤ 1) of the values, linearly interpolated between order statistics (numpy's default). */
export function quantile(values: ArrayLike<number>, q: number): number {
  const sorted = Float64Array.from(values).sort();
  if (sorted.length === 0) return NaN;
  const h = (sorted.length - 1) * q;
  const lo = Math.floor(h);
  return lo + 1 < sorted.length ? sorted[lo] + (h - lo) * (sorted[lo + 1] - sorted[lo]) : sorted[lo];
}

/**
 * The percentile bootstrap interval of a mean (Efron & Tibshirani 1993, §13.3): the mean of the
 * values over each draw (indices drawn with replacement), and the quantiles of those means. The
 * draws are given, so that several statistics resampled with the same draws stay paired.
 */
export function bootstrapMeanInterval(values: ArrayLike<number>, draws: readonly Int32Array[], level = 0.95): { low: number; high: number } {
  const means = draws.map((d) => {
    let s = 0;
    for (const i of d) s += values[i];
    return s / d.length;
  });
  return { low: quantile(means, (1 - level) / 2), high: quantile(means, (1 + level) / 2) };
}
