/**
 * The one training loop of `fit` and `fitDataset`: epochs, batches, callbacks, running logs,
 * validation, History, `stopTraining` and the per-epoch line. Where the batches come from is the
 * caller's `TrainingPlan`: tensors in memory for `fit`, a dataset's iterator for `fitDataset`.
 */
import type { Tensor } from '../core/tensor.js';
import { NonFiniteLossError } from '../core/errors.js';
import { History, formatLogs, withMetricAliases, type Callback, type FitParams, type Logs, type ParamsAwareCallback } from './callbacks.js';

/** What one training step returns: the batch's mean loss and, per metric, its count of hits. */
export interface StepResult {
  loss: number;
  correct: number[];
}

/** One batch, checked and in the model's dtype: one tensor per model input, and the labels. */
export interface TrainBatch {
  xs: Tensor[];
  y: Tensor;
}

/** The batches of one epoch; `next` is synchronous when the batch is at hand (no await per batch). */
export interface EpochBatches {
  next(): TrainBatch | null | Promise<TrainBatch | null>;
}

export interface TrainingPlan {
  /** 'fit' or 'fitDataset', for messages. */
  where: string;
  epochs: number;
  initialEpoch: number;
  verbose: number;
  callbacks: Callback[];
  params: FitParams;
  metricNames: string[];
  /**
   * The batches of `epoch`, or null when there are none (a dataset that ran dry): training then
   * ends without starting that epoch. Called before `onEpochBegin`.
   */
  openEpoch(epoch: number): EpochBatches | null | Promise<EpochBatches | null>;
  /** Loss and metrics on the validation data, at the end of each epoch; absent without validation. */
  validate?(): { loss: number; metrics: number[] } | Promise<{ loss: number; metrics: number[] }>;
  /** Releases what the plan holds open (iterators, files), however training ends. */
  close?(): Promise<void>;
}

/** What the loop needs of the model: `stopTraining`, set by callbacks, and the step itself. */
export interface TrainableModel {
  stopTraining: boolean;
}

/**
 * Runs `plan` on `model`, one `step` per batch. Throws, with the model as it was before the
 * failing step, when a step fails (bad batch, non-finite loss).
 */
export async function runTraining(
  model: TrainableModel, step: (xs: Tensor[], y: Tensor) => StepResult, plan: TrainingPlan,
): Promise<History> {
  const { where, epochs, initialEpoch, verbose, callbacks, params, metricNames } = plan;
  const history = new History();
  history.params = params;
  try {
    for (const cb of callbacks) {
      (cb as ParamsAwareCallback).setModel?.(model);
      (cb as ParamsAwareCallback).setParams?.(params);
    }
    model.stopTraining = false;
    for (const cb of callbacks) await cb.onTrainBegin?.();
    let lastYield = Date.now();

    for (let epoch = initialEpoch; epoch < epochs && !model.stopTraining; epoch++) {
      const started = Date.now();
      let batches = plan.openEpoch(epoch);
      if (batches instanceof Promise) batches = await batches;
      if (!batches) break;
      for (const cb of callbacks) await cb.onEpochBegin?.(epoch);
      let lossSum = 0;
      const correctSums = metricNames.map(() => 0);
      let seen = 0;
      for (let b = 0; ; b++) {
        let batch = batches.next();
        if (batch instanceof Promise) batch = await batch;
        if (!batch) break;
        const size = batch.y.shape[0];
        for (const cb of callbacks) await cb.onBatchBegin?.(b, { batch: b, size });
        let result: StepResult;
        try {
          result = step(batch.xs, batch.y);
        } catch (e) {
          if (e instanceof NonFiniteLossError) {
            throw new NonFiniteLossError(
              `${where}: the loss became ${e.message} at epoch ${epoch + 1}, batch ${b + 1}${params.steps > 0 ? ` of ${params.steps}` : ''}; ` +
                `training stopped and the weights from before that step are kept. ` +
                `Try a smaller learning rate, inputs scaled to [0, 1], or BatchNormalization.`,
            );
          }
          throw e;
        }
        seen += size;
        lossSum += result.loss * size;
        result.correct.forEach((c, i) => (correctSums[i] += c));
        if (callbacks.length) {
          const logs: Logs = { batch: b, size, loss: lossSum / seen };
          metricNames.forEach((m, i) => (logs[m] = correctSums[i] / seen));
          withMetricAliases(logs);
          for (const cb of callbacks) await cb.onBatchEnd?.(b, logs);
        }
        if (model.stopTraining) break;
        // Let timers, redraws and Ctrl-C handlers run during long epochs (about every 50 ms).
        if (Date.now() - lastYield > 50) {
          await yieldToEventLoop();
          lastYield = Date.now();
        }
      }
      const logs: Logs = { loss: lossSum / seen };
      metricNames.forEach((m, i) => (logs[m] = correctSums[i] / seen));
      if (plan.validate) {
        const v = await plan.validate();
        logs.val_loss = v.loss;
        metricNames.forEach((m, i) => (logs[`val_${m}`] = v.metrics[i]));
      }
      withMetricAliases(logs);
      for (const cb of callbacks) await cb.onEpochEnd?.(epoch, logs);
      // Recorded after the callbacks, as Keras's History comes last: what a callback adds to the
      // logs (learningRateScheduler's learning_rate) is in the history too.
      history.record(epoch, logs);
      if (verbose >= 1) {
        console.log(`Epoch ${epoch + 1}/${epochs} - ${((Date.now() - started) / 1000).toFixed(1)}s - ${formatLogs(logs)}`);
      }
      await yieldToEventLoop();
    }
    for (const cb of callbacks) await cb.onTrainEnd?.();
  } finally {
    await plan.close?.();
  }
  return history;
}

/** A macrotask turn: setImmediate where it exists (Node), else setTimeout. */
export function yieldToEventLoop(): Promise<void> {
  const immediate = (globalThis as { setImmediate?: (fn: () => void) => void }).setImmediate;
  return new Promise((resolve) => (immediate ? immediate(resolve) : setTimeout(resolve, 0)));
}
