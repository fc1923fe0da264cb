/** What `keel train` prints after training: confusion matrix and BN statistics. */
import * as keel from 'keel';

/** counts[t][p]: test images of true class t predicted as p. */
export function confusionMatrix(probabilities: keel.Tensor, labels: keel.Tensor, classes: number): number[][] {
  const matrix = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  const p = probabilities.dataSync();
  const y = labels.dataSync();
  for (let i = 0; i < y.length; i++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (p[i * classes + c] > p[i * classes + best]) best = c;
    matrix[y[i]][best]++;
  }
  return matrix;
}

/** The matrix as a table: a row per true class (with its name and recall), a column per prediction. */
export function formatConfusionMatrix(matrix: number[][], classNames: string[]): string[] {
  const nameWidth = Math.max(...classNames.map((n, i) => `${i} ${n}`.length), 'true \\ predicted'.length);
  const cell = Math.max(5, ...matrix.flat().map((v) => String(v).length + 1));
  const lines = [
    'Confusion matrix (rows: true class, columns: predicted class)',
    'true \\ predicted'.padEnd(nameWidth) + classNames.map((_, i) => String(i).padStart(cell)).join('') + '  recall',
  ];
  matrix.forEach((row, t) => {
    const total = row.reduce((a, b) => a + b, 0);
    const recall = total ? (row[t] / total).toFixed(3) : '  -  ';
    lines.push(`${t} ${classNames[t]}`.padEnd(nameWidth) + row.map((v) => String(v).padStart(cell)).join('') + `   ${recall}`);
  });
  return lines;
}

export interface BatchNormStats {
  layer: string;
  features: number;
  movingMean: [number, number];
  movingVariance: [number, number];
}

/** Range of the moving mean and moving variance of each BN layer. */
export function batchNormStats(model: keel.Sequential): BatchNormStats[] {
  return model.layers
    .filter((l): l is keel.layers.BatchNormalization => l instanceof keel.layers.BatchNormalization)
    .map((l) => {
      const mean = l.movingMean.read().dataSync();
      const variance = l.movingVariance.read().dataSync();
      return { layer: l.name, features: mean.length, movingMean: extent(mean), movingVariance: extent(variance) };
    });
}

export function formatBatchNormStats(stats: BatchNormStats[]): string[] {
  const width = Math.max(0, ...stats.map((s) => `${s.layer} (${s.features})`.length));
  const n = (v: number) => (Math.abs(v) >= 1000 ? v.toExponential(2) : v.toFixed(4));
  return stats.map(
    (s) =>
      `${`${s.layer} (${s.features})`.padEnd(width)}  moving mean [${n(s.movingMean[0])}, ${n(s.movingMean[1])}]` +
      `  moving variance [${n(s.movingVariance[0])}, ${n(s.movingVariance[1])}]`,
  );
}

function extent(values: Float32Array): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}
