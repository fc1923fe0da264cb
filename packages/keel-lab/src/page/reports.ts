/** The buttons' results as page elements. */
import type { FoldReport, RunId } from '../messages.js';

function element<K extends keyof HTMLElementTagNameMap>(tag: K, props: Partial<HTMLElementTagNameMap[K]> = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...children);
  return e;
}

/** One run's folding: the layers before and after, the largest difference, the speed of one prediction. */
export function showFold(run: RunId, report: FoldReport | string): HTMLElement {
  const name = run.toUpperCase();
  if (typeof report === 'string') return element('p', { className: `run-${run}` }, `${name}: ${report}`);
  const speed = report.msAfter > 0 ? report.msBefore / report.msAfter : NaN;
  const summary = element('p', { className: `run-${run} fold-summary` },
    `${name}: ${report.folded} BN layer${report.folded === 1 ? '' : 's'} folded, ${report.before.length} → ${report.after.length} layers; ` +
    `largest difference in predicted probabilities ${report.largestDifference.toExponential(2)}; ` +
    `one prediction ${formatMs(report.msBefore)} → ${formatMs(report.msAfter)} (${speed.toFixed(2)}× as fast).`);
  const list = (title: string, layers: string[]) => element('div', {}, element('strong', {}, title), element('ol', {}, ...layers.map((l) => element('li', {}, l))));
  const details = element('details', {}, element('summary', {}, `${name}: the layers before and after`),
    element('div', { className: 'fold-layers' }, list('before', report.before), list('after', report.after)));
  const wrap = element('div', {}, summary, details);
  if (report.notFolded.length) wrap.append(element('p', {}, `Not folded: ${report.notFolded.join('; ')}`));
  return wrap;
}

function formatMs(ms: number): string {
  return ms < 1 ? `${(ms * 1000).toFixed(0)} µs` : `${ms.toFixed(2)} ms`;
}

/** Both runs' probabilities per class as bars, the most likely class first in words. */
export function showProbabilities(a: number[], b: number[], classNames: string[]): HTMLElement {
  const best = (p: number[]) => p.indexOf(Math.max(...p));
  const head = element('p', {},
    element('span', { className: 'run-a' }, `A: ${classNames[best(a)]} (${(100 * a[best(a)]).toFixed(0)}%)`), '  ',
    element('span', { className: 'run-b' }, `B: ${classNames[best(b)]} (${(100 * b[best(b)]).toFixed(0)}%)`));
  const bar = (run: RunId, p: number) => element('span', { className: `bar run-${run}-bg`, title: `${run.toUpperCase()} ${(100 * p).toFixed(1)}%` }, '');
  const rows = classNames.map((name, i) => {
    const row = element('div', { className: 'prob-row' }, element('span', { className: 'prob-name' }, name));
    const bars = element('span', { className: 'prob-bars' }, bar('a', a[i]), bar('b', b[i]));
    (bars.children[0] as HTMLElement).style.width = `${(100 * a[i]).toFixed(1)}%`;
    (bars.children[1] as HTMLElement).style.width = `${(100 * b[i]).toFixed(1)}%`;
    row.append(bars);
    return row;
  });
  return element('div', { className: 'probabilities' }, head, ...rows);
}
