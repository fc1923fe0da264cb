/**
 * When batches are small or not i.i.d.: BN against Batch Renormalization, Ghost BN, Group and Layer
 * Normalization and no normalization, on the seed MLP (and the cnn model in the full setup).
 *
 * 1. Batch size 2 to 32 at the same number of examples seen (learning rate scaled with the batch,
 *    so the step per example stays the same): validation accuracy of each method. Ghost BN runs at
 *    batch 32 with virtual batches of the row's size, which separates the noise of the statistics
 *    from that of the gradient.
 * 2. Batches drawn from 2 classes each: accuracy with the moving statistics (what a deployed model
 *    uses) against accuracy with batch statistics on batches drawn the same way (what training sees).
 * 3. The train/inference gap: accuracy with batch statistics, moving statistics and exact
 *    population statistics, per method, at the smallest and the largest batch.
 */
import { Random, callbacks, optimizers, recomputeBatchNormStatistics, slice, zoo, type Callback, type Sequential, type Tensor } from 'keel';
import type { LabeledTensors } from 'keel-datasets';
import { combine, compare, compareNotWorse, mean, meanStd } from '../verdict.js';
import { lineChart } from '../plots.js';
import { firstN, gatherRows, lastOf, train, type Experiment, type RunResult, sized } from '../common.js';
import { count } from '../../format.js';

const { sgd } = optimizers;
type Norm = zoo.Normalization;

const METHODS: { norm: Norm; label: string }[] = [
  { norm: 'batch', label: 'BN' },
  { norm: 'renorm', label: 'Batch Renorm' },
  { norm: 'group', label: 'Group Norm' },
  { norm: 'layer', label: 'Layer Norm' },
  { norm: 'none', label: 'no normalization' },
];
const GHOST = 'Ghost BN (batch 32)';
/** Methods whose inference uses moving statistics, so that batch, moving and population statistics differ. */
const WITH_MOVING_STATISTICS = new Set(['BN', 'Batch Renorm', GHOST]);

/** Per-example learning rate × batch size (the linear scaling rule): 0.05 at batch 32, 0.003125 at 2. */
const rateFor = (batchSize: number) => 0.05 * (batchSize / 32);
const MOMENTUM = 0.9;

