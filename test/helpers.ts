/** Shared test utilities. */
import { test, type TestContext, type TestOptions } from 'node:test';
import { getBackend, listBackends, setBackend } from 'keel';

/**
 * The backends every backend-sensitive test runs on. Fast backends are checked against the
 * reference ('js') by running the same tests on each.
 */
export function backendsUnderTest(): string[] {
  return listBackends();
}

/**
 * Runs `fn` with backend `name` active, then makes the backend that was active before active again,
 * also when `fn` throws or its promise rejects, so that one test's backend never leaks into the next.
 */
export function withBackend<T>(name: string, fn: () => T): T {
  const previous = getBackend();
  setBackend(name);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    setBackend(previous);
    throw e;
  }
  if (result instanceof Promise) return result.finally(() => setBackend(previous)) as T;
  setBackend(previous);
  return result;
}

/** One test per backend, named `${title} (${backend})`, each run inside `withBackend`. */
export function testOnEveryBackend(
  title: string,
  fn: (backendName: string, t: TestContext) => void | Promise<void>,
  options: TestOptions = {},
): void {
  for (const backendName of backendsUnderTest()) {
    test(`${title} (${backendName})`, options, (t) => withBackend(backendName, () => fn(backendName, t)));
  }
}

/** Max |a − b| / max(1, |b|) over two arrays of equal length. */
export function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / Math.max(1, Math.abs(b[i])));
  return worst;
}

/**
 * Largest |a − b| relative to the largest |b| of the array (1e-4 means 4 significant digits),
 * that scale taken as at least `floor` (a weight whose exact gradient is 0, such as the bias of a
 * layer followed by BN, is left at rounding noise by both implementations).
 */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>, floor = 1e-12): number {
  let diff = 0;
  let scale = floor;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / scale;
}
