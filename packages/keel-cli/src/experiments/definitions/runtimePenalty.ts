/** BN's runtime penalty at prediction, and folding BN into the Dense layers to remove it. */
import { foldBatchNorm, optimizers, setRandomSeed, slice, zoo, type Sequential, type Tensor } from 'keel';
import { combine, compare, compareNotWorse, mean, meanStd } from '../verdict.js';
import { barChart } from '../plots.js';
import { firstN, type Experiment, sized } from '../common.js';
import { count } from '../../format.js';

const { sgd } = optimizers;
const { buildModel } = zoo;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Microseconds per call of `fn`: calls it at least `minCalls` times and for at least `minMs`. */
function time(fn: () => void, minCalls: number, minMs = 0): number {
  const start = performance.now();
  let calls = 0;
  while (calls < minCalls || performance.now() - start < minMs) {
    fn();
    calls++;
  }
  return ((performance.now() - start) * 1000) / calls;
}

export const runtimePenalty: Experiment = {
  name: 'runtime-penalty',
  summary: 'prediction time with BN, with BN folded into the Dense layers, and without BN',
  async run(ctx) {
    const data = await ctx.load({ scale: true });
    const trainSet = firstN(data.train, sized(ctx, ctx.quick ? 2000 : 10000));
    setRandomSeed(ctx.seeds[0]);
    const withBn = buildModel('seed');
    withBn.compile({ optimizer: sgd({ learningRate: 1e-2 }), loss: 'sparseCategoricalCrossentropy' });
    // Train a little so that the moving statistics and γ, β are not their initial values.
    await withBn.fit(trainSet.xs, trainSet.ys, { epochs: 1, batchSize: 32, verbose: 0, seed: ctx.seeds[0] });
    const { model: folded, notFolded } = foldBatchNorm(withBn);
    const plain = buildModel('plain');
    const models: [string, Sequential][] = [['with BN', withBn], ['BN folded', folded], ['without BN', plain]];

    const test = firstN(data.test, sized(ctx, ctx.quick ? 2000 : 10000));
    const a = withBn.predict(test.xs, { batchSize: 1000 }).dataSync();
    const b = folded.predict(test.xs, { batchSize: 1000 }).dataSync();
    let maxDiff = 0;
    for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));

    const one: Tensor = slice(test.xs, 0, 1);
    const batch = test.xs;
    const repetitions = ctx.quick ? 7 : 15;
    const calls = sized(ctx, 200);
    // Each repetition lasts long enough (tens of ms) that timer resolution and one-off pauses average out.
    const minMs = ctx.limit !== undefined ? 0 : ctx.quick ? 50 : 200;
    const single = new Map<string, number[]>(models.map(([l]) => [l, []]));
    const many = new Map<string, number[]>(models.map(([l]) => [l, []]));
    for (const [, m] of models) time(() => m.predict(one), 50); // warm up
    for (let r = 0; r < repetitions; r++) {
      // Interleaved, so that a slow moment of the machine hits every model alike.
      for (const [label, m] of models) single.get(label)!.push(time(() => m.predict(one), calls, minMs));
      for (const [label, m] of models) many.get(label)!.push(time(() => m.predict(batch, { batchSize: batch.shape[0] }), 1));
    }
    const n = batch.shape[0];
    const throughput = (label: string) => many.get(label)!.map((us) => (n / us) * 1e6);
    const plainMedian = median(single.get('without BN')!);
    // The slowest and fastest repetition of each model are dropped: a garbage collection or another
    // process can stretch one repetition, and the comparisons below average over repetitions.
    const trimmed = (label: string) => {
      const xs = single.get(label)!;
      if (xs.length < 5) return xs;
      const lo = xs.indexOf(Math.min(...xs));
      const hi = xs.indexOf(Math.max(...xs));
      return xs.filter((_, i) => i !== lo && i !== hi);
    };
    const comparisons = [
      compare({ label: 'time to predict one instance (µs), with BN vs without (BN slower)', favoured: trimmed('with BN'), other: trimmed('without BN'), direction: 'higher', margin: 0.05 * plainMedian }),
      compareNotWorse({ label: 'time to predict one instance (µs), BN folded vs without BN (not slower by more than 5%)', favoured: trimmed('BN folded'), other: trimmed('without BN'), direction: 'lower', margin: 0.05 * plainMedian }),
    ];
    return {
      name: 'runtime-penalty',
      claim: 'BN makes predictions slower; folding BN into the neighbouring Dense layers removes the penalty.',
      setup: [
        `the seed model trained for 1 epoch on ${count(trainSet.xs.shape[0])} ${data.name} images, the same model with BN folded (keel.foldBatchNorm), and the plain model`,
        `one instance: predict called for at least ${minMs} ms (and ${count(calls)} times) per repetition; ${count(n)} instances at once: one predict call; ${repetitions} repetitions, interleaved; medians reported`,
        'timed in this process on this machine, with the active backend',
      ],
      table: {
        columns: ['model', 'parameters', 'µs per one-instance predict (median)', `${count(n)} at once: instances/s (median)`],
        rows: models.map(([label, m]) => [label, count(m.countParams()), median(single.get(label)!).toFixed(1), count(Math.round(median(throughput(label))))]),
      },
      tableNote: 'Times are medians over the repetitions; the comparisons average the repetitions with the slowest and the fastest of each model left out.',
      comparisons,
      verdict: combine(comparisons),
      notes: [
        `Folded and original predictions differ by at most ${maxDiff.toExponential(2)} on ${count(test.xs.shape[0])} test images.`,
        notFolded.length ? `Not folded: ${notFolded.map((x) => `${x.layer} (${x.reason})`).join('; ')}.` : 'Every BN layer was folded.',
        `One-instance times (µs, all repetitions): ${models.map(([l]) => `${l} ${meanStd(single.get(l)!, 1)}`).join('; ')}.`,
      ],
      figures: [{
        name: 'prediction-time', caption: 'Median time to predict one instance',
        spec: barChart({
          title: 'Prediction time for one instance', xTitle: 'model', yTitle: 'microseconds per predict call',
          bars: models.map(([label]) => ({ group: label, series: label, value: median(single.get(label)!), err: 0 })),
        }),
      }],
      data: { maxDiff, single: Object.fromEntries(single), batchMicroseconds: Object.fromEntries(many), instances: n, calls, repetitions, meanSingle: Object.fromEntries([...single].map(([k, v]) => [k, mean(v)])) },
      csv: [{
        name: 'timings', columns: ['model', 'repetition', 'us_per_single_predict', 'us_per_batch_predict'],
        rows: models.flatMap(([label]) => single.get(label)!.map((us, r) => [label, r + 1, us, many.get(label)![r]])),
      }],
    };
  },
};
