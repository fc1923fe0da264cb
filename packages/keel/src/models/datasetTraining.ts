/**
 * `fitDataset` and `evaluateDataset` over a dataset of batches `{xs, ys}` (see datasetSource.ts),
 * as TF.js 4 has them:
 *
 * - Without `batchesPerEpoch`, each epoch is one pass: a new iterator per epoch, read to its end.
 *   With it, one iterator serves the whole run and each epoch takes `batchesPerEpoch` batches from
 *   where the last one stopped.
 * - `validationData` is `[x, y]` or a dataset; a dataset is evaluated from a new pass at each
 *   epoch's end (`validationBatches` batches of it, or all of it).
 * - Logs and History have `fit`'s keys (`loss`, metrics, `val_*`); params.samples is 0 and
 *   params.steps is `batchesPerEpoch`, or the dataset's size when known, else 0 (TF.js: null).
 *
 * Differs from TF.js:
 * - The first batch is read and checked before any callback runs or the model changes: a dataset
 *   that is empty, not a dataset, or of batches the model cannot take is refused at once. So is
 *   each later batch, before its step. The first batch of a validation dataset is checked too.
 * - A dataset that runs out with `batchesPerEpoch` set ends the epoch with the batches it gave
 *   (validation and callbacks as usual) and then training (TF.js warns, skips that epoch's
 *   validation and goes on with empty epochs); Keel warns the same way.
 * - An infinite dataset (`size` Infinity) without `batchesPerEpoch`, and a single-use dataset
 *   (a generator object) asked for more than one pass, are refused before training.
 * - Batches are not disposed after their step (TF.js disposes them); they are copied into the
 *   model's buffers, so the dataset may reuse or drop them.
 * - A keel.data dataset's pass `e` is epoch `e` (its seeded shuffle gives epoch `e` the same order
 *   whether or not the run was resumed at `initialEpoch`).
 */
import { KeelError, ValueError, checkOptions, describeValue } from '../core/errors.js';
import type { Callback, FitParams } from './callbacks.js';
import { END, ElementReader, datasetSize, isReusable, openPass } from './datasetSource.js';
import type { EpochBatches, TrainBatch, TrainingPlan } from './trainingLoop.js';

export interface FitDatasetArgs<V = unknown> {
  /** Default 1 (TF.js requires it). */
  epochs?: number;
  /** Batches per epoch, from one iterator across epochs; default: one whole pass per epoch. */
  batchesPerEpoch?: number;
  /** `[x, y]` tensors, or a dataset of `{xs, ys}` batches evaluated at each epoch's end. */
  validationData?: V;
  /** With a validation dataset: how many of its batches to evaluate (default: all). */
  validationBatches?: number;
  /** With `[x, y]` validation: the batch size of its evaluation (default 256; no effect on the figures but rounding). */
  validationBatchSize?: number;
  /** 0: silent; 1 (default): one line per epoch. */
  verbose?: number;
  callbacks?: Callback[] | Callback;
  /** Epoch to start at (counted from 0), to resume a run. */
  initialEpoch?: number;
}

export interface EvaluateDatasetArgs {
  /** How many batches to evaluate (default: the whole pass). */
  batches?: number;
  verbose?: number;
}

/** What the dataset code needs from the model. */
export interface DatasetModel {
  metricNames: string[];
  /** Checks one element (a batch `{xs, ys}`) and returns it in the model's buffers; throws a KeelError naming `where`. */
  prepare(raw: unknown, where: string): TrainBatch;
  /** Mean loss and metrics of one element in inference mode, and its number of examples. */
  evaluateBatch(raw: unknown, where: string): { loss: number; metrics: number[]; size: number };
  /** Checks `[x, y]` validation data and returns its evaluation. */
  tensorValidation(data: unknown, batchSize: number): () => { loss: number; metrics: number[] };
}

const FIT_KEYS = ['epochs', 'batchesPerEpoch', 'validationData', 'validationBatches', 'validationBatchSize', 'verbose', 'callbacks', 'initialEpoch'];

