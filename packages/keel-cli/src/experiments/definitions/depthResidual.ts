/**
 * Depth, BN and residual connections (He et al. 2016; Ioffe & Szegedy 2015): the CIFAR-style
 * networks of the zoo's ResNet (keel.zoo.buildResnet) at 8, 20 and 56 layers, with and without
 * shortcuts, with and without BN, trained alike, and a norm-free control: the residual network
 * without BN initialized in the style of Fixup (Zhang et al. 2019; buildResnet's `fixup`), which
 * asks whether shortcuts let a deep network train without BN when its initialization suits them
 * (with He-normal kernels a deep residual network without BN diverges). Narrow (4/8/16 filters) on 14×14 images (the
 * 28×28 images average-pooled by 2) so that 15 networks × 3 seeds fit in half an hour on 2 cores.
 *
 * Sizing, from training steps of batch 32 timed on 2 shared cores (load about 9): 60, 120 and 630 ms
 * for the residual BN networks of 8, 20 and 56 layers, 310 ms for the plain 56 without BN; about
 * 2.5 s for one step of the first 12 networks (the Fixup ones cost as much as the residual ones without BN). Full run: 300 steps × 3 seeds; quick: 50 steps × 1 seed.
 * The exact BN statistics cost one pass over their images per BN layer (57 in the 56-layer
 * networks), so they are taken over a few hundred images, once, after the single epoch.
 */
import { layers, optimizers, zoo, type Callback, type Sequential, type Tensor } from 'keel';
import { combine, compare, meanStd, type ComparisonResult, type Verdict } from '../verdict.js';
import { lineChart } from '../plots.js';
import { curvesOf, firstN, lastOf, train, type Experiment, type RunCurves, sized } from '../common.js';
import { count } from '../../format.js';

const { sgd } = optimizers;
const DEPTHS = [8, 20, 56] as const;
const WIDTHS: [number, number, number] = [4, 8, 16];
const BATCH = 32;
/** Points of the accuracy-against-steps curves per run. */
const CURVE_POINTS = 10;

interface Config { depth: number; residual: boolean; bn: boolean; fixup: boolean; label: string }

/** The five kinds of network, as [residual, bn, fixup]. */
const KINDS: [boolean, boolean, boolean][] = [[true, true, false], [true, false, false], [true, false, true], [false, true, false], [false, false, false]];
const kindName = (residual: boolean, bn: boolean, fixup: boolean) => `${residual ? 'residual' : 'plain'}, ${bn ? 'BN' : fixup ? 'Fixup, no BN' : 'no BN'}`;
const labelOf = (depth: number, residual: boolean, bn: boolean, fixup = false) => `${depth} layers, ${kindName(residual, bn, fixup)}`;

function build(c: Config): Sequential {
  return zoo.buildResnet({
    blocksPerStage: (c.depth - 2) / 6, residual: c.residual, widths: WIDTHS, inputPooling: 2, kernelInitializer: 'heNormal',
    normalize: c.bn ? () => [layers.batchNormalization()] : null, fixup: c.fixup,
  });
}

/** ‖∂L/∂W‖ of the first convolution's kernel on the first batch, with the run's initial weights. */
function firstLayerGradientNorm(model: Sequential, x: Tensor, y: Tensor): number {
  model.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy' });
  model.computeGradients(x, y);
  const grad = model.trainableWeights[0].grad!.values;
  let s = 0;
  for (let i = 0; i < grad.length; i++) s += grad[i] * grad[i];
  return Math.sqrt(s);
}

/**
 * The training accuracy of each step, from the running means fit's batch logs hold, averaged into
 * `CURVE_POINTS` windows: [step at the window's end, accuracy].
 */
class StepAccuracy implements Callback {
  readonly perStep: number[] = [];
  private seen = 0;
  private hits = 0;
  async onEpochBegin(): Promise<void> {
    this.seen = 0;
    this.hits = 0;
  }
  async onBatchEnd(_batch: number, logs?: Record<string, number>): Promise<void> {
    const size = logs!.size;
    const hitsNow = logs!.accuracy * (this.seen + size);
    this.perStep.push((hitsNow - this.hits) / size);
    this.seen += size;
    this.hits = hitsNow;
  }
  curve(): [number[], number[]] {
    const n = this.perStep.length;
    const windows = Math.min(CURVE_POINTS, n);
    const xs: number[] = [];
    const ys: number[] = [];
    for (let w = 0; w < windows; w++) {
      const from = Math.floor((w * n) / windows);
      const to = Math.floor(((w + 1) * n) / windows);
      const part = this.perStep.slice(from, to);
      xs.push(to);
      ys.push(part.reduce((a, b) => a + b, 0) / Math.max(1, part.length));
    }
    return [xs, ys];
  }
}

