/**
 * Ioffe & Szegedy (2015), Figure 1, on MNIST: three fully connected hidden layers of 100 sigmoid
 * units, small random Gaussian initial weights, batches of 60. (a) test accuracy against training
 * steps with and without BN; (b, c) the 15th, 50th and 85th percentiles of the input to one sigmoid
 * of the last hidden layer, over training, without and with BN.
 */
import { Sequential, diagnostics, initializers, layers, optimizers, setRandomSeed } from 'keel';
import { combine, compare, mean, meanStd } from '../verdict.js';
import { lineChart } from '../plots.js';
import { evaluate, firstN, type Experiment, sized } from '../common.js';
import { count } from '../../format.js';

const { Diagnostics } = diagnostics;
const { sgd } = optimizers;
type LayerRecord = diagnostics.LayerRecord;

const STDDEV = 0.05;

function network(bn: boolean): Sequential {
  const init = () => initializers.randomNormal({ stddev: STDDEV });
  const hidden = Array.from({ length: 3 }, () => bn
    // BN right before each sigmoid, as in the paper; BN's β replaces the Dense bias.
    ? [layers.dense({ units: 100, useBias: false, kernelInitializer: init() }), layers.batchNormalization(), layers.activation({ activation: 'sigmoid' })]
    : [layers.dense({ units: 100, activation: 'sigmoid', kernelInitializer: init() })]).flat();
  return new Sequential({ layers: [
    layers.flatten({ inputShape: [28, 28] }), ...hidden,
    layers.dense({ units: 10, activation: 'softmax', kernelInitializer: init() }),
  ] });
}

interface Trace { steps: number[]; accuracy: number[]; sigmoidInput: LayerRecord[] }