/** Checks the options and the first batch, and returns the plan `runTraining` follows. */
export async function datasetPlan(model: DatasetModel, dataset: unknown, args: FitDatasetArgs): Promise<TrainingPlan> {
  const where = 'fitDataset';
  if (args !== undefined && (typeof args !== 'object' || args === null)) {
    throw new ValueError(`${where}: expected options such as {epochs: 5}, received ${describeValue(args)}.`);
  }
  if ((args as Record<string, unknown>)?.validationSplit !== undefined) {
    throw new ValueError(`${where}: validationSplit needs data in memory; give validationData (a dataset or [x, y]) instead, as TF.js's fitDataset.`);
  }
  checkOptions(where, args, FIT_KEYS);
  const { epochs = 1, batchesPerEpoch, validationData, validationBatches, validationBatchSize = 256, verbose = 1, initialEpoch = 0 } = args ?? {};
  positiveInteger(where, 'epochs', epochs);
  if (batchesPerEpoch !== undefined) positiveInteger(where, 'batchesPerEpoch', batchesPerEpoch);
  if (validationBatches !== undefined) positiveInteger(where, 'validationBatches', validationBatches);
  positiveInteger(where, 'validationBatchSize', validationBatchSize);
  if (!Number.isInteger(initialEpoch) || initialEpoch < 0) {
    throw new ValueError(`${where}: expected initialEpoch to be an integer >= 0 (the epoch to resume at, from 0), received ${describeValue(initialEpoch)}.`);
  }
  const passes = batchesPerEpoch === undefined ? Math.max(0, epochs - initialEpoch) : Math.min(1, epochs - initialEpoch);
  checkPasses(where, 'the dataset', dataset, passes, batchesPerEpoch === undefined);

  let validate: TrainingPlan['validate'];
  let validationSamples = 0;
  if (validationData !== undefined && validationData !== null) {
    // [x, y], unless it is an array of batches {xs, ys}, which is a dataset.
    const batchArray = Array.isArray(validationData) && typeof validationData[0] === 'object' && validationData[0] !== null && 'xs' in validationData[0];
    if (Array.isArray(validationData) && !batchArray) {
      if (validationBatches !== undefined) throw new ValueError(`${where}: validationBatches applies to a validation dataset; with [x, y], use validationBatchSize.`);
      validate = model.tensorValidation(validationData, validationBatchSize);
      validationSamples = (validationData[0] as { shape?: number[] })?.shape?.[0] ?? (validationData[0] as unknown[]).length;
    } else {
      const vWhere = `${where} (validationData)`;
      const vPasses = Math.max(0, epochs - initialEpoch);
      checkPasses(vWhere, 'the validation dataset', validationData, vPasses, validationBatches === undefined);
      // Its first batch is checked now, not after the first epoch of training.
      if (isReusable(vWhere, validationData)) {
        const probe = new ElementReader(await openPass(vWhere, validationData));
        try {
          const first = await probe.read();
          if (first === END) throw emptyDataset(vWhere);
          model.evaluateBatch(first, `${vWhere}: batch 1`);
        } finally {
          await probe.close();
        }
      }
      validate = () => evaluateOver(model, vWhere, validationData, validationBatches, 'validationBatches');
    }
  }

  let reader = new ElementReader(await openPass(where, dataset, initialEpoch));
  let pending: unknown;
  try {
    pending = await reader.read();
    if (pending === END) throw emptyDataset(where);
    model.prepare(pending, `${where}: batch 1 of epoch ${initialEpoch + 1}`);
  } catch (e) {
    await reader.close();
    throw e;
  }
  const size = datasetSize(dataset);
  const first = pending as { xs: { shape?: number[]; length?: number } };
  const metricNames = model.metricNames;
  const params: FitParams = {
    epochs, initialEpoch, samples: 0,
    steps: batchesPerEpoch ?? (size !== null && Number.isFinite(size) ? size : 0),
    batchSize: first.xs?.shape?.[0] ?? first.xs?.length ?? 0,
    validationSamples,
    metrics: ['loss', ...metricNames, ...(validate ? ['val_loss', ...metricNames.map((m) => `val_${m}`)] : [])],
  };

  let dry = false;
  let total = 0;
  /** The next element of the pass (the pending first one first), or END. */
  const read = (): unknown => {
    if (pending !== undefined) {
      const p = pending;
      pending = undefined;
      return p;
    }
    return reader.read();
  };
  /** The dataset ended before batchesPerEpoch batches: this epoch (1-based) is the last. */
  const ranDry = (epochNumber: number, inEpoch: number) => {
    dry = true;
    console.warn(
      `${where}: batchesPerEpoch is ${batchesPerEpoch}, but the dataset ran out after ${total} batches ` +
        `(${inEpoch === batchesPerEpoch ? `at the end of epoch ${epochNumber}` : `${inEpoch} into epoch ${epochNumber}`}); ` +
        `training ends with that epoch. Make sure the dataset can give batchesPerEpoch × epochs = ` +
        `${batchesPerEpoch! * (epochs - initialEpoch)} batches, e.g. with .repeat().`,
    );
  };

  const openEpoch = async (epoch: number): Promise<EpochBatches | null> => {
    if (dry) return null;
    if (batchesPerEpoch === undefined && epoch !== initialEpoch) {
      await reader.close();
      reader = new ElementReader(await openPass(where, dataset, epoch));
      pending = await reader.read();
      if (pending === END) {
        pending = undefined;
        console.warn(
          `${where}: the dataset gave no batch in epoch ${epoch + 1} (its new pass ended at once); training stops. ` +
            `Each call of iterator() (or of the generator function) must start a new pass over the data.`,
        );
        return null;
      }
    } else if (batchesPerEpoch !== undefined && pending === undefined) {
      const next = await reader.read();
      if (next === END) {
        ranDry(epoch, batchesPerEpoch);
        return null;
      }
      pending = next;
    }
    let b = 0;
    const take = (raw: unknown): TrainBatch | null => {
      if (raw === END) {
        if (batchesPerEpoch !== undefined) ranDry(epoch + 1, b);
        return null;
      }
      b++;
      total++;
      return model.prepare(raw, `${where}: batch ${b} of epoch ${epoch + 1}`);
    };
    return {
      next: () => {
        if (batchesPerEpoch !== undefined && b === batchesPerEpoch) return null;
        const raw = read();
        return raw instanceof Promise ? raw.then(take) : take(raw);
      },
    };
  };

  return {
    where, epochs, initialEpoch, verbose, metricNames, params, validate, openEpoch,
    callbacks: ([] as Callback[]).concat(args?.callbacks ?? []),
    close: () => reader.close(),
  };
}

