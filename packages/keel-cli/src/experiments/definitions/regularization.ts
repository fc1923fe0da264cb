/** BN as a regularizer: the train/validation gap with and without BN, dropout for reference. */
import { Sequential, layers, optimizers, zoo } from 'keel';
import { combine, compare, meanStd } from '../verdict.js';
import { lineChart } from '../plots.js';
import { epochsAxis, evaluate, firstN, meanCurve, runAll, type Experiment, sized } from '../common.js';
import { count } from '../../format.js';

const { adam } = optimizers;
const { buildModel } = zoo;

function plainWithDropout(rate: number): Sequential {
  return new Sequential({ layers: [
    layers.flatten({ inputShape: [28, 28] }),
    layers.dense({ units: 300, activation: 'relu' }), layers.dropout({ rate }),
    layers.dense({ units: 100, activation: 'relu' }), layers.dropout({ rate }),
    layers.dense({ units: 10, activation: 'softmax' }),
  ] });
}

const CONFIGS = [
  { label: 'BN (seed)', build: () => buildModel('seed') },
  { label: 'no BN (plain)', build: () => buildModel('plain') },
  { label: 'dropout 0.3, no BN', build: () => plainWithDropout(0.3) },
];

export const regularization: Experiment = {
  name: 'regularization',
  summary: 'the train/validation accuracy gap with and without BN (dropout for reference)',
  async run(ctx) {
    const data = await ctx.load({ scale: true });
    const epochs = ctx.epochs ?? (ctx.quick ? 10 : 20);
    // A small training set, so that an unregularized network overfits within the epochs.
    const trainSet = firstN(data.train, sized(ctx, ctx.quick ? 2000 : 10000));
    const validation = firstN(data.validation, sized(ctx, ctx.quick ? 2000 : Infinity));
    const results = await runAll(ctx, CONFIGS.map((c) => ({
      label: c.label, build: c.build, optimizer: () => adam({ learningRate: 1e-3 }), epochs, batchSize: 32, train: trainSet, validation,
    })));
    // The gap at the end, both accuracies measured the same way: inference mode on each set.
    const gaps = new Map<string, { train: number[]; val: number[]; gap: number[] }>();
    for (const [label, runs] of results) {
      const train = runs.map((r) => evaluate(r.model, trainSet)[1]);
      const val = runs.map((r) => evaluate(r.model, validation)[1]);
      gaps.set(label, { train, val, gap: train.map((t, i) => t - val[i]) });
    }
    const comparisons = [
      compare({ label: 'train − validation accuracy gap, BN vs no BN', favoured: gaps.get('BN (seed)')!.gap, other: gaps.get('no BN (plain)')!.gap, direction: 'lower', margin: 0.01 }),
    ];
    const dropout = compare({ label: 'gap, dropout vs no BN (reference)', favoured: gaps.get('dropout 0.3, no BN')!.gap, other: gaps.get('no BN (plain)')!.gap, direction: 'lower', margin: 0.01 });
    return {
      name: 'regularization',
      claim: 'BN acts like a regularizer: it reduces overfitting (the gap between training and validation accuracy).',
      setup: [
        `${data.name}: ${count(trainSet.xs.shape[0])} training images (small on purpose, to overfit) and ${count(validation.xs.shape[0])} validation images`,
        'the seed model (BN), the plain model, and the plain model with dropout 0.3 after each hidden layer',
        `Adam, learning rate 1e-3, batch 32, ${epochs} epochs, seeds ${ctx.seeds.join(', ')}; final accuracies measured in inference mode`,
      ],
      table: {
        columns: ['model', 'train accuracy', 'validation accuracy', 'gap'],
        rows: CONFIGS.map((c) => {
          const g = gaps.get(c.label)!;
          return [c.label, meanStd(g.train), meanStd(g.val), meanStd(g.gap)];
        }),
      },
      comparisons,
      verdict: combine(comparisons),
      notes: [`Reference: ${dropout.label}: ${dropout.verdict} (difference ${dropout.difference.toFixed(4)}).`, ...(ctx.quick ? ['Quick mode: few epochs on a very small subset.'] : [])],
      figures: [{
        name: 'train-vs-validation', caption: 'Training accuracy (running, training mode) and validation accuracy per epoch (mean over seeds)',
        spec: lineChart({
          title: 'Overfitting with and without BN', xTitle: 'epoch', yTitle: 'accuracy (fraction)',
          series: CONFIGS.flatMap((c) => [
            { name: `${c.label}: train`, x: epochsAxis(epochs), y: meanCurve(results.get(c.label)!, (r) => r.trainAccuracy) },
            { name: `${c.label}: validation`, x: epochsAxis(epochs), y: meanCurve(results.get(c.label)!, (r) => r.valAccuracy), dashed: true },
          ]),
        }),
      }],
      data: { epochs, gaps: Object.fromEntries(gaps), runs: Object.fromEntries([...results].map(([k, rs]) => [k, rs.map(({ model: _m, ...r }) => r)])) },
      csv: [{
        name: 'runs', columns: ['model', 'seed', 'epoch', 'accuracy', 'val_accuracy'],
        rows: [...results].flatMap(([label, rs]) => rs.flatMap((r) => r.valAccuracy.map((a, e) => [label, r.seed, e + 1, r.trainAccuracy[e], a]))),
      }],
    };
  },
};
