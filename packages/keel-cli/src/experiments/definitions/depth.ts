/** Vanishing gradients: deep sigmoid/tanh networks with and without BN. */
import { diagnostics, optimizers, zoo } from 'keel';
import { combine, compare, meanStd, type ComparisonResult } from '../verdict.js';
import { lineChart } from '../plots.js';
import { epochsAxis, firstN, lastOf, meanCurve, train, type Experiment, type RunResult, sized } from '../common.js';
import { count } from '../../format.js';

const { Diagnostics } = diagnostics;
const { sgd } = optimizers;
const { buildModel } = zoo;
type LayerRecord = diagnostics.LayerRecord;

interface Config { depth: number; activation: 'sigmoid' | 'tanh'; bn: boolean; label: string }

export const depth: Experiment = {
  name: 'depth',
  summary: 'vanishing gradients: 10 and 20 hidden layers of 100 sigmoid/tanh units, with and without BN',
  async run(ctx) {
    const data = await ctx.load({ scale: true });
    const epochs = ctx.epochs ?? (ctx.quick ? 3 : 5);
    const train_ = firstN(data.train, sized(ctx, ctx.quick ? 10000 : 20000));
    const validation = firstN(data.validation, sized(ctx, ctx.quick ? 2000 : Infinity));
    const learningRate = 0.01;
    const depths = [10, 20];
    const configs: Config[] = depths.flatMap((d) => (['sigmoid', 'tanh'] as const).flatMap((a) =>
      [true, false].map((bn) => ({ depth: d, activation: a, bn, label: `${d} × ${a}, ${bn ? 'BN' : 'no BN'}` }))));
    const stepsPerEpoch = Math.ceil(train_.xs.shape[0] / 32);
    const runs = new Map<string, { run: RunResult; records: LayerRecord[] }[]>();
    for (const c of configs) {
      const list: { run: RunResult; records: LayerRecord[] }[] = [];
      for (const seed of ctx.seeds) {
        const diag = new Diagnostics({ every: Math.max(1, Math.floor((stepsPerEpoch * epochs) / 10)) });
        const run = await train(ctx, {
          label: c.label, seed, epochs, batchSize: 32, train: train_, validation, callbacks: [diag],
          // BN before each activation, as in Ioffe & Szegedy; the same network without BN otherwise.
          build: () => buildModel(c.bn ? 'seed-before' : 'plain', { activation: c.activation, hiddenUnits: Array(c.depth).fill(100) }),
          optimizer: () => sgd({ learningRate }),
        });
        list.push({ run, records: diag.records });
      }
      runs.set(c.label, list);
    }
    /** Kernel gradient norm per hidden Dense layer at a recorded step (first or last), averaged over seeds. */
    const gradientProfile = (label: string, when: 'first' | 'last'): number[] => {
      const perSeed = runs.get(label)!.map(({ records }) => {
        const steps = [...new Set(records.map((r) => r.step))];
        const step = when === 'first' ? steps[0] : steps[steps.length - 1];
        return records.filter((r) => r.step === step && Number.isFinite(r.gradientNorm)).map((r) => r.gradientNorm);
      });
      return perSeed[0].map((_, i) => perSeed.reduce((s, p) => s + p[i], 0) / perSeed.length);
    };
    // log10(‖∇W₁‖ / ‖∇W_last hidden‖): 0 when gradients reach the first layer undiminished.
    const vanishing = (label: string, when: 'first' | 'last') => runs.get(label)!.map(({ records }) => {
      const steps = [...new Set(records.map((r) => r.step))];
      const step = when === 'first' ? steps[0] : steps[steps.length - 1];
      const g = records.filter((r) => r.step === step && Number.isFinite(r.gradientNorm)).map((r) => r.gradientNorm);
      return Math.log10(g[0] / g[g.length - 2]);
    });
    const finals = (label: string) => runs.get(label)!.map(({ run }) => lastOf(run.valAccuracy));
    const comparisons: ComparisonResult[] = [];
    for (const d of depths) {
      for (const a of ['sigmoid', 'tanh'] as const) {
        const withBn = `${d} × ${a}, BN`;
        const without = `${d} × ${a}, no BN`;
        comparisons.push(compare({ label: `validation accuracy, ${d} ${a} layers, BN vs no BN`, favoured: finals(withBn), other: finals(without), direction: 'higher', margin: 0.02 }));
        comparisons.push(compare({ label: `log10 first/last-layer gradient norm at the start, ${d} ${a} layers, BN vs no BN`, favoured: vanishing(withBn, 'first').map(Math.abs).map((v) => -v), other: vanishing(without, 'first').map(Math.abs).map((v) => -v), direction: 'higher', margin: 0.3 }));
      }
    }
    const profileSeries = (when: 'first' | 'last') => configs.filter((c) => c.depth === 20).map((c) => {
      const g = gradientProfile(c.label, when).slice(0, -1); // hidden layers only
      return { name: c.label, x: g.map((_, i) => i + 1), y: g, dashed: !c.bn };
    });
    return {
      name: 'depth',
      claim: 'BN strongly reduces vanishing gradients, enough to train deep networks of saturating activations (sigmoid, tanh).',
      setup: [
        `${data.name}: ${count(train_.xs.shape[0])} training and ${count(validation.xs.shape[0])} validation images, scaled to [0, 1]`,
        `Flatten → BN → [Dense(100, no bias) → BN → activation] × depth → Dense(10, softmax), vs Flatten → [Dense(100, activation)] × depth → Dense(10, softmax); Glorot-uniform kernels`,
        `SGD, learning rate ${learningRate}, batch 32, ${epochs} epochs, seeds ${ctx.seeds.join(', ')}; gradient norms recorded 10 times per run by keel.callbacks.diagnostics`,
      ],
      table: {
        columns: ['network', 'validation accuracy', 'log10 ‖∇W₁‖/‖∇W_last‖ at start', 'same, at the end'],
        rows: configs.map((c) => [c.label, meanStd(finals(c.label)), meanStd(vanishing(c.label, 'first'), 2), meanStd(vanishing(c.label, 'last'), 2)]),
      },
      comparisons,
      verdict: combine(comparisons),
      notes: [
        'Validation uses the moving statistics (momentum 0.99): with few training steps they have not converged yet, and a deep BN network then scores near chance at inference even though it trains; the subsets are sized to give several hundred steps.',
        'The gradient ratio compares the first hidden layer\'s kernel gradient with the last hidden layer\'s: −3 means the first layer receives a thousandth of the gradient. The comparison uses its absolute value (closer to 0 is better). Glorot initialization is designed for tanh, so a tanh network without BN may show no vanishing gradient at the start, and then BN has none to reduce.',
        ...(ctx.quick ? ['Quick mode: a small subset and few epochs.'] : []),
      ],
      figures: [
        {
          name: 'validation-accuracy', caption: 'Validation accuracy per epoch (mean over seeds)',
          spec: lineChart({ title: 'Deep saturating networks: validation accuracy', xTitle: 'epoch', yTitle: 'validation accuracy (fraction)',
            series: configs.map((c) => ({ name: c.label, x: epochsAxis(epochs), y: meanCurve(runs.get(c.label)!.map((r) => r.run), (r) => r.valAccuracy), dashed: !c.bn })) }),
        },
        {
          name: 'gradients-start', caption: 'Kernel gradient norm per hidden layer at the first step, 20 layers (log scale)',
          spec: lineChart({ title: 'Gradient norm per layer at the start (20 layers)', xTitle: 'hidden layer (1 = nearest the input)', yTitle: '‖∂L/∂W‖ (log scale)', logY: true, series: profileSeries('first') }),
        },
        {
          name: 'gradients-end', caption: 'Kernel gradient norm per hidden layer at the last recorded step, 20 layers (log scale)',
          spec: lineChart({ title: 'Gradient norm per layer during training (20 layers)', xTitle: 'hidden layer (1 = nearest the input)', yTitle: '‖∂L/∂W‖ (log scale)', logY: true, series: profileSeries('last') }),
        },
      ],
      data: { epochs, learningRate, runs: Object.fromEntries([...runs].map(([k, rs]) => [k, rs.map(({ run: { model: _m, ...r }, records }) => ({ ...r, diagnostics: records }))])) },
      csv: [{
        name: 'diagnostics',
        columns: ['network', 'seed', 'step', 'layer', 'gradient_norm', 'update_ratio', 'pre_p15', 'pre_p50', 'pre_p85', 'saturated'],
        rows: [...runs].flatMap(([label, rs]) => rs.flatMap(({ run, records }) => records.map((r) =>
          [label, run.seed, r.step, r.layer, r.gradientNorm, r.updateRatio, r.preActivation.p15, r.preActivation.p50, r.preActivation.p85, r.saturated]))),
      }],
    };
  },
};
