/** Sensitivity to the weight initialization, with and without BN. */
import { initializers, optimizers, zoo } from 'keel';
import { combine, compare, mean, meanStd, std } from '../verdict.js';
import { barChart } from '../plots.js';
import { firstN, lastOf, train, type Experiment, type RunResult, sized } from '../common.js';
import { count } from '../../format.js';

const { sgd } = optimizers;
const { buildModel } = zoo;

const INITS: { label: string; make: () => initializers.Initializer }[] = [
  { label: 'N(0, 0.01²)', make: () => initializers.randomNormal({ stddev: 0.01 }) },
  { label: 'N(0, 0.1²)', make: () => initializers.randomNormal({ stddev: 0.1 }) },
  { label: 'N(0, 1)', make: () => initializers.randomNormal({ stddev: 1 }) },
  { label: 'glorotUniform', make: () => initializers.glorotUniform() },
  { label: 'heNormal', make: () => initializers.heNormal() },
];

export const initialization: Experiment = {
  name: 'initialization',
  summary: 'randomNormal 0.01 / 0.1 / 1, glorotUniform, heNormal, with and without BN',
  async run(ctx) {
    const data = await ctx.load({ scale: true });
    const epochs = ctx.epochs ?? (ctx.quick ? 3 : 5);
    const trainSet = firstN(data.train, sized(ctx, ctx.quick ? 10000 : 20000));
    const validation = firstN(data.validation, sized(ctx, ctx.quick ? 2000 : Infinity));
    const learningRate = 1e-3;
    const results = new Map<string, RunResult[]>();
    for (const init of INITS) {
      for (const bn of [true, false]) {
        const label = `${init.label}, ${bn ? 'BN' : 'no BN'}`;
        const runs: RunResult[] = [];
        for (const seed of ctx.seeds) {
          runs.push(await train(ctx, {
            label, seed, epochs, batchSize: 32, train: trainSet, validation,
            build: () => buildModel(bn ? 'seed' : 'plain', { kernelInitializer: init.make() }),
            optimizer: () => sgd({ learningRate }),
          }));
        }
        results.set(label, runs);
      }
    }
    const finals = (label: string) => results.get(label)!.map((r) => lastOf(r.valAccuracy));
    // Per seed: how far apart the initializations end up (max − min), and the worst one.
    const perSeed = (bn: boolean, f: (xs: number[]) => number) => ctx.seeds.map((_, s) =>
      f(INITS.map((i) => finals(`${i.label}, ${bn ? 'BN' : 'no BN'}`)[s])));
    const spread = (xs: number[]) => Math.max(...xs) - Math.min(...xs);
    const worst = (xs: number[]) => Math.min(...xs);
    const comparisons = [
      compare({ label: 'spread of validation accuracy across initializations (max − min), BN vs no BN', favoured: perSeed(true, spread), other: perSeed(false, spread), direction: 'lower', margin: 0.02 }),
      compare({ label: 'worst validation accuracy across initializations, BN vs no BN', favoured: perSeed(true, worst), other: perSeed(false, worst), direction: 'higher', margin: 0.02 }),
    ];
    return {
      name: 'initialization',
      claim: 'With BN, networks are much less sensitive to the weight initialization.',
      setup: [
        `${data.name}: ${count(trainSet.xs.shape[0])} training and ${count(validation.xs.shape[0])} validation images, scaled to [0, 1]`,
        'the seed model (BN on the input and after each activation) vs the plain model, relu, every Dense kernel drawn from the initializer',
        `SGD, learning rate ${learningRate}, batch 32, ${epochs} epochs, seeds ${ctx.seeds.join(', ')}`,
      ],
      table: {
        columns: ['initializer', 'validation accuracy with BN', 'without BN'],
        rows: [
          ...INITS.map((i) => [i.label, meanStd(finals(`${i.label}, BN`)), meanStd(finals(`${i.label}, no BN`))]),
          ['spread (max − min)', meanStd(perSeed(true, spread)), meanStd(perSeed(false, spread))],
        ],
      },
      comparisons,
      verdict: combine(comparisons),
      notes: ctx.quick ? ['Quick mode: a small subset and few epochs.'] : [],
      figures: [{
        name: 'accuracy-by-initializer', caption: 'Validation accuracy by initializer (mean ± std over seeds)',
        spec: barChart({
          title: 'Sensitivity to initialization', xTitle: 'kernel initializer', yTitle: 'validation accuracy (fraction)', yDomain: [0, 1],
          bars: INITS.flatMap((i) => [true, false].map((bn) => {
            const xs = finals(`${i.label}, ${bn ? 'BN' : 'no BN'}`);
            return { group: i.label, series: bn ? 'with BN' : 'without BN', value: mean(xs), err: std(xs) };
          })),
        }),
      }],
      data: { epochs, learningRate, runs: Object.fromEntries([...results].map(([k, rs]) => [k, rs.map(({ model: _m, ...r }) => r)])) },
      csv: [{
        name: 'runs', columns: ['configuration', 'seed', 'epoch', 'val_accuracy', 'loss'],
        rows: [...results].flatMap(([label, rs]) => rs.flatMap((r) => r.valAccuracy.map((a, e) => [label, r.seed, e + 1, a, r.trainLoss[e]]))),
      }],
    };
  },
};