export const paperFigure1: Experiment = {
  name: 'paper-figure-1',
  summary: 'Ioffe & Szegedy (2015) Figure 1 on MNIST: accuracy against steps and a sigmoid input\'s percentiles, with and without BN',
  async run(ctx) {
    const data = await ctx.load({ scale: true, dataset: 'mnist' });
    const totalSteps = sized(ctx, ctx.quick ? 3000 : 50000);
    const batchSize = 60;
    const learningRate = 0.1;
    const test = firstN(data.test, sized(ctx, ctx.quick ? 2000 : Infinity));
    const evaluations = 20;
    const evalEvery = Math.max(1, Math.floor(totalSteps / evaluations));
    const trainSize = data.train.xs.shape[0];
    const epochs = Math.ceil((totalSteps * batchSize) / trainSize);
    const traces = new Map<string, Trace[]>();
    for (const bn of [false, true]) {
      const label = bn ? 'with BN' : 'without BN';
      const list: Trace[] = [];
      for (const seed of ctx.seeds) {
        setRandomSeed(seed);
        const model = network(bn);
        model.compile({ optimizer: sgd({ learningRate }), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
        const diag = new Diagnostics({ every: Math.max(1, Math.floor(totalSteps / 100)) });
        const trace: Trace = { steps: [], accuracy: [], sigmoidInput: [] };
        let step = 0;
        const started = Date.now();
        await model.fit(data.train.xs, data.train.ys, {
          epochs, batchSize, verbose: 0, seed: seed * 7919 + 17,
          callbacks: [diag, {
            onBatchEnd: () => {
              step++;
              if (step % evalEvery === 0 || step === totalSteps) {
                trace.steps.push(step);
                trace.accuracy.push(evaluate(model, test)[1]);
              }
              if (step >= totalSteps) model.stopTraining = true;
            },
          }],
        });
        // The last hidden layer's sigmoid input: the third Dense's x·W + b without BN, the third
        // Activation's input (BN's output) with it.
        const probes = [...new Set(diag.records.filter((r) => r.activation === 'sigmoid').map((r) => r.layer))];
        const last = probes[probes.length - 1];
        trace.sigmoidInput = diag.records.filter((r) => r.layer === last);
        ctx.log(`  ${label}, seed ${seed}: test accuracy ${trace.accuracy[trace.accuracy.length - 1].toFixed(4)} after ${step} steps in ${((Date.now() - started) / 1000).toFixed(1)} s`);
        list.push(trace);
      }
      traces.set(label, list);
    }
    const early = Math.max(1, Math.round(evaluations / 5)) - 1; // the evaluation at ~20% of the steps
    const accAt = (label: string, i: number) => traces.get(label)!.map((t) => t.accuracy[Math.min(i, t.accuracy.length - 1)]);
    /**
     * Drift of the sigmoid input's distribution over training, in units of its own spread: the std
     * over time of each percentile (15, 50, 85), averaged, divided by the mean 15–85 spread. The first
     * 5% of training is left out (every network moves at first).
     */
    const drift = (t: Trace) => {
      const rs = t.sigmoidInput.filter((r) => r.step >= totalSteps * 0.05);
      const sd = (xs: number[]) => Math.sqrt(mean(xs.map((x) => (x - mean(xs)) ** 2)));
      const pick = (q: 'p15' | 'p50' | 'p85') => rs.map((r) => r.unitPreActivation[q]);
      const spread = mean(rs.map((r) => r.unitPreActivation.p85 - r.unitPreActivation.p15));
      return mean([sd(pick('p15')), sd(pick('p50')), sd(pick('p85'))]) / spread;
    };
    const drifts = (label: string) => traces.get(label)!.map(drift);
    const comparisons = [
      compare({ label: `test accuracy after ${count(traces.get('with BN')![0].steps[early])} steps (about a fifth of training), BN vs no BN`, favoured: accAt('with BN', early), other: accAt('without BN', early), direction: 'higher', margin: 0.01 }),
      compare({ label: 'drift of the sigmoid input\'s percentiles over training (relative to their spread), BN vs no BN', favoured: drifts('with BN'), other: drifts('without BN'), direction: 'lower', margin: 0.05 }),
    ];
    const percentileSeries = (label: string) => {
      const t = traces.get(label)![0];
      return (['p15', 'p50', 'p85'] as const).map((q) => ({ name: `${q.slice(1)}th percentile`, x: t.sigmoidInput.map((r) => r.step), y: t.sigmoidInput.map((r) => r.unitPreActivation[q]) }));
    };
    const lastAcc = (label: string) => traces.get(label)!.map((t) => t.accuracy[t.accuracy.length - 1]);
    return {
      name: 'paper-figure-1',
      claim: 'With BN the network trains faster and the distribution of a sigmoid\'s input stays stable over training, while without BN it drifts (internal covariate shift).',
      setup: [
        `${data.name}: ${count(trainSize)} training images, test accuracy on ${count(test.xs.shape[0])} test images, scaled to [0, 1]`,
        `784 → 3 × [Dense(100) → (BN) → sigmoid] → Dense(10, softmax); kernels N(0, ${STDDEV}²); BN before each sigmoid`,
        `SGD, learning rate ${learningRate}, batches of ${batchSize}, ${count(totalSteps)} steps, seeds ${ctx.seeds.join(', ')}; percentiles of unit 0 of the last hidden layer over each recorded batch`,
      ],
      table: {
        columns: ['network', `test accuracy at step ${count(traces.get('with BN')![0].steps[early])}`, `at step ${count(totalSteps)}`, 'drift of the sigmoid input'],
        rows: ['without BN', 'with BN'].map((l) => [l, meanStd(accAt(l, early)), meanStd(lastAcc(l)), meanStd(drifts(l), 3)]),
      },
      comparisons,
      verdict: combine(comparisons),
      notes: [
        'The paper does not give its learning rate or the exact initial scale; the ones above are stated choices, not the paper\'s.',
        ...(ctx.quick ? [`Quick mode: ${count(totalSteps)} steps instead of the paper's 50,000, tested on a subset.`] : []),
      ],
      figures: [
        {
          name: 'a-test-accuracy', caption: '(a) Test accuracy against training steps (mean over seeds)',
          spec: lineChart({
            title: '(a) Test accuracy, with and without BN', xTitle: 'training steps', yTitle: 'test accuracy (fraction)',
            series: ['with BN', 'without BN'].map((l) => {
              const ts = traces.get(l)!;
              return { name: l, x: ts[0].steps, y: ts[0].steps.map((_, i) => mean(ts.map((t) => t.accuracy[i]))), dashed: l === 'without BN' };
            }),
          }),
        },
        {
          name: 'b-sigmoid-input-without-bn', caption: '(b) Without BN: percentiles of one last-hidden-layer sigmoid input over training (first seed)',
          spec: lineChart({ title: '(b) Sigmoid input without BN: 15th/50th/85th percentiles', xTitle: 'training steps', yTitle: 'sigmoid input', series: percentileSeries('without BN') }),
        },
        {
          name: 'c-sigmoid-input-with-bn', caption: '(c) With BN: the same percentiles (first seed)',
          spec: lineChart({ title: '(c) Sigmoid input with BN: 15th/50th/85th percentiles', xTitle: 'training steps', yTitle: 'sigmoid input', series: percentileSeries('with BN') }),
        },
      ],
      data: { totalSteps, batchSize, learningRate, stddev: STDDEV, traces: Object.fromEntries(traces) },
      csv: [
        { name: 'accuracy', columns: ['network', 'seed', 'step', 'test_accuracy'],
          rows: [...traces].flatMap(([l, ts]) => ts.flatMap((t, s) => t.steps.map((st, i) => [l, ctx.seeds[s], st, t.accuracy[i]]))) },
        { name: 'sigmoid-input', columns: ['network', 'seed', 'step', 'p15', 'p50', 'p85'],
          rows: [...traces].flatMap(([l, ts]) => ts.flatMap((t, s) => t.sigmoidInput.map((r) => [l, ctx.seeds[s], r.step, r.unitPreActivation.p15, r.unitPreActivation.p50, r.unitPreActivation.p85]))) },
      ],
    };
  },
};