/** `evaluateDataset`: mean loss and metrics over `batches` batches of a new pass (or all of it). */
export async function evaluateOver(
  model: DatasetModel, where: string, dataset: unknown, batches: number | undefined, batchesName = 'batches',
): Promise<{ loss: number; metrics: number[] }> {
  if (batches === undefined && datasetSize(dataset) === Infinity) {
    throw new ValueError(`${where}: the dataset is infinite (size Infinity); give ${batchesName}, the number of batches to evaluate.`);
  }
  const reader = new ElementReader(await openPass(where, dataset));
  try {
    let examples = 0;
    let lossSum = 0;
    const sums = model.metricNames.map(() => 0);
    let b = 0;
    for (; batches === undefined || b < batches; b++) {
      let raw = reader.read();
      if (raw instanceof Promise) raw = await raw;
      if (raw === END) {
        if (b === 0) throw emptyDataset(where);
        if (batches !== undefined) {
          console.warn(`${where}: ${batchesName} is ${batches}, but the dataset ran out after ${b} batches; the figures are over those.`);
        }
        break;
      }
      const r = model.evaluateBatch(raw, `${where}: batch ${b + 1}`);
      examples += r.size;
      lossSum += r.loss * r.size;
      r.metrics.forEach((m, i) => (sums[i] += m * r.size));
    }
    return { loss: lossSum / examples, metrics: sums.map((s) => s / examples) };
  } finally {
    await reader.close();
  }
}

/** Refuses what cannot give `passes` passes, or an endless pass. */
function checkPasses(where: string, what: string, dataset: unknown, passes: number, wholePasses: boolean): void {
  const reusable = isReusable(where, dataset);
  if (wholePasses && datasetSize(dataset) === Infinity) {
    throw new ValueError(
      `${where}: ${what} is infinite (size Infinity, e.g. after .repeat()), so an epoch would never end; ` +
        `give ${what === 'the dataset' ? 'batchesPerEpoch' : 'validationBatches'}.`,
    );
  }
  if (!reusable && wholePasses && passes > 1) {
    throw new ValueError(
      `${where}: ${what} is single-use (a generator object or an iterator), but ${passes} epochs each need a new pass. ` +
        `Pass the generator function itself (() => batches()), a keel.data dataset` +
        `${what === 'the dataset' ? ', or batchesPerEpoch to read one pass across epochs' : ''}.`,
    );
  }
}

function emptyDataset(where: string): ValueError {
  return new ValueError(
    `${where}: the dataset yielded no batches; expected at least one {xs, ys}. ` +
      `Check its source (file, array, generator) and that take() or the generator's loop lets some through.`,
  );
}

function positiveInteger(where: string, name: string, v: unknown): void {
  if (!Number.isInteger(v) || (v as number) <= 0) {
    throw new ValueError(`${where}: expected ${name} to be a positive integer, received ${describeValue(v)}.`);
  }
}

/** A KeelError about a dataset's batch, said to be about it (`where` names the batch), with how to fix the dataset. @internal */
export function withDatasetHint(e: unknown, where: string, hint: string): unknown {
  if (!(e instanceof KeelError)) return e;
  const Class = e.constructor as new (message: string) => KeelError;
  const message = e.message.startsWith(where) ? e.message : `${where}: ${e.message}`;
  return new Class(hint ? `${message} ${hint}` : message);
}
