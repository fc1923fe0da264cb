/** With a BN layer first, is standardizing the inputs unnecessary? */
import { Sequential, layers, optimizers, tensor, zoo } from 'keel';
import type { LabeledTensors } from 'keel-datasets';
import { compare, compareNotWorse, describe, meanStd } from '../verdict.js';
import { lineChart } from '../plots.js';
import { epochsAxis, firstN, lastOf, meanCurve, runAll, type Experiment, sized } from '../common.js';
import { count } from '../../format.js';

const { sgd } = optimizers;
const { buildModel } = zoo;

/** The seed model without its input BN: Flatten → Dense(300) → BN → Dense(100) → BN → Dense(10). */
function seedWithoutInputBn(): Sequential {
  return new Sequential({ layers: [
    layers.flatten({ inputShape: [28, 28] }),
    layers.dense({ units: 300, activation: 'relu' }), layers.batchNormalization(),
    layers.dense({ units: 100, activation: 'relu' }), layers.batchNormalization(),
    layers.dense({ units: 10, activation: 'softmax' }),
  ] });
}

/** Per-pixel standardization with the training set's mean and std (std 0 → 1), as StandardScaler. */
function standardizer(train: LabeledTensors): (part: LabeledTensors) => LabeledTensors {
  const n = train.xs.shape[0];
  const d = train.xs.size / n;
  const mean = new Float64Array(d);
  const sq = new Float64Array(d);
  const x = train.xs.values;
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] += x[i * d + j] / n;
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) sq[j] += (x[i * d + j] - mean[j]) ** 2 / n;
  const std = sq.map((v) => (v > 0 ? Math.sqrt(v) : 1));
  return (part) => {
    const values = new Float32Array(part.xs.size);
    for (let i = 0; i < values.length; i++) values[i] = (part.xs.values[i] - mean[i % d]) / std[i % d];
    return { xs: tensor(values, part.xs.shape), ys: part.ys };
  };
}

export const inputStandardization: Experiment = {
  name: 'input-standardization',
  summary: 'raw 0–255 pixels with a BN layer first vs standardized inputs without it',
  async run(ctx) {
    const raw = await ctx.load({ scale: false });
    const epochs = ctx.epochs ?? (ctx.quick ? 3 : 5);
    const trainRaw = firstN(raw.train, sized(ctx, ctx.quick ? 10000 : 20000));
    const validationRaw = firstN(raw.validation, sized(ctx, ctx.quick ? 2000 : Infinity));
    const standardize = standardizer(trainRaw);
    const trainStd = standardize(trainRaw);
    const validationStd = standardize(validationRaw);
    const learningRate = 1e-3;
    const configs = [
      { label: 'raw 0–255, BN first', build: () => buildModel('seed'), train: trainRaw, validation: validationRaw },
      { label: 'standardized, no input BN', build: seedWithoutInputBn, train: trainStd, validation: validationStd },
      { label: 'raw 0–255, no input BN', build: seedWithoutInputBn, train: trainRaw, validation: validationRaw },
    ];
    const results = await runAll(ctx, configs.map((c) => ({
      label: c.label, build: c.build, optimizer: () => sgd({ learningRate }), epochs, batchSize: 32, train: c.train, validation: c.validation,
    })));
    const finals = (label: string) => results.get(label)!.map((r) => lastOf(r.valAccuracy));
    const comparisons = [
      compareNotWorse({ label: 'validation accuracy, raw inputs with BN first vs standardized inputs (not worse by more than the margin)', favoured: finals(configs[0].label), other: finals(configs[1].label), direction: 'higher', margin: 0.01 }),
    ];
    const reference = compare({ label: 'raw inputs: BN first vs no input BN', favoured: finals(configs[0].label), other: finals(configs[2].label), direction: 'higher', margin: 0.01 });
    return {
      name: 'input-standardization',
      claim: 'If a BN layer comes first, the training set need not be standardized: raw inputs train as well as standardized ones.',
      setup: [
        `${raw.name}: ${count(trainRaw.xs.shape[0])} training and ${count(validationRaw.xs.shape[0])} validation images; raw pixels 0–255, or standardized per pixel with the training set's mean and std`,
        'the seed model (BN first) on raw pixels vs the same model without its input BN on standardized pixels (and on raw pixels, for reference)',
        `SGD, learning rate ${learningRate}, batch 32, ${epochs} epochs, seeds ${ctx.seeds.join(', ')}`,
      ],
      table: {
        columns: ['inputs and model', 'validation accuracy', 'diverged runs'],
        rows: configs.map((c) => [c.label, meanStd(finals(c.label)), results.get(c.label)!.filter((r) => r.diverged).length]),
      },
      comparisons,
      verdict: comparisons[0].verdict,
      notes: [`Reference: ${describe(reference)}.`, ...(ctx.quick ? ['Quick mode: a small subset and few epochs.'] : [])],
      figures: [{
        name: 'validation-accuracy', caption: 'Validation accuracy per epoch (mean over seeds)',
        spec: lineChart({
          title: 'Raw pixels with BN first vs standardized inputs', xTitle: 'epoch', yTitle: 'validation accuracy (fraction)',
          series: configs.map((c, i) => ({ name: c.label, x: epochsAxis(epochs), y: meanCurve(results.get(c.label)!, (r) => r.valAccuracy), dashed: i === 2 })),
        }),
      }],
      data: { epochs, learningRate, runs: Object.fromEntries([...results].map(([k, rs]) => [k, rs.map(({ model: _m, ...r }) => r)])) },
      csv: [{
        name: 'runs', columns: ['configuration', 'seed', 'epoch', 'val_accuracy', 'loss', 'diverged'],
        rows: [...results].flatMap(([label, rs]) => rs.flatMap((r) => r.valAccuracy.map((a, e) => [label, r.seed, e + 1, a, r.trainLoss[e], r.diverged ? 1 : 0]))),
      }],
    };
  },
};
