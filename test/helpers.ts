/** Shared test utilities. */
import { listBackends } from 'keel';

/**
 * The backends every backend-sensitive test runs on. Fast backends are checked against the
 * reference ('js') by running the same tests on each.
 */
export function backendsUnderTest(): string[] {
  return listBackends();
}

/** Max |a − b| / max(1, |b|) over two arrays of equal length. */
export function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / Math.max(1, Math.abs(b[i])));
  return worst;
}
