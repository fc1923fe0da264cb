/** Learning-rate sweep with and without BN. */
import { optimizers, zoo } from 'keel';
import { combine, compare, mean, meanStd } from '../verdict.js';
import { lineChart } from '../plots.js';
import { firstN, lastOf, train, type Experiment, type RunResult, sized } from '../common.js';
import { count } from '../../format.js';

const { sgd } = optimizers;
const { buildModel } = zoo;

export const learningRate: Experiment = {
  name: 'learning-rate',
  summary: 'SGD learning rates from 1e-3 to 1 with and without BN: final accuracy and epochs to a target',
  async run(ctx) {
    const data = await ctx.load({ scale: true });
    const epochs = ctx.epochs ?? (ctx.quick ? 3 : 5);
    const trainSet = firstN(data.train, sized(ctx, ctx.quick ? 10000 : 20000));
    const validation = firstN(data.validation, sized(ctx, ctx.quick ? 2000 : Infinity));
    const rates = ctx.quick ? [1e-3, 1e-2, 0.1, 1] : [1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1];
    const target = ctx.quick ? 0.7 : 0.8;
    const results = new Map<string, RunResult[]>();
    const key = (bn: boolean, rate: number) => `${bn ? 'BN' : 'no BN'}, lr ${rate}`;
    for (const bn of [true, false]) {
      for (const rate of rates) {
        const runs: RunResult[] = [];
        for (const seed of ctx.seeds) {
          runs.push(await train(ctx, {
            label: key(bn, rate), seed, epochs, batchSize: 32, train: trainSet, validation,
            build: () => buildModel(bn ? 'seed' : 'plain'), optimizer: () => sgd({ learningRate: rate }),
          }));
        }
        results.set(key(bn, rate), runs);
      }
    }
    const finals = (bn: boolean, rate: number) => results.get(key(bn, rate))!.map((r) => lastOf(r.valAccuracy));
    const toTarget = (r: RunResult) => {
      const e = r.valAccuracy.findIndex((a) => a >= target);
      return e < 0 ? Infinity : e + 1;
    };
    const large = rates.filter((r) => r >= 0.1);
    const perSeedLarge = (bn: boolean) => ctx.seeds.map((_, s) => mean(large.map((rate) => finals(bn, rate)[s])));
    // "Faster": at each model's own best learning rate, the validation accuracy after the first epoch.
    const best = (bn: boolean) => rates.reduce((b, r) => (mean(finals(bn, r)) > mean(finals(bn, b)) ? r : b), rates[0]);
    const firstEpoch = (bn: boolean) => results.get(key(bn, best(bn)))!.map((r) => r.valAccuracy[0]);
    const comparisons = [
      compare({ label: `mean validation accuracy at learning rates ≥ 0.1 (${large.join(', ')}), BN vs no BN`, favoured: perSeedLarge(true), other: perSeedLarge(false), direction: 'higher', margin: 0.02 }),
      compare({ label: `validation accuracy after 1 epoch at each model's best learning rate (BN ${best(true)}, no BN ${best(false)})`, favoured: firstEpoch(true), other: firstEpoch(false), direction: 'higher', margin: 0.01 }),
    ];
    const fmtEpochs = (runs: RunResult[]) => runs.map(toTarget).map((e) => (Number.isFinite(e) ? String(e) : '—')).join(' / ');
    return {
      name: 'learning-rate',
      claim: 'With BN, much larger learning rates can be used, and training is faster.',
      setup: [
        `${data.name}: ${count(trainSet.xs.shape[0])} training and ${count(validation.xs.shape[0])} validation images, scaled to [0, 1]`,
        'the seed model (BN) vs the plain model, relu, Glorot-uniform kernels',
        `SGD (no momentum), learning rates ${rates.join(', ')}, batch 32, ${epochs} epochs, seeds ${ctx.seeds.join(', ')}`,
        `target for "epochs to reach": validation accuracy ${target}`,
      ],
      table: {
        columns: ['learning rate', 'accuracy with BN', 'without BN', `epochs to ${target} with BN (per seed)`, 'without BN', 'diverged (BN / no BN)'],
        rows: rates.map((rate) => {
          const bnRuns = results.get(key(true, rate))!;
          const plainRuns = results.get(key(false, rate))!;
          return [rate, meanStd(finals(true, rate)), meanStd(finals(false, rate)), fmtEpochs(bnRuns), fmtEpochs(plainRuns),
            `${bnRuns.filter((r) => r.diverged).length} / ${plainRuns.filter((r) => r.diverged).length}`];
        }),
      },
      comparisons,
      verdict: combine(comparisons),
      notes: [
        'A run whose loss became NaN or infinite is marked diverged; its accuracy is that of the weights from before the failing step.',
        '"—" means the target was not reached within the epochs.',
        ...(ctx.quick ? ['Quick mode: a small subset, few epochs and fewer learning rates.'] : []),
      ],
      figures: [{
        name: 'accuracy-vs-learning-rate', caption: 'Final validation accuracy against the learning rate (mean over seeds)',
        spec: lineChart({
          title: 'Learning-rate sweep', xTitle: 'learning rate (log scale)', yTitle: `validation accuracy after ${epochs} epochs`, logX: true, yDomain: [0, 1],
          series: [true, false].map((bn) => ({ name: bn ? 'with BN (seed)' : 'without BN (plain)', x: rates, y: rates.map((r) => mean(finals(bn, r))), dashed: !bn })),
        }),
      }],
      data: { epochs, rates, target, runs: Object.fromEntries([...results].map(([k, rs]) => [k, rs.map(({ model: _m, ...r }) => r)])) },
      csv: [{
        name: 'runs', columns: ['configuration', 'seed', 'epoch', 'val_accuracy', 'loss', 'diverged'],
        rows: [...results].flatMap(([label, rs]) => rs.flatMap((r) => r.valAccuracy.map((a, e) => [label, r.seed, e + 1, a, r.trainLoss[e], r.diverged ? 1 : 0]))),
      }],
    };
  },
};
