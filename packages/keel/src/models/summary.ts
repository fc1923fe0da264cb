/** Keras-style model summary. */
import type { Layer } from '../layers/layer.js';

export interface SummaryRow {
  name: string;
  className: string;
  outputShape: number[];
  params: number;
}

/**
 * Lays out the rows as Keras 2 does: columns end at `positions` (fractions of `lineLength` or
 * absolute), a field longer than its column is cut, and the character before each field is a space.
 */
export function formatSummary(
  modelName: string, rows: SummaryRow[], trainable: number, nonTrainable: number,
  lineLength = 65, positions: number[] = [0.45, 0.85, 1],
): string[] {
  const stops = positions[positions.length - 1] <= 1 ? positions.map((p) => Math.floor(lineLength * p)) : positions;
  const line = (fields: string[]) => {
    let s = '';
    fields.forEach((f, i) => {
      if (i > 0) s = s.slice(0, -1) + ' ';
      s = (s + f).slice(0, stops[i]);
      s += ' '.repeat(Math.max(0, stops[i] - s.length));
    });
    return s;
  };
  const out = [`Model: "${modelName}"`, '_'.repeat(lineLength), line(['Layer (type)', 'Output Shape', 'Param #']), '='.repeat(lineLength)];
  rows.forEach((r, i) => {
    out.push(line([`${r.name} (${r.className})`, `(None, ${r.outputShape.join(', ')})`, String(r.params)]));
    out.push(i === rows.length - 1 ? '='.repeat(lineLength) : '_'.repeat(lineLength));
  });
  const n = (v: number) => v.toLocaleString('en-US');
  out.push(`Total params: ${n(trainable + nonTrainable)}`, `Trainable params: ${n(trainable)}`, `Non-trainable params: ${n(nonTrainable)}`);
  out.push('_'.repeat(lineLength));
  return out;
}

export function summaryRows(layers: Layer[], outputShapes: number[][]): SummaryRow[] {
  return layers.map((l, i) => ({ name: l.name, className: l.getClassName(), outputShape: outputShapes[i], params: l.countParams() }));
}
