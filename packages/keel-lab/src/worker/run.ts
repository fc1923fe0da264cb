/**
 * One of the two runs: its model, its optimizer, and what the charts need from each step.
 *
 * The distribution bands come from keel's diagnostics recorder, driven step by step here as `fit`
 * would drive it. This batch's BN statistics are read back from the moving averages:
 *   moving' = moving·m + batch·(1 − m)   ⇒   batch = (moving' − moving·m) / (1 − m)
 * with m the layer's momentum, which gives the statistics BN used in the step itself without a
 * second forward pass (float32 rounding of the moving values, amplified by 1/(1 − m) = 100 at the
 * default momentum, leaves them correct to about 1e-5 of their size).
 */
import * as keel from 'keel';
import type { LabState, RunSettings } from '../state.js';
import type { ProbePoint, RunInfo, RunProgress, StepPoint, ValidationPoint } from '../messages.js';
import { buildOptimizer, buildRunModel, chartedLayers, summaryText } from './models.js';

export class LabRun {
  readonly model: keel.Sequential;
  readonly info: RunInfo;
  stopped: string | null = null;
  private diagnostics!: keel.callbacks.Diagnostics;
  private preActivationLayer: string | null = null;
  private batchNorm: keel.layers.BatchNormalization | null = null;
  private feature = 0;
  /** Steps since the recorder was made (it records when this is a multiple of probeEvery). */
  private followedSteps = 0;
  private readonly kernels: keel.layers.LayerVariable[];
  /** Points not yet sent to the page. */
  private pending: RunProgress = { steps: [], validation: [], probes: [], stopped: null };

  constructor(state: LabState, settings: RunSettings, readonly probeEvery: number) {
    keel.setRandomSeed(state.seed);
    this.model = buildRunModel(state, settings);
    this.model.compile({ optimizer: buildOptimizer(state), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
    this.kernels = this.model.layers.flatMap((l) => l.trainableWeights.filter((w) => w.shortName === 'kernel'));
    this.follow(state.layer, state.feature);
    this.info = {
      summary: summaryText(this.model),
      kernels: this.kernels.map((w) => w.name.split('/')[0]),
      preActivationLayer: this.preActivationLayer,
      batchNormLayer: this.batchNorm?.name ?? null,
      parameters: this.model.countParams(),
    };
  }

  /** Follows hidden layer `layer`'s feature `feature` from the next recorded step on. */
  follow(layer: number, feature: number): void {
    const charted = chartedLayers(this.model, layer);
    this.preActivationLayer = charted.preActivation;
    this.batchNorm = charted.batchNorm;
    this.feature = feature;
    this.followedSteps = 0;
    this.diagnostics = keel.callbacks.diagnostics({ every: this.probeEvery, unit: feature });
    this.diagnostics.setModel(this.model);
    if (this.info) {
      this.info.preActivationLayer = this.preActivationLayer;
      this.info.batchNormLayer = this.batchNorm?.name ?? null;
    }
  }

  private movingStatistics(): [number, number] {
    const bn = this.batchNorm!;
    const value = (name: string) => bn.weights.find((w) => w.shortName === name)!.read().dataSync()[this.feature];
    return [value('moving_mean'), value('moving_variance')];
  }

  /** One training step on (x, y); `step` counts from 0 for both runs alike. */
  async step(x: keel.Tensor, y: keel.Tensor, step: number): Promise<void> {
    if (this.stopped) return;
    // The recorder counts the steps it has seen since `follow` and records every probeEvery-th.
    const recording = this.followedSteps % this.probeEvery === 0;
    const bn = recording && this.batchNorm && this.feature < this.batchNorm.inputShape[this.batchNorm.inputShape.length - 1] ? this.batchNorm : null;
    const before = bn ? this.movingStatistics() : null;
    this.diagnostics.onBatchBegin();
    let result: number | number[];
    try {
      result = await this.model.trainOnBatch(x, y);
    } catch (e) {
      if (e instanceof keel.NonFiniteLossError) {
        this.stopped = `stopped at step ${step}: the loss became ${e.message.match(/NaN|-?Infinity/)?.[0] ?? 'non-finite'} (the weights blew up; try a smaller learning rate, or normalization)`;
        this.pending.stopped = this.stopped;
        return;
      }
      throw e;
    }
    const [loss, accuracy] = result as number[];
    this.pending.steps.push({ step, loss, accuracy });
    this.diagnostics.onBatchEnd(step);
    this.followedSteps++;
    if (!recording) return;
    const record = this.diagnostics.records.find((r) => r.layer === this.preActivationLayer);
    // Only this step's records are needed: the recorder's history would grow over a long run.
    this.diagnostics.records.length = 0;
    const probe: ProbePoint = {
      step,
      p15: record?.unitPreActivation.p15 ?? NaN,
      p50: record?.unitPreActivation.p50 ?? NaN,
      p85: record?.unitPreActivation.p85 ?? NaN,
      gradientNorms: this.kernels.map((w) => norm(w.grad!.dataSync())),
      batchMean: NaN, batchVariance: NaN, movingMean: NaN, movingVariance: NaN,
    };
    if (bn && before) {
      const [mean, variance] = this.movingStatistics();
      const m = bn.momentum;
      probe.movingMean = mean;
      probe.movingVariance = variance;
      probe.batchMean = (mean - before[0] * m) / (1 - m);
      probe.batchVariance = (variance - before[1] * m) / (1 - m);
    }
    this.pending.probes.push(probe);
  }

  validate(x: keel.Tensor, y: keel.Tensor, step: number): void {
    if (this.stopped) return;
    const [loss, accuracy] = this.model.evaluate(x, y, { batchSize: 100 }) as keel.Tensor[];
    this.pending.validation.push({ step, loss: loss.dataSync()[0], accuracy: accuracy.dataSync()[0] });
  }

  /** The points recorded since the last call. */
  take(): RunProgress {
    const out = this.pending;
    this.pending = { steps: [], validation: [], probes: [], stopped: null };
    return out;
  }
}

function norm(values: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i] * values[i];
  return Math.sqrt(s);
}

export type { StepPoint, ValidationPoint };
