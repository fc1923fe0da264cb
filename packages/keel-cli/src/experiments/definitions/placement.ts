/** BN after vs before the activation vs no BN: the chapter's two models and the plain network. */
import { optimizers, zoo } from 'keel';
import { combine, compare, describe, meanStd } from '../verdict.js';
import { lineChart } from '../plots.js';
import { epochsAxis, firstN, lastOf, meanCurve, runAll, type Experiment, sized } from '../common.js';
import { count } from '../../format.js';

const { sgd } = optimizers;
const { buildModel } = zoo;
type ModelName = zoo.ModelName;

const MODELS: { name: ModelName; label: string }[] = [
  { name: 'seed', label: 'BN after activation (seed)' },
  { name: 'seed-before', label: 'BN before activation (seed-before)' },
  { name: 'plain', label: 'no BN (plain)' },
];

export const placement: Experiment = {
  name: 'placement',
  summary: 'BN after vs before the activation vs no BN (the chapter\'s models), validation accuracy per epoch',
  async run(ctx) {
    const data = await ctx.load({ scale: true });
    const epochs = ctx.epochs ?? (ctx.quick ? 3 : 10);
    const train = firstN(data.train, sized(ctx, ctx.quick ? 10000 : Infinity));
    const validation = firstN(data.validation, sized(ctx, ctx.quick ? 2000 : Infinity));
    const learningRate = 1e-3;
    const results = await runAll(ctx, MODELS.map((m) => ({
      label: m.label, build: () => buildModel(m.name), optimizer: () => sgd({ learningRate }),
      epochs, batchSize: 32, train, validation,
    })));
    const finals = (label: string) => results.get(label)!.map((r) => lastOf(r.valAccuracy));
    const [after, before, plain] = MODELS.map((m) => finals(m.label));
    const comparisons = [
      compare({ label: 'validation accuracy, BN after activation vs no BN', favoured: after, other: plain, direction: 'higher', margin: 0.005 }),
      compare({ label: 'validation accuracy, BN before activation vs no BN', favoured: before, other: plain, direction: 'higher', margin: 0.005 }),
    ];
    const placementDiff = compare({ label: 'validation accuracy, BN after vs before the activation', favoured: after, other: before, direction: 'higher', margin: 0.005 });
    return {
      name: 'placement',
      claim: 'Adding BN, after or before each hidden activation, improves validation accuracy over the same network without BN (the book: 0.8750 after vs 0.8660 before, 10 epochs).',
      setup: [
        `${data.name}: ${count(train.xs.shape[0])} training and ${count(validation.xs.shape[0])} validation images, inputs scaled to [0, 1]`,
        `Flatten → [BN] → Dense(300, relu) → … → Dense(100, relu) → … → Dense(10, softmax), Glorot-uniform kernels`,
        `SGD, learning rate ${learningRate}, batch 32, ${epochs} epochs, seeds ${ctx.seeds.join(', ')}`,
      ],
      table: {
        columns: ['model', `validation accuracy after ${epochs} epochs`, 'best epoch (mean curve)', 'seconds per run'],
        rows: MODELS.map((m) => {
          const runs = results.get(m.label)!;
          const curve = meanCurve(runs, (r) => r.valAccuracy);
          return [m.label, meanStd(finals(m.label)), curve.indexOf(Math.max(...curve)) + 1, (runs.reduce((s, r) => s + r.seconds, 0) / runs.length).toFixed(1)];
        }),
      },
      comparisons,
      verdict: combine(comparisons),
      notes: [
        `Placement itself: ${describe(placementDiff)}.`,
        ...(ctx.quick ? ['Quick mode: a subset and few epochs; the book\'s figures are for 55,000 images and 10 epochs.'] : []),
      ],
      figures: [{
        name: 'validation-accuracy',
        caption: 'Validation accuracy per epoch (mean over seeds)',
        spec: lineChart({
          title: 'BN placement: validation accuracy', xTitle: 'epoch', yTitle: 'validation accuracy (fraction)',
          series: MODELS.map((m) => ({ name: m.label, x: epochsAxis(epochs), y: meanCurve(results.get(m.label)!, (r) => r.valAccuracy), dashed: m.name === 'plain' })),
        }),
      }],
      data: { epochs, learningRate, runs: Object.fromEntries([...results].map(([k, rs]) => [k, rs.map(({ model: _m, ...r }) => r)])) },
      csv: [{
        name: 'runs',
        columns: ['model', 'seed', 'epoch', 'val_accuracy', 'val_loss', 'loss', 'accuracy'],
        rows: [...results].flatMap(([label, rs]) => rs.flatMap((r) => r.valAccuracy.map((a, e) => [label, r.seed, e + 1, a, r.valLoss[e], r.trainLoss[e], r.trainAccuracy[e]]))),
      }],
    };
  },
};
