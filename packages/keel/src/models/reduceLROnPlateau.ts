/**
 * `callbacks.reduceLROnPlateau(args)`: multiplies the optimizer's learning rate by `factor` when the
 * monitored figure has not improved for `patience` epochs, as Keras 3's `ReduceLROnPlateau` (TF.js
 * has no such callback). At each epoch's end:
 *
 *   logs.learning_rate ← the rate the epoch ran with
 *   if cooling down:  cooldownCounter ← cooldownCounter − 1, wait ← 0
 *   if current beats best by more than minDelta:  best ← current, wait ← 0
 *   else if not cooling down (after the step above):  wait ← wait + 1, and if wait >= patience and
 *       lr > minLr:  lr ← max(lr · factor, minLr), cooldownCounter ← cooldown, wait ← 0
 *
 * The new rate applies from the next epoch. State is reset at each fit's start (Keras too). With
 * `initialEpoch` the state starts afresh, as in Keras.
 * Differs from Keras: mode 'auto' refuses a name it cannot place (see monitor.ts) instead of
 * minimizing it, and minDelta must be >= 0.
 */
import { StateError, ValueError } from '../core/errors.js';
import type { FitParams, Logs, ParamsAwareCallback } from './callbacks.js';
import {
  checkArgs, checkMonitorLogged, integerOption, isImprovement, modeOption, monitorDirection, monitorOption, monitoredValue,
  numberOption, type MonitorMode,
} from './monitor.js';

export interface ReduceLROnPlateauArgs {
  /** Default 'val_loss'. */
  monitor?: string;
  /** new rate = rate · factor, in (0, 1). Default 0.1. */
  factor?: number;
  /** Epochs without improvement before reducing. Default 10. */
  patience?: number;
  /** 1: say when the rate is reduced. Default 0. */
  verbose?: number;
  /** Default 'auto'. */
  mode?: MonitorMode;
  /** A change of at most this much is no improvement. Default 1e-4. */
  minDelta?: number;
  /** Epochs after a reduction during which no epoch counts against patience. Default 0. */
  cooldown?: number;
  /** The rate is never reduced below this. Default 0. */
  minLr?: number;
}

interface WithOptimizer { readonly optimizer: { learningRate: number } | null }

const OPTIONS = ['monitor', 'factor', 'patience', 'verbose', 'mode', 'minDelta', 'cooldown', 'minLr'];

export class ReduceLROnPlateau implements ParamsAwareCallback<WithOptimizer> {
  readonly monitor: string;
  readonly factor: number;
  readonly patience: number;
  readonly verbose: number;
  readonly mode: 'min' | 'max';
  readonly minDelta: number;
  readonly cooldown: number;
  readonly minLr: number;
  wait = 0;
  cooldownCounter = 0;
  best: number;
  private model: WithOptimizer | null = null;
  private params: FitParams | null = null;

  constructor(args: ReduceLROnPlateauArgs = {}) {
    const where = 'reduceLROnPlateau';
    const a = checkArgs(where, args, OPTIONS);
    this.monitor = monitorOption(where, a.monitor);
    this.mode = monitorDirection(where, this.monitor, modeOption(where, a.mode));
    this.factor = numberOption(where, 'factor', a.factor, 0.1, (v) => v > 0 && v < 1,
      'a number in (0, 1), the multiplier of the rate (0.1 divides it by 10)');
    this.patience = integerOption(where, 'patience', a.patience, 10, 'epochs without improvement before reducing');
    this.verbose = integerOption(where, 'verbose', a.verbose, 0, '0: silent, 1: say when the rate is reduced');
    this.minDelta = numberOption(where, 'minDelta', a.minDelta, 1e-4, (v) => v >= 0, 'a number >= 0 (the smallest change that counts as an improvement)');
    this.cooldown = integerOption(where, 'cooldown', a.cooldown, 0, 'epochs to wait after a reduction');
    this.minLr = numberOption(where, 'minLr', a.minLr, 0, (v) => v >= 0, 'a number >= 0 (the lowest rate)');
    this.best = this.mode === 'min' ? Infinity : -Infinity;
  }

  setModel(model: WithOptimizer): void {
    this.model = model;
  }

  setParams(params: FitParams): void {
    this.params = params;
  }

  onTrainBegin(): void {
    checkMonitorLogged('reduceLROnPlateau', this.monitor, this.params);
    this.optimizer();
    this.wait = 0;
    this.cooldownCounter = 0;
    this.best = this.mode === 'min' ? Infinity : -Infinity;
  }

  onEpochEnd(epoch: number, logs?: Logs): void {
    const optimizer = this.optimizer();
    const current = monitoredValue('reduceLROnPlateau', this.monitor, logs);
    if (logs) logs.learning_rate = optimizer.learningRate;
    if (this.cooldownCounter > 0) {
      this.cooldownCounter--;
      this.wait = 0;
    }
    if (isImprovement(this.mode, current, this.best, this.minDelta)) {
      this.best = current;
      this.wait = 0;
    } else if (this.cooldownCounter === 0) {
      this.wait++;
      if (this.wait >= this.patience) {
        const old = optimizer.learningRate;
        if (old > this.minLr) {
          const rate = Math.max(old * this.factor, this.minLr);
          optimizer.learningRate = rate;
          if (this.verbose > 0) console.log(`Epoch ${epoch + 1}: reduceLROnPlateau reducing learning rate to ${rate}.`);
          this.cooldownCounter = this.cooldown;
          this.wait = 0;
        }
      }
    }
  }

  private optimizer(): { learningRate: number } {
    if (!this.model) throw new StateError('reduceLROnPlateau: no model; pass the callback to fit() of a compiled model.');
    const optimizer = this.model.optimizer;
    if (!optimizer) throw new ValueError('reduceLROnPlateau: the model has no optimizer; pass the callback to fit() of a compiled model.');
    return optimizer;
  }
}

/** `keel.callbacks.reduceLROnPlateau({monitor, factor, patience, mode, minDelta, cooldown, minLr, verbose})`. */
export function reduceLROnPlateau(args?: ReduceLROnPlateauArgs): ReduceLROnPlateau {
  return new ReduceLROnPlateau(args);
}
