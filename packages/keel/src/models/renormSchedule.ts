/**
 * `callbacks.renormClippingSchedule(schedule)`: sets Batch Renormalization's clipping bounds before
 * every training step, as functions of the step, on every BatchNormalization layer of the model that
 * has `renorm: true`:
 *
 *   step = epoch · stepsPerEpoch + batch          (from 0; epoch counts from 0, so a run resumed
 *                                                   with `initialEpoch` continues the schedule)
 *   rmax = schedule.rmax(step),  rmin = schedule.rmin(step),  dmax = schedule.dmax(step)
 *
 * A bound without a function keeps the layer's own value. r is clipped to [rmin, rmax] and d to
 * [−dmax, dmax] (batchNormalization.ts); every value is checked (rmin ≤ 1 ≤ rmax, dmax ≥ 0) for
 * every layer before any layer changes.
 *
 * `batchRenormRamp(options)`: the paper's schedule (Ioffe 2017, §4.1: rmax = 1 and dmax = 0, i.e.
 * plain BN, for the first 5,000 steps, then relaxed to reach rmax = 3 at 40k steps and dmax = 5 at
 * 25k steps), with rmin = 1/rmax as in the paper's clip to [1/rmax, rmax], and linear ramps (the
 * paper says "gradually"):
 *
 *   u(t, end) = clamp((t − warmupSteps) / (end − warmupSteps), 0, 1)
 *   rmax(t) = 1 + (rmaxEnd − 1)·u(t, rmaxEndStep),  rmin(t) = 1/rmax(t),  dmax(t) = dmaxEnd·u(t, dmaxEndStep)
 *
 * @example model.fit(x, y, { callbacks: [keel.callbacks.renormClippingSchedule(keel.callbacks.batchRenormRamp())] })
 *
 * Gotcha: the paper's step counts are for its ImageNet run (batch 32 per worker, 130k+ steps); scale
 * warmupSteps, rmaxEndStep and dmaxEndStep to your run's length.
 * Differs from Keras: Keras has no such callback; there one changes `layer.renorm_clipping` by hand
 * (which a compiled train step may not see).
 */
import { ValueError, describeValue } from '../core/errors.js';
import type { Layer } from '../layers/layer.js';
import { BatchNormalization, renormClippingProblem, type RenormClipping } from '../layers/batchNormalization.js';
import type { FitParams, ParamsAwareCallback } from './callbacks.js';

/** A bound as a function of the 0-based training step. */
export type ClippingFunction = (step: number) => number;

/** One function per bound to schedule; a missing one leaves that bound as the layer has it. */
export interface RenormClippingScheduleFunctions {
  rmax?: ClippingFunction;
  rmin?: ClippingFunction;
  dmax?: ClippingFunction;
}

const BOUNDS = ['rmax', 'rmin', 'dmax'] as const;

/** What the scheduler needs of a model: its layers. */
interface WithLayers { readonly layers: readonly Layer[] }

export class RenormClippingScheduler implements ParamsAwareCallback<WithLayers> {
  private layers: BatchNormalization[] = [];
  private stepsPerEpoch = 0;
  private epoch = 0;
  private calls = 0;

  constructor(private readonly schedule: RenormClippingScheduleFunctions) {
    const given = typeof schedule === 'object' && schedule !== null ? Object.keys(schedule) : [];
    const wrong = given.filter((k) => !(BOUNDS as readonly string[]).includes(k) || typeof (schedule as Record<string, unknown>)[k] !== 'function');
    if (given.length === 0 || wrong.length > 0) {
      throw new ValueError(
        `renormClippingSchedule: expected an object of functions of the step, such as {rmax: (step) => ..., dmax: (step) => ...} ` +
          `(keys rmax, rmin, dmax; or batchRenormRamp()), received ${describeValue(schedule)}` +
          `${wrong.length ? ` (not a function of one of those keys: ${wrong.map((k) => k.slice(0, 40)).join(', ')})` : ''}.`,
      );
    }
  }

  setModel(model: WithLayers): void {
    this.layers = model.layers.filter((l): l is BatchNormalization => l instanceof BatchNormalization && l.renorm);
  }

