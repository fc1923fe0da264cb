/**
 * `callbacks.earlyStopping(args)`: stops `fit` when the monitored figure has stopped improving, as
 * Keras 3's `EarlyStopping` (TF.js's `tf.callbacks.earlyStopping` has the same options but an older
 * rule, and no restoreBestWeights).
 *
 * At each epoch's end (epochs before `startFromEpoch` are not looked at):
 *
 *   wait ← wait + 1
 *   if current beats best by more than minDelta:  best ← current, and if there is no baseline or
 *       current also beats the baseline by more than minDelta: wait ← 0
 *   else if wait >= patience and epoch > 0:  stop training after this epoch
 *
 * So patience p (>= 1) stops at the p-th epoch in a row without improvement, and patience 0 acts as
 * 1 (both stop at the first epoch that does not improve); never at epoch 0. `best` starts at ±∞ (not
 * at the baseline): with a baseline, an epoch that improves on the best so far but not on the
 * baseline keeps counting (wait is not reset) and does not stop training either; the run stops at
 * the first later epoch that does not improve once wait has reached patience.
 *
 * restoreBestWeights: the weights (moving statistics included) of the best epoch are put back at
 * the end of training, whether or not it stopped early (Keras 3; Keras 2 restored only when it
 * stopped). The first monitored epoch counts as best until one beats it, even when none beats the
 * baseline. The optimizer's state is not restored (as in Keras).
 *
 * State (wait, best, bestEpoch, stoppedEpoch) is reset at each fit's start, so that one instance can
 * serve several fits. Differs from Keras 3: Keras resets all but `best`, which it carries from an
 * earlier fit into the next; TF.js resets `best` too (to the baseline).
 */
import type { Tensor } from '../core/tensor.js';
import { StateError } from '../core/errors.js';
import type { FitParams, Logs, ParamsAwareCallback } from './callbacks.js';
import {
  booleanOption, checkArgs, checkMonitorLogged, integerOption, isImprovement, modeOption, monitorDirection, monitorOption,
  monitoredValue, numberOption, type MonitorMode,
} from './monitor.js';

export interface EarlyStoppingArgs {
  /** The logged figure to watch. Default 'val_loss'. */
  monitor?: string;
  /** A change of at most this much (absolute) is no improvement. Default 0. */
  minDelta?: number;
  /** Epochs without improvement before stopping. Default 0. */
  patience?: number;
  /** 1: say when it stops and restores. Default 0. */
  verbose?: number;
  /** 'min', 'max', or 'auto' (from the name: losses down, accuracies up). Default 'auto'. */
  mode?: MonitorMode;
  /** A value the figure must beat for the patience counter to restart. Default: none. */
  baseline?: number;
  /** Put back the weights of the best epoch at the end of training. Default false. */
  restoreBestWeights?: boolean;
  /** Epochs (from 0) to let pass before watching: a warm-up. Default 0. */
  startFromEpoch?: number;
}

/** What early stopping needs of a model. */
interface StoppableModel {
  stopTraining: boolean;
  getWeights(): Tensor[];
  setWeights(weights: Tensor[]): void;
}

const OPTIONS = ['monitor', 'minDelta', 'patience', 'verbose', 'mode', 'baseline', 'restoreBestWeights', 'startFromEpoch'];

export class EarlyStopping implements ParamsAwareCallback<StoppableModel> {
  readonly monitor: string;
  readonly minDelta: number;
  readonly patience: number;
  readonly verbose: number;
  /** The direction `mode` resolved to. */
  readonly mode: 'min' | 'max';
  readonly baseline: number | undefined;
  readonly restoreBestWeights: boolean;
  readonly startFromEpoch: number;
  /** Monitored epochs since the last improvement (that also beat the baseline). */
  wait = 0;
  /** The best value seen in this fit. */
  best: number;
  /** The epoch (from 0) of `best`. */
  bestEpoch = 0;
  /** The epoch (from 0) after which training was stopped; 0 if it was not. */
  stoppedEpoch = 0;
  private bestWeights: Tensor[] | null = null;
  private model: StoppableModel | null = null;
  private params: FitParams | null = null;

  constructor(args: EarlyStoppingArgs = {}) {
    const where = 'earlyStopping';
    const a = checkArgs(where, args, OPTIONS);
    this.monitor = monitorOption(where, a.monitor);
    this.mode = monitorDirection(where, this.monitor, modeOption(where, a.mode));
    // Keras takes |minDelta|; a negative one is more likely a mistake than a wish.
    this.minDelta = numberOption(where, 'minDelta', a.minDelta, 0, (v) => v >= 0, 'a number >= 0 (the smallest change that counts as an improvement)');
    this.patience = integerOption(where, 'patience', a.patience, 0, 'epochs without improvement before stopping');
    this.verbose = integerOption(where, 'verbose', a.verbose, 0, '0: silent, 1: say when it stops');
    this.baseline = a.baseline === undefined || a.baseline === null
      ? undefined
      : numberOption(where, 'baseline', a.baseline, 0, () => true, 'a finite number (the value to beat) or undefined');
    this.restoreBestWeights = booleanOption(where, 'restoreBestWeights', a.restoreBestWeights, false);
    this.startFromEpoch = integerOption(where, 'startFromEpoch', a.startFromEpoch, 0, 'epochs of warm-up before watching');
    this.best = this.mode === 'min' ? Infinity : -Infinity;
  }

  setModel(model: StoppableModel): void {
    this.model = model;
  }

  setParams(params: FitParams): void {
    this.params = params;
  }

  onTrainBegin(): void {
    checkMonitorLogged('earlyStopping', this.monitor, this.params);
    this.wait = 0;
    this.stoppedEpoch = 0;
    this.bestEpoch = 0;
    this.bestWeights = null;
    this.best = this.mode === 'min' ? Infinity : -Infinity;
  }

  onEpochEnd(epoch: number, logs?: Logs): void {
    const current = monitoredValue('earlyStopping', this.monitor, logs);
    if (epoch < this.startFromEpoch) return;
    if (this.restoreBestWeights && this.bestWeights === null) {
      this.bestWeights = this.requireModel().getWeights();
      this.bestEpoch = epoch;
    }
    this.wait++;
    if (isImprovement(this.mode, current, this.best, this.minDelta)) {
      this.best = current;
      this.bestEpoch = epoch;
      if (this.restoreBestWeights) this.bestWeights = this.requireModel().getWeights();
      if (this.baseline === undefined || isImprovement(this.mode, current, this.baseline, this.minDelta)) this.wait = 0;
      return;
    }
    if (this.wait >= this.patience && epoch > 0) {
      this.stoppedEpoch = epoch;
      if (this.model) this.model.stopTraining = true;
    }
  }

  onTrainEnd(): void {
    if (this.stoppedEpoch > 0 && this.verbose > 0) console.log(`Epoch ${this.stoppedEpoch + 1}: early stopping`);
    if (this.restoreBestWeights && this.bestWeights !== null) {
      if (this.verbose > 0) console.log(`Restoring model weights from the end of the best epoch: ${this.bestEpoch + 1}.`);
      this.requireModel().setWeights(this.bestWeights);
    }
  }

  private requireModel(): StoppableModel {
    if (!this.model) {
      throw new StateError('earlyStopping: restoreBestWeights needs the model; pass the callback to fit(), which gives it (setModel).');
    }
    return this.model;
  }
}

/** `keel.callbacks.earlyStopping({monitor, minDelta, patience, mode, baseline, restoreBestWeights, startFromEpoch, verbose})`. */
export function earlyStopping(args?: EarlyStoppingArgs): EarlyStopping {
  return new EarlyStopping(args);
}