export const smallBatch: Experiment = {
  name: 'small-batch',
  summary: 'BN vs Batch Renorm, Ghost BN, Group and Layer Norm at batches of 2 to 32 and with non-i.i.d. batches',
  async run(ctx) {
    const data = await ctx.load({ scale: true });
    const epochs = ctx.epochs ?? (ctx.quick ? 1 : 2);
    const batchSizes = ctx.quick ? [2, 8, 32] : [2, 4, 8, 16, 32];
    const smallest = batchSizes[0];
    const largest = batchSizes[batchSizes.length - 1];
    // A whole number of the largest batches, so that every batch of every run has its full size
    // (Ghost BN needs batches that its virtual batch size divides).
    const wanted = sized(ctx, ctx.quick ? 4000 : 10000);
    const trainSet = firstN(data.train, Math.max(largest, wanted - (wanted % largest)));
    const validation = firstN(data.validation, sized(ctx, ctx.quick ? 1000 : 5000));
    // Half batches of 16 images of one class; smaller where a tiny subset has too few per class.
    const half = Math.min(largest / 2, 2 ** Math.floor(Math.log2(Math.max(1, trainSet.xs.shape[0] / 20))));
    const pairBatch = 2 * half;

    // 1. Small batches.
    const results = new Map<string, RunResult[]>();
    const key = (label: string, batch: number) => `${label}, batch ${batch}`;
    for (const m of METHODS) {
      for (const batchSize of batchSizes) {
        results.set(key(m.label, batchSize), await seeds(ctx, (seed) => train(ctx, {
          label: key(m.label, batchSize), seed, epochs, batchSize, train: trainSet, validation,
          build: () => zoo.buildModel('seed', { norm: m.norm }),
          optimizer: () => sgd({ learningRate: rateFor(batchSize), momentum: MOMENTUM }),
          ...(m.norm === 'renorm' ? { callbacks: [renormRamp(trainSet, batchSize, epochs)] } : {}),
        })));
      }
    }
    for (const virtual of batchSizes) {
      results.set(key(GHOST, virtual), virtual === largest ? results.get(key('BN', largest))! : await seeds(ctx, (seed) => train(ctx, {
        label: key(GHOST, virtual), seed, epochs, batchSize: largest, train: trainSet, validation,
        build: () => zoo.buildModel('seed', { norm: 'ghost', virtualBatchSize: virtual }),
        optimizer: () => sgd({ learningRate: rateFor(largest), momentum: MOMENTUM }),
      })));
    }
    const finals = (label: string, batch: number) => results.get(key(label, batch))!.map((r) => lastOf(r.valAccuracy));

    // 1b. The same in the cnn model, at the smallest and the largest batch, on fewer images: in a
    // convolutional network BN's statistics per channel have batch × height × width values.
    const cnnWanted = sized(ctx, ctx.quick ? 1024 : 4096);
    const cnnTrain = firstN(data.train, Math.max(largest, cnnWanted - (cnnWanted % largest)));
    const cnnValidation = firstN(data.validation, sized(ctx, ctx.quick ? 500 : 2000));
    const cnnResults = new Map<string, RunResult[]>();
    for (const m of METHODS) {
      for (const batchSize of [smallest, largest]) {
        cnnResults.set(key(m.label, batchSize), await seeds(ctx, (seed) => train(ctx, {
          label: `cnn, ${key(m.label, batchSize)}`, seed, epochs: 1, batchSize, train: cnnTrain, validation: cnnValidation,
          build: () => zoo.buildModel('cnn', { norm: m.norm }),
          optimizer: () => sgd({ learningRate: rateFor(batchSize) / 5, momentum: MOMENTUM }),
          ...(m.norm === 'renorm' ? { callbacks: [renormRamp(cnnTrain, batchSize, 1)] } : {}),
        })));
      }
    }
    // 128 steps at batch 32 are too few for moving averages of momentum 0.99 to forget their start,
    // so the cnn rows use exact population statistics for every method that has batch statistics.
    const cnnAccuracy = new Map<string, number[]>();
    for (const [k, runs] of cnnResults) {
      const accuracies: number[] = [];
      for (const r of runs) {
        if (k.startsWith('BN,') || k.startsWith('Batch Renorm,')) {
          await recomputeBatchNormStatistics(r.model, cnnTrain.xs, { batchSize: 256 });
          accuracies.push(accuracy(r.model, cnnValidation));
        } else {
          accuracies.push(lastOf(r.valAccuracy));
        }
      }
      cnnAccuracy.set(k, accuracies);
    }
    const cnnFinals = (label: string, batch: number) => cnnAccuracy.get(key(label, batch))!;
    const cnnDrop = (label: string) => ctx.seeds.map((_, s) => cnnFinals(label, largest)[s] - cnnFinals(label, smallest)[s]);
    const drop = (label: string) => ctx.seeds.map((_, s) => finals(label, largest)[s] - finals(label, smallest)[s]);

    // 3. The gap, on the runs of 1 (population statistics change the models, so they come last).
    const gap = new Map<string, { batchStats: number[]; moving: number[]; population: number[] }>();
    for (const label of [...METHODS.map((m) => m.label), GHOST]) {
      for (const batch of [smallest, largest]) {
        const runs = results.get(key(label, batch))!;
        const entry = { batchStats: [] as number[], moving: [] as number[], population: [] as number[] };
        for (const r of runs) {
          entry.batchStats.push(accuracyWithBatchStatistics(r.model, validation, batch));
          entry.moving.push(lastOf(r.valAccuracy));
          if (WITH_MOVING_STATISTICS.has(label)) {
            if (!(label === GHOST && batch === largest)) await recomputeBatchNormStatistics(r.model, trainSet.xs, { batchSize: 512 });
            entry.population.push(accuracy(r.model, validation));
          } else {
            entry.population.push(lastOf(r.valAccuracy));
          }
        }
        gap.set(key(label, batch), entry);
      }
    }

    // 2. Batches of 2 classes each.
    const nonIid = new Map<string, { moving: number[]; training: number[]; batchStats: number[] }>();
    for (const m of METHODS) {
      const entry = { moving: [] as number[], training: [] as number[], batchStats: [] as number[] };
      for (const seed of ctx.seeds) {
        const arranged = twoClassBatches(trainSet, pairBatch, epochs, seed);
        const r = await train(ctx, {
          label: `${m.label}, 2 classes per batch`, seed, epochs: 1, batchSize: pairBatch, train: arranged, validation, shuffle: false,
          build: () => zoo.buildModel('seed', { norm: m.norm }),
          optimizer: () => sgd({ learningRate: rateFor(pairBatch), momentum: MOMENTUM }),
          ...(m.norm === 'renorm' ? { callbacks: [renormRamp(arranged, pairBatch, 1)] } : {}),
        });
        entry.moving.push(lastOf(r.valAccuracy));
        entry.training.push(lastOf(r.trainAccuracy));
        entry.batchStats.push(accuracyWithBatchStatistics(r.model, twoClassBatches(validation, pairBatch, 1, seed + 1000), pairBatch));
      }
      nonIid.set(m.label, entry);
    }

    const comparisons = [
      compare({ label: `BN's validation accuracy, batch ${largest} vs batch ${smallest}`, favoured: finals('BN', largest), other: finals('BN', smallest), direction: 'higher', margin: 0.01 }),
      ...['Batch Renorm', 'Group Norm', 'Layer Norm'].map((label) => compare({
        label: `drop in validation accuracy from batch ${largest} to ${smallest}, BN vs ${label} (BN drops more)`,
        favoured: drop('BN'), other: drop(label), direction: 'higher', margin: 0.005,
      })),
      ...['Batch Renorm', 'Group Norm'].map((label) => compare({
        label: `cnn: drop in validation accuracy from batch ${largest} to ${smallest}, BN vs ${label} (BN drops more)`,
        favoured: cnnDrop('BN'), other: cnnDrop(label), direction: 'higher', margin: 0.005,
      })),
      compare({
        label: `2 classes per batch: accuracy with moving statistics, Batch Renorm vs BN`,
        favoured: nonIid.get('Batch Renorm')!.moving, other: nonIid.get('BN')!.moving, direction: 'higher', margin: 0.02,
      }),
      compare({
        label: `2 classes per batch: BN's training accuracy (batch statistics, last epoch) vs its validation accuracy with moving statistics`,
        favoured: nonIid.get('BN')!.training, other: nonIid.get('BN')!.moving, direction: 'higher', margin: 0.05,
      }),
      compareNotWorse({
        label: `BN at batch ${smallest}: exact population statistics vs moving statistics`,
        favoured: gap.get(key('BN', smallest))!.population, other: gap.get(key('BN', smallest))!.moving, direction: 'higher', margin: 0.005,
      }),
    ];

    const labels = [...METHODS.map((m) => m.label), GHOST];
    return {
      name: 'small-batch',
      claim: 'BN degrades at small batches and with non-i.i.d. batches, and its training accuracy hides it; Batch Renorm and Group/Layer Normalization degrade less.',
      setup: [
        `${data.name}: ${count(trainSet.xs.shape[0])} training and ${count(validation.xs.shape[0])} validation images, scaled to [0, 1]`,
        'the seed MLP (Flatten → norm → Dense(300, relu) → norm → Dense(100, relu) → norm → Dense(10, softmax)), each norm replaced by the method',
        `SGD with momentum ${MOMENTUM}, learning rate 0.05 × batch / 32, ${epochs} epoch${epochs === 1 ? '' : 's'} (the same examples seen at every batch size), seeds ${ctx.seeds.join(', ')}`,
        `cnn model (BN replaced likewise): ${count(cnnTrain.xs.shape[0])} training and ${count(cnnValidation.xs.shape[0])} validation images, 1 epoch, batches ${smallest} and ${largest}, learning rate 0.01 × batch / 32`,
        `batch sizes ${batchSizes.join(', ')}; Ghost BN at batch ${largest} with virtual batches of each size; Batch Renorm with the paper's ramp scaled to the run (plain BN for the first 5% of steps, then rmax 1 → 3 by 40% and dmax 0 → 5 by 25%); Group Norm with the largest group count ≤ 32 that divides the width`,
        `2 classes per batch: every batch of ${pairBatch} holds ${half} images of each of 2 classes drawn at random, ${epochs} pass${epochs === 1 ? '' : 'es'}; validation i.i.d. (moving statistics) and in 2-class batches (batch statistics)`,
      ],
      table: {
        columns: ['method', ...batchSizes.map((b) => `batch ${b}`), `drop ${largest} → ${smallest}`, '2 classes per batch: validation (moving statistics) / training / validation in 2-class batches (batch statistics)'],
        rows: [...labels.map((label) => [
          label, ...batchSizes.map((b) => meanStd(finals(label, b))), meanStd(label === GHOST ? ctx.seeds.map((_, s) => finals(GHOST, largest)[s] - finals(GHOST, smallest)[s]) : drop(label)),
          nonIid.has(label) ? [nonIid.get(label)!.moving, nonIid.get(label)!.training, nonIid.get(label)!.batchStats].map((xs) => mean(xs).toFixed(4)).join(' / ') : '',
        ]), ...METHODS.map((m) => [
          `cnn, ${m.label}`, ...batchSizes.map((b) => (b === smallest || b === largest ? meanStd(cnnFinals(m.label, b)) : '')), meanStd(cnnDrop(m.label)), '',
        ])],
      },
      tableNote: `The cnn rows: validation accuracy after 1 epoch at batch ${smallest} / ${largest}, with exact population statistics for BN and Batch Renorm (a short run leaves moving averages behind). Validation accuracy after ${epochs} epoch${epochs === 1 ? '' : 's'} with each layer's inference statistics, mean ± sample std over seeds. For Ghost BN the column is the virtual batch size.`,
      comparisons,
      verdict: combine(comparisons),
      notes: [
        'The gap (accuracy with batch statistics of the training batch size / with moving statistics / with exact population statistics over the training images): ' +
          labels.flatMap((label) => [smallest, largest].map((b) => {
            const g = gap.get(key(label, b))!;
            return `${label} at ${b}: ${mean(g.batchStats).toFixed(4)} / ${mean(g.moving).toFixed(4)} / ${mean(g.population).toFixed(4)}`;
          })).join('; ') + '. Group and Layer Norm and no normalization have no batch statistics: their three figures differ only by the batching of the evaluation.',
        ...(ctx.quick ? ['Quick mode: a subset, 1 epoch and 3 batch sizes.'] : []),
      ],
      figures: [{
        name: 'accuracy-vs-batch-size', caption: 'Validation accuracy against the batch size (mean over seeds)',
        spec: lineChart({
          title: 'Small batches: validation accuracy', xTitle: 'batch size (log scale; virtual batch for Ghost BN)', yTitle: 'validation accuracy', logX: true,
          series: labels.map((label) => ({ name: label, x: batchSizes, y: batchSizes.map((b) => mean(finals(label, b))), dashed: label === 'no normalization' })),
        }),
      }],
      data: {
        epochs, batchSizes,
        runs: Object.fromEntries([...results].map(([k, rs]) => [k, rs.map(({ model: _m, ...r }) => r)])),
        cnnRuns: Object.fromEntries([...cnnResults].map(([k, rs]) => [k, rs.map(({ model: _m, ...r }) => r)])),
        gap: Object.fromEntries(gap), nonIid: Object.fromEntries(nonIid),
      },
      csv: [{
        name: 'runs', columns: ['configuration', 'seed', 'epoch', 'val_accuracy', 'loss', 'diverged'],
        rows: [...results, ...[...cnnResults].map(([k, rs]) => [`cnn, ${k}`, rs] as const)].flatMap(([label, rs]) => rs.flatMap((r) => r.valAccuracy.map((a, e) => [label, r.seed, e + 1, a, r.trainLoss[e], r.diverged ? 1 : 0]))),
      }],
    };
  },
};