interface Run { curves: RunCurves; gradient: number; steps: [number[], number[]] }

export const depthResidual: Experiment = {
  name: 'depth-residual',
  summary: 'plain vs residual CNNs at 8, 20 and 56 layers, with and without BN: which depths train, and the first layer\'s gradient',
  async run(ctx) {
    const data = await ctx.load({ scale: true });
    const epochs = ctx.epochs ?? 1;
    const trainSet = firstN(data.train, sized(ctx, ctx.quick ? 1600 : 9600));
    const validation = firstN(data.validation, sized(ctx, ctx.quick ? 500 : 1000));
    const population = Math.min(trainSet.xs.shape[0], ctx.quick ? 128 : 256);
    const learningRate = 0.02;
    const momentum = 0.9;
    const first = firstN(trainSet, BATCH);
    const configs: Config[] = DEPTHS.flatMap((depth) => KINDS.map(([residual, bn, fixup]) =>
      ({ depth, residual, bn, fixup, label: labelOf(depth, residual, bn, fixup) })));
    const runs = new Map<string, Run[]>();
    for (const c of configs) {
      const list: Run[] = [];
      for (const seed of ctx.seeds) {
        const steps = new StepAccuracy();
        let gradient = NaN;
        const result = await train(ctx, {
          label: c.label, seed, epochs, batchSize: BATCH, train: trainSet, validation, callbacks: [steps],
          populationStatistics: c.bn ? population : undefined,
          // Built under the run's seed (train() seeds first): the gradient is of the weights the run starts from.
          build: () => {
            const model = build(c);
            gradient = firstLayerGradientNorm(model, first.xs, first.ys);
            return model;
          },
          optimizer: () => sgd({ learningRate, momentum }),
        });
        list.push({ curves: curvesOf(result), gradient, steps: steps.curve() });
      }
      runs.set(c.label, list);
    }

    const finals = (depth: number, residual: boolean, bn: boolean, fixup = false) =>
      runs.get(labelOf(depth, residual, bn, fixup))!.map((r) => lastOf(r.curves.valAccuracy));
    const deep = DEPTHS[DEPTHS.length - 1];
    const bnTrains: ComparisonResult[] = DEPTHS.filter((d) => d >= 20).map((d) => compare({
      label: `validation accuracy, ${d} plain layers, BN vs no BN`, favoured: finals(d, false, true), other: finals(d, false, false), direction: 'higher', margin: 0.05,
    }));
    const residualTrains: ComparisonResult[] = [
      compare({ label: `validation accuracy, ${deep} layers without BN, residual vs plain`, favoured: finals(deep, true, false), other: finals(deep, false, false), direction: 'higher', margin: 0.05 }),
      compare({ label: `validation accuracy, ${deep} layers without BN, residual with Fixup vs plain`, favoured: finals(deep, true, false, true), other: finals(deep, false, false), direction: 'higher', margin: 0.05 }),
      compare({ label: `validation accuracy, ${deep} layers, residual with BN vs plain with BN`, favoured: finals(deep, true, true), other: finals(deep, false, true), direction: 'higher', margin: 0.01 }),
      compare({ label: `validation accuracy, ${deep} layers, residual with BN vs residual without BN`, favoured: finals(deep, true, true), other: finals(deep, true, false), direction: 'higher', margin: 0.01 }),
      compare({ label: `validation accuracy, ${deep} layers, residual with BN vs residual with Fixup`, favoured: finals(deep, true, true), other: finals(deep, true, false, true), direction: 'higher', margin: 0.01 }),
    ];
    const comparisons = [...bnTrains, ...residualTrains];
    const claims: [string, Verdict][] = [
      ['BN lets deep networks train', combine(bnTrains)],
      ['residual connections do too; together they train deepest', combine(residualTrains)],
    ];
    const stepsPerRun = epochs * Math.ceil(trainSet.xs.shape[0] / BATCH);
    const meanOf = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const stepSeries = (depth: number) => KINDS.map(([residual, bn, fixup]) => {
      const rs = runs.get(labelOf(depth, residual, bn, fixup))!;
      const x = rs[0].steps[0];
      return { name: kindName(residual, bn, fixup), x, y: x.map((_, i) => meanOf(rs.map((r) => r.steps[1][i] ?? NaN))), dashed: !bn };
    });
    return {
      name: 'depth-residual',
      claim: 'BN lets deep networks train; residual connections do too; together they train deepest.',
      setup: [
        `${data.name}: ${count(trainSet.xs.shape[0])} training and ${count(validation.xs.shape[0])} validation images, scaled to [0, 1], average-pooled to 14×14`,
        `keel.zoo.buildResnet with ${WIDTHS.join('/')} filters: Conv(3×3) → [basic block] × 3n → global average pooling → Dense(10, softmax), depth 6n + 2 = ${DEPTHS.join(', ')}; ` +
          'residual: each block\'s output added to its input (1×1 projection + BN where the shape changes); plain: the same layers without the Add; BN after every convolution, or none (convolutions then get a bias)',
        'Fixup, no BN: the residual network without BN, the last convolution of each block and the classifier starting at zero and the first convolution of each block scaled by L^(−1/2) for L blocks (Fixup\'s initialization without its scalar multipliers and biases)',
        `He-normal kernels; SGD, learning rate ${learningRate}, momentum ${momentum}, batch ${BATCH}, ${epochs} epoch${epochs > 1 ? 's' : ''} (${stepsPerRun} steps), seeds ${ctx.seeds.join(', ')}`,
      ],
      table: {
        columns: ['network', 'validation accuracy', '‖∂L/∂W‖ of the first convolution at the start', 'diverged'],
        rows: configs.map((c) => {
          const rs = runs.get(c.label)!;
          return [c.label, meanStd(rs.map((r) => lastOf(r.curves.valAccuracy))), meanStd(rs.map((r) => r.gradient), 5), `${rs.filter((r) => r.curves.diverged).length} of ${rs.length}`];
        }),
      },
      comparisons,
      verdict: combine(comparisons),
      notes: [
        ...claims.map(([claim, verdict]) => `Claim "${claim}": ${verdict} (its comparisons are listed below).`),
        'The first-layer gradient is measured once, on the first batch, with the weights each run starts from: a deep plain network without BN sends back a vanishing (or exploding) gradient; the table shows how much reaches the first layer.',
        'The Fixup networks start with a zero classifier and zero last convolutions in every block, so the first batch sends no gradient to the first layer (0 in the table, left out of the gradient chart); the first steps train the classifier, and the rest follows.',
        `BN networks are validated with exact population statistics over the first ${count(population)} training images (every position of every image counts: ` +
          `${count(population * 49)} or more values per channel), recomputed before each validation: ${stepsPerRun} steps leave moving averages of momentum 0.99 far from the statistics, and the claims are about training.`,
        'A run whose loss became NaN or infinite is marked diverged; its accuracy is that of the weights from before the failing step.',
        'The accuracy-against-steps curves are training accuracy in training mode (batch statistics), averaged over windows of steps.',
        ...(ctx.quick ? ['Quick mode: a small subset and one seed; the verdicts rest on the margins alone.'] : []),
      ],
      figures: [
        {
          name: 'accuracy-vs-depth', caption: 'Final validation accuracy against depth (mean over seeds)',
          spec: lineChart({
            title: 'Which depths train', xTitle: 'layers', yTitle: 'validation accuracy', yDomain: [0, 1],
            series: KINDS.map(([residual, bn, fixup]) => ({
              name: kindName(residual, bn, fixup), x: [...DEPTHS], y: DEPTHS.map((d) => meanOf(finals(d, residual, bn, fixup))), dashed: !bn,
            })),
          }),
        },
        ...DEPTHS.map((d) => ({
          name: `accuracy-vs-steps-${d}`, caption: `Training accuracy against steps, ${d} layers (mean over seeds)`,
          spec: lineChart({ title: `${d} layers: training accuracy`, xTitle: 'step', yTitle: 'training accuracy (window mean)', yDomain: [0, 1] as [number, number], series: stepSeries(d) }),
        })),
        {
          name: 'first-layer-gradient', caption: 'First convolution\'s gradient norm at the start against depth (mean over seeds, log scale)',
          spec: lineChart({
            title: 'Gradient reaching the first layer', xTitle: 'layers', yTitle: '‖∂L/∂W₁‖ (log scale)', logY: true,
            // Not the Fixup networks: their classifier starts at zero, so the first batch sends no
            // gradient back at all (0 in the table), which a log scale cannot draw.
            series: KINDS.filter(([, , fixup]) => !fixup).map(([residual, bn, fixup]) => ({
              name: kindName(residual, bn, fixup), x: [...DEPTHS],
              y: DEPTHS.map((d) => meanOf(runs.get(labelOf(d, residual, bn, fixup))!.map((r) => r.gradient))), dashed: !bn,
            })),
          }),
        },
      ],
      data: { epochs, learningRate, momentum, widths: WIDTHS, claims: Object.fromEntries(claims), runs: Object.fromEntries(runs) },
      csv: [{
        name: 'runs', columns: ['network', 'seed', 'epoch', 'val_accuracy', 'loss', 'first_layer_gradient', 'diverged'],
        rows: [...runs].flatMap(([label, rs]) => rs.flatMap((r) => r.curves.valAccuracy.map((a, e) =>
          [label, r.curves.seed, e + 1, a, r.curves.trainLoss[e], r.gradient, r.curves.diverged ? 1 : 0]))),
      }],
    };
  },
};