  setParams(params: FitParams): void {
    this.stepsPerEpoch = params.steps;
  }

  onTrainBegin(): void {
    if (this.layers.length === 0) {
      throw new ValueError(
        'renormClippingSchedule: the model has no BatchNormalization layer with renorm: true, so there is nothing to schedule. ' +
          'Build its BN layers with batchNormalization({renorm: true}), or remove the callback.',
      );
    }
  }

  onEpochBegin(epoch: number): void {
    this.epoch = epoch;
  }

  onBatchBegin(batch: number): void {
    const step = this.stepsPerEpoch > 0 ? this.epoch * this.stepsPerEpoch + batch : this.calls;
    this.calls++;
    this.apply(step);
  }

  /** Sets the bounds for `step` on every renorm layer, all checked before any is set. @internal */
  apply(step: number): void {
    const scheduled: RenormClipping = {};
    for (const bound of BOUNDS) {
      const f = this.schedule[bound];
      if (f) scheduled[bound] = f(step);
    }
    const next = this.layers.map((layer) => ({ ...layer.renormClipping, ...scheduled }));
    next.forEach((clipping, i) => {
      const problem = renormClippingProblem(clipping, 'renormClipping');
      if (problem) {
        throw new ValueError(`renormClippingSchedule: at step ${step}, for layer '${this.layers[i].name}': ${problem} Fix the schedule's functions.`);
      }
    });
    this.layers.forEach((layer, i) => layer.setRenormClipping(next[i]));
  }
}

/** `keel.callbacks.renormClippingSchedule(schedule)`. */
export function renormClippingSchedule(schedule: RenormClippingScheduleFunctions): RenormClippingScheduler {
  return new RenormClippingScheduler(schedule);
}

export interface BatchRenormRampArgs {
  /** Steps of plain BN (rmax = 1, rmin = 1, dmax = 0) first. Default 5000. */
  warmupSteps?: number;
  /** Final rmax (≥ 1), reached at rmaxEndStep. Default 3. */
  rmaxEnd?: number;
  rmaxEndStep?: number;
  /** Final dmax (≥ 0), reached at dmaxEndStep. Default 5. */
  dmaxEnd?: number;
  dmaxEndStep?: number;
}

/** The paper's relaxation of rmax, rmin = 1/rmax and dmax, with linear ramps (see the top). */
export function batchRenormRamp(args: BatchRenormRampArgs = {}): Required<RenormClippingScheduleFunctions> {
  const { warmupSteps = 5000, rmaxEnd = 3, rmaxEndStep = 40_000, dmaxEnd = 5, dmaxEndStep = 25_000 } = args;
  const check = (ok: boolean, what: string, value: unknown) => {
    if (!ok) throw new ValueError(`batchRenormRamp: expected ${what}, received ${describeValue(value)}.`);
  };
  check(Number.isFinite(warmupSteps) && warmupSteps >= 0, 'warmupSteps ≥ 0 (default 5000)', warmupSteps);
  check(Number.isFinite(rmaxEnd) && rmaxEnd >= 1, 'rmaxEnd ≥ 1 (default 3)', rmaxEnd);
  check(Number.isFinite(dmaxEnd) && dmaxEnd >= 0, 'dmaxEnd ≥ 0 (default 5)', dmaxEnd);
  check(Number.isFinite(rmaxEndStep) && rmaxEndStep >= warmupSteps, `rmaxEndStep ≥ warmupSteps (${warmupSteps}; default 40000)`, rmaxEndStep);
  check(Number.isFinite(dmaxEndStep) && dmaxEndStep >= warmupSteps, `dmaxEndStep ≥ warmupSteps (${warmupSteps}; default 25000)`, dmaxEndStep);
  const u = (t: number, end: number) => (end <= warmupSteps ? (t >= end ? 1 : 0) : Math.min(1, Math.max(0, (t - warmupSteps) / (end - warmupSteps))));
  const rmax = (t: number) => 1 + (rmaxEnd - 1) * u(t, rmaxEndStep);
  return { rmax, rmin: (t) => 1 / rmax(t), dmax: (t) => dmaxEnd * u(t, dmaxEndStep) };
}
