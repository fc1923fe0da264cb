/**
 * `callbacks.learningRateScheduler(schedule)`: sets the optimizer's learning rate at the start of
 * each epoch to `schedule(epoch, currentRate)`, as Keras's `LearningRateScheduler`.
 *
 *   lr_epoch = schedule(epoch, lr_{epoch-1})        epoch counted from 0
 *
 * The rate the epoch ran with is added to its logs as `learning_rate` (Keras 3's key), so it appears
 * in `history.history.learning_rate`.
 *
 * Gotcha: the schedule is read once per epoch, not per step; a rate that must change within an epoch
 * needs an optimizer-side schedule (not in Keel yet). With `initialEpoch` the first call gets that
 * epoch's index, so a resumed run continues the same schedule.
 * Differs from TF.js: TF.js has no such callback; this follows Keras.
 */
import { ValueError, describeValue } from '../core/errors.js';
import type { Logs, ParamsAwareCallback } from './callbacks.js';

/** A learning-rate schedule: epoch (from 0) and the current rate in, the epoch's rate out. */
export type LearningRateSchedule = (epoch: number, learningRate: number) => number;

/** What the scheduler needs of a model: its compiled optimizer's learning rate. */
interface WithOptimizer { readonly optimizer: { learningRate: number } | null }

export class LearningRateScheduler implements ParamsAwareCallback<WithOptimizer> {
  private model: WithOptimizer | null = null;
  private rate = NaN;

  constructor(private readonly schedule: LearningRateSchedule, private readonly verbose = 0) {
    if (typeof schedule !== 'function') {
      throw new ValueError(
        `learningRateScheduler: expected a function (epoch, learningRate) => number, received ${describeValue(schedule)}.`,
      );
    }
  }

  setModel(model: WithOptimizer): void {
    this.model = model;
  }

  onEpochBegin(epoch: number): void {
    const optimizer = this.model?.optimizer;
    if (!optimizer) {
      throw new ValueError('learningRateScheduler: the model has no optimizer; pass the callback to fit() of a compiled model.');
    }
    const rate = this.schedule(epoch, optimizer.learningRate);
    if (typeof rate !== 'number' || !Number.isFinite(rate) || rate < 0) {
      throw new ValueError(
        `learningRateScheduler: the schedule returned ${describeValue(rate)} for epoch ${epoch}; expected a finite number >= 0.`,
      );
    }
    optimizer.learningRate = rate;
    this.rate = rate;
    if (this.verbose > 0) console.log(`Epoch ${epoch + 1}: learningRateScheduler setting learning rate to ${rate}.`);
  }

  onEpochEnd(_epoch: number, logs?: Logs): void {
    if (logs) logs.learning_rate = this.rate;
  }
}

/** `keel.callbacks.learningRateScheduler(schedule, verbose?)`. */
export function learningRateScheduler(schedule: LearningRateSchedule, verbose = 0): LearningRateScheduler {
  return new LearningRateScheduler(schedule, verbose);
}

/**
 * Cosine decay over `epochs` epochs, per epoch: lr_e = lr_0 · (1 + cos(π·e / epochs)) / 2, from lr_0 at
 * epoch 0 to lr_0·(1 + cos(π·(epochs−1)/epochs))/2 at the last (Loshchilov & Hutter's SGDR without
 * restarts, one value per epoch). Use with `learningRateScheduler`.
 */
export function cosineDecaySchedule(initialLearningRate: number, epochs: number): LearningRateSchedule {
  if (!(initialLearningRate > 0) || !Number.isFinite(initialLearningRate)) {
    throw new ValueError(`cosineDecaySchedule: expected initialLearningRate > 0, received ${describeValue(initialLearningRate)}.`);
  }
  if (!Number.isInteger(epochs) || epochs < 1) {
    throw new ValueError(`cosineDecaySchedule: expected epochs to be a positive integer, received ${describeValue(epochs)}.`);
  }
  return (epoch) => (initialLearningRate * (1 + Math.cos((Math.PI * Math.min(epoch, epochs)) / epochs))) / 2;
}