async function seeds<T>(ctx: { seeds: number[] }, run: (seed: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (const seed of ctx.seeds) out.push(await run(seed));
  return out;
}

/** Accuracy in inference mode (each layer's inference statistics). */
function accuracy(model: Sequential, part: LabeledTensors): number {
  const r = model.evaluate(part.xs, part.ys, { batchSize: 500 }) as Tensor[];
  return r[1].dataSync()[0];
}

/**
 * Accuracy with batch statistics: consecutive batches of `batchSize` through the layers in training
 * mode, as a training step sees them, with every state update discarded (the model is unchanged).
 */
function accuracyWithBatchStatistics(model: Sequential, part: LabeledTensors, batchSize: number): number {
  const n = part.xs.shape[0] - (part.xs.shape[0] % batchSize);
  const labels = part.ys.dataSync();
  let correct = 0;
  for (let start = 0; start < n; start += batchSize) {
    let x = slice(part.xs, start, batchSize);
    for (const layer of model.layers) x = layer.forward(x, true);
    for (const layer of model.layers) layer.discardState();
    const p = x.dataSync();
    const classes = x.shape[1];
    for (let i = 0; i < batchSize; i++) {
      let best = 0;
      for (let c = 1; c < classes; c++) if (p[i * classes + c] > p[i * classes + best]) best = c;
      if (best === labels[start + i]) correct++;
    }
  }
  return correct / n;
}

/**
 * `epochs` passes over `part`, each arranged in batches of `batchSize` that hold batchSize/2 images
 * of each of 2 classes drawn at random (the Batch Renorm paper's non-i.i.d. setting); images of a
 * class that cannot fill a half batch are left out of that pass.
 */
function twoClassBatches(part: LabeledTensors, batchSize: number, epochs: number, seed: number): LabeledTensors {
  const random = new Random(seed);
  const labels = part.ys.dataSync();
  const half = batchSize / 2;
  const order: number[] = [];
  for (let e = 0; e < epochs; e++) {
    const byClass = new Map<number, number[]>();
    const perm = Int32Array.from({ length: labels.length }, (_, i) => i);
    random.shuffle(perm);
    for (const i of perm) {
      const c = labels[i];
      if (!byClass.has(c)) byClass.set(c, []);
      byClass.get(c)!.push(i);
    }
    for (;;) {
      const open = [...byClass.keys()].filter((c) => byClass.get(c)!.length >= half);
      if (open.length < 2) break;
      const a = open[random.int(open.length)];
      const rest = open.filter((c) => c !== a);
      const b = rest[random.int(rest.length)];
      order.push(...byClass.get(a)!.splice(0, half), ...byClass.get(b)!.splice(0, half));
    }
  }
  return gatherRows(part, order);
}

/** The Batch Renorm paper's clipping ramp (5k, 25k, 40k of its steps), scaled to a run's steps. */
function renormRamp(part: LabeledTensors, batchSize: number, epochs: number): Callback {
  const steps = epochs * Math.ceil(part.xs.shape[0] / batchSize);
  return callbacks.renormClippingSchedule(callbacks.batchRenormRamp({
    warmupSteps: Math.round(0.05 * steps), dmaxEndStep: Math.round(0.25 * steps), rmaxEndStep: Math.round(0.4 * steps),
  }));
}
