/**
 * Verdicts computed from the data, never written by hand. A claim is a directional comparison of
 * a figure between two conditions (say, validation accuracy with BN vs without), measured over
 * several seeds. With d the mean difference in the claimed direction and se its standard error:
 *
 * - supported:     d ≥ margin and d > 2·se (a clear effect, beyond seed noise)
 * - not supported: d ≤ 0 (no effect, or the opposite one)
 * - mixed:         in between (an effect in the claimed direction, but small or within noise)
 *
 * With a single seed se is unknown and taken as 0: the verdict then rests on the margin alone,
 * and the report says so.
 */

export type Verdict = 'supported' | 'not supported' | 'mixed';

export interface Comparison {
  /** What is compared, e.g. "validation accuracy, BN vs no BN (depth 20, sigmoid)". */
  label: string;
  /** Figures of the condition the claim favours, one per seed. */
  favoured: number[];
  /** Figures of the other condition, one per seed (paired with `favoured` when lengths match). */
  other: number[];
  /** 'higher' if the claim says the favoured condition has the larger figure. */
  direction: 'higher' | 'lower';
  /** Smallest difference that counts as an effect, in the figure's units. */
  margin: number;
}

export interface ComparisonResult extends Comparison {
  verdict: Verdict;
  /** Mean difference in the claimed direction (positive = as claimed). */
  difference: number;
  standardError: number;
}

export function mean(xs: readonly number[]): number {
  return xs.reduce((s, x) => s + x, 0) / xs.length;
}

/** Sample standard deviation (n − 1); 0 for a single value. */
export function std(xs: readonly number[]): number {
  if (xs.length < 2) return 0;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((s, x) => s + (x - m) ** 2, 0) / (xs.length - 1));
}

/** "0.8712 ± 0.0031" (sample std over seeds; no ± for one seed). */
export function meanStd(xs: readonly number[], digits = 4): string {
  return xs.length > 1 ? `${mean(xs).toFixed(digits)} ± ${std(xs).toFixed(digits)}` : mean(xs).toFixed(digits);
}

export function compare(c: Comparison): ComparisonResult {
  const sign = c.direction === 'higher' ? 1 : -1;
  let difference: number;
  let standardError: number;
  if (c.favoured.length === c.other.length && c.favoured.length > 1) {
    // Paired by seed: the same seed gives both conditions the same data order.
    const diffs = c.favoured.map((f, i) => sign * (f - c.other[i]));
    difference = mean(diffs);
    standardError = std(diffs) / Math.sqrt(diffs.length);
  } else {
    difference = sign * (mean(c.favoured) - mean(c.other));
    standardError = Math.sqrt(std(c.favoured) ** 2 / c.favoured.length + std(c.other) ** 2 / c.other.length);
  }
  const verdict: Verdict =
    difference <= 0 || !Number.isFinite(difference) ? 'not supported'
      : difference >= c.margin && difference > 2 * standardError ? 'supported'
        : 'mixed';
  return { ...c, verdict, difference, standardError };
}

/** Several comparisons behind one claim: all supported → supported, none in favour → not supported. */
export function combine(results: readonly ComparisonResult[]): Verdict {
  if (results.length === 0) return 'not supported';
  if (results.every((r) => r.verdict === 'supported')) return 'supported';
  if (results.every((r) => r.verdict === 'not supported')) return 'not supported';
  return 'mixed';
}

/** One line per comparison for a report: the verdict with its margin. */
export function describe(r: ComparisonResult, digits = 4): string {
  const sign = r.difference >= 0 ? '+' : '−';
  // A condition measured with one seed has no spread: its standard error is unknown, not 0.
  const spread = Math.min(r.favoured.length, r.other.length) < 2 ? 'one seed gives no standard error' : `standard error ${r.standardError.toFixed(digits)}`;
  return `${r.label}: ${r.verdict} (difference ${sign}${Math.abs(r.difference).toFixed(digits)} in the claimed direction, ` +
    `margin ${Number(r.margin.toPrecision(3))}, ${spread}; ${meanStd(r.favoured, digits)} vs ${meanStd(r.other, digits)})`;
}

/**
 * "Not worse" claims (with BN first, raw inputs train as well as standardized ones; a folded model
 * predicts as fast as one that never had BN). With d the mean difference in the favourable
 * direction and se its standard error:
 * - supported:     d − 2·se ≥ −margin (at worst slightly worse, within the margin)
 * - not supported: d + 2·se < −margin (clearly worse by more than the margin)
 * - mixed:         otherwise (cannot tell at this noise level)
 */
export function compareNotWorse(c: Comparison): ComparisonResult {
  const r = compare({ ...c, margin: 0 });
  const { difference: d, standardError: se } = r;
  const verdict: Verdict =
    !Number.isFinite(d) ? 'not supported'
      : d - 2 * se >= -c.margin ? 'supported'
        : d + 2 * se < -c.margin ? 'not supported'
          : 'mixed';
  return { ...r, margin: c.margin, verdict };
}
