/** Callbacks and History, with TF.js's method names. */
import { ValueError } from '../core/errors.js';
import { quoteString } from '../core/format.js';

/** Figures reported to callbacks: `loss`, `accuracy`, `val_loss`, `val_accuracy`, ... */
export type Logs = Record<string, number>;

/** Hooks called during `fit`; each may return a promise, which `fit` awaits. */
export interface Callback {
  onTrainBegin?(logs?: Logs): void | Promise<void>;
  onTrainEnd?(logs?: Logs): void | Promise<void>;
  onEpochBegin?(epoch: number, logs?: Logs): void | Promise<void>;
  onEpochEnd?(epoch: number, logs?: Logs): void | Promise<void>;
  onBatchBegin?(batch: number, logs?: Logs): void | Promise<void>;
  /** `logs` holds the running means over the epoch so far, plus `batch` and `size`. */
  onBatchEnd?(batch: number, logs?: Logs): void | Promise<void>;
}

/** What `fit` tells its callbacks about the run before it starts. */
export interface FitParams {
  epochs: number;
  initialEpoch: number;
  samples: number;
  steps: number;
  batchSize: number;
  validationSamples: number;
  metrics: string[];
}

/**
 * Callbacks that also receive the run's parameters (progress bars need the step count) and the
 * model being trained (diagnostics read its layers), as TF.js's `setParams` and `setModel`.
 */
export interface ParamsAwareCallback<M = unknown> extends Callback {
  setParams?(params: FitParams): void;
  setModel?(model: M): void;
}

/**
 * The two spellings of the accuracy. TF.js 4 logs it as `acc` (and `val_acc`) whether it was
 * compiled as 'accuracy' or 'acc'; Keras 3 logs it under the name given.
 * Differs from Keras: Keel logs it under the name given, as Keras 3, and makes the other spelling
 * readable too, so that code written for TF.js (`logs.acc`, `history.history.acc`) and for Keras
 * (`history.history.accuracy`) both work. The alias is not enumerable: printed logs, `Object.keys`
 * and JSON show each figure once.
 */
const METRIC_ALIASES: Readonly<Record<string, string>> = {
  accuracy: 'acc', acc: 'accuracy', val_accuracy: 'val_acc', val_acc: 'val_accuracy',
};

/** Adds the other spelling of each accuracy key of `record` as a hidden alias (see METRIC_ALIASES). @internal */
export function withMetricAliases<T extends Record<string, unknown>>(record: T): T {
  for (const [key, alias] of Object.entries(METRIC_ALIASES)) {
    if (Object.prototype.propertyIsEnumerable.call(record, key) && !(alias in record)) {
      Object.defineProperty(record, alias, { value: record[key], enumerable: false, writable: true, configurable: true });
    }
  }
  return record;
}

/**
 * The per-epoch figures of a `fit`, as `history.history.loss` (TF.js) or `history.loss`.
 * Keys are Keras's (`accuracy`, `val_accuracy` for metrics ['accuracy']); TF.js's spelling
 * (`history.history.acc`, `history.acc`) reads the same arrays.
 */
export class History {
  readonly epoch: number[] = [];
  readonly history: Record<string, number[]> = {};
  params: FitParams | null = null;

  /** @internal */
  record(epoch: number, logs: Logs): void {
    this.epoch.push(epoch);
    for (const [key, value] of Object.entries(logs)) (this.history[key] ??= []).push(value);
    withMetricAliases(this.history);
  }

  get loss(): number[] { return this.history.loss ?? []; }
  get accuracy(): number[] { return this.history.accuracy ?? []; }
  get val_loss(): number[] { return this.history.val_loss ?? []; }
  get val_accuracy(): number[] { return this.history.val_accuracy ?? []; }
  /** TF.js's name of the accuracy: the same figures as `accuracy`. */
  get acc(): number[] { return this.history.acc ?? []; }
  /** TF.js's name of the validation accuracy: the same figures as `val_accuracy`. */
  get val_acc(): number[] { return this.history.val_acc ?? []; }
}

/** Formats logs as Keras does: `loss: 0.4312 - accuracy: 0.8421`. */
export function formatLogs(logs: Logs): string {
  return Object.entries(logs)
    .filter(([k]) => k !== 'batch' && k !== 'size')
    .map(([k, v]) => `${k}: ${v.toFixed(4)}`)
    .join(' - ');
}

/** The hooks of a `CustomCallback`, each optional. */
export type CustomCallbackArgs = Callback;

/**
 * A callback made of plain functions, as TF.js's `new tf.CustomCallback({onEpochEnd: ...})`.
 * `fit` also accepts the plain object itself.
 *
 * @example model.fit(x, y, { callbacks: [new keel.CustomCallback({ onEpochEnd: (epoch, logs) => console.log(epoch, logs) })] });
 */
export class CustomCallback implements Callback {
  onTrainBegin?: Callback['onTrainBegin'];
  onTrainEnd?: Callback['onTrainEnd'];
  onEpochBegin?: Callback['onEpochBegin'];
  onEpochEnd?: Callback['onEpochEnd'];
  onBatchBegin?: Callback['onBatchBegin'];
  onBatchEnd?: Callback['onBatchEnd'];

  constructor(args: CustomCallbackArgs) {
    const hooks = ['onTrainBegin', 'onTrainEnd', 'onEpochBegin', 'onEpochEnd', 'onBatchBegin', 'onBatchEnd'] as const;
    for (const key of Object.keys(args ?? {})) {
      if (!(hooks as readonly string[]).includes(key)) {
        throw new ValueError(`CustomCallback: unknown hook ${quoteString(key)}. Expected any of: ${hooks.join(', ')}.`);
      }
    }
    for (const key of hooks) {
      const hook = args?.[key];
      if (hook !== undefined && typeof hook !== 'function') {
        throw new ValueError(`CustomCallback: expected ${key} to be a function, received ${typeof hook}.`);
      }
      if (hook) (this as Record<string, unknown>)[key] = hook;
    }
  }
}
