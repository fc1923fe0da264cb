/**
 * What earlyStopping, modelCheckpoint and reduceLROnPlateau share: the monitored figure, whether
 * it should go down or up, and the checks of their options (each names what was expected, what was
 * received and how to fix it).
 *
 * mode 'auto' (Keras 3's rule, with TF.js's test for accuracies): a name that, without its `val_`
 * prefix, is `loss` or ends in `loss` is minimized; one containing `acc` (accuracy, acc,
 * val_accuracy...) is maximized; any other name needs mode 'min' or 'max', and is refused at
 * construction (Keras 3 refuses it at the first epoch's end).
 */
import { ValueError, checkOptions, describeValue } from '../core/errors.js';
import type { FitParams, Logs } from './callbacks.js';

export type MonitorMode = 'auto' | 'min' | 'max';

/** The direction of `monitor` under `mode`. */
export function monitorDirection(where: string, monitor: string, mode: MonitorMode): 'min' | 'max' {
  if (mode === 'min' || mode === 'max') return mode;
  const name = monitor.startsWith('val_') ? monitor.slice(4) : monitor;
  if (name === 'loss' || /loss$/i.test(name)) return 'min';
  if (/acc/i.test(name)) return 'max';
  throw new ValueError(
    `${where}: cannot tell whether '${monitor}' should go down or up; pass mode: 'min' (lower is better) or mode: 'max' (higher is better).`,
  );
}

/** Whether `current` beats `reference` by more than `minDelta` (>= 0) in `direction`. */
export function isImprovement(direction: 'min' | 'max', current: number, reference: number, minDelta: number): boolean {
  return direction === 'min' ? current + minDelta < reference : current - minDelta > reference;
}

/** The spellings of the accuracy that logs also answer to (see callbacks.ts's METRIC_ALIASES). */
const ALIASES: Readonly<Record<string, string>> = { accuracy: 'acc', acc: 'accuracy', val_accuracy: 'val_acc', val_acc: 'val_accuracy' };

/** The names a fit with `params` logs at each epoch's end, aliases included. */
export function loggedNames(params: FitParams): string[] {
  const names = new Set(params.metrics);
  for (const n of params.metrics) if (ALIASES[n]) names.add(ALIASES[n]);
  return [...names];
}

/**
 * Refuses, before training starts, a monitor that the fit will not log: the usual mistake is
 * 'val_loss' without validation data, which would otherwise never stop, reduce or save anything.
 */
export function checkMonitorLogged(where: string, monitor: string, params: FitParams | null): void {
  if (!params || loggedNames(params).includes(monitor)) return;
  const fix = monitor.startsWith('val_') && params.validationSamples === 0
    ? ` Pass validationData or validationSplit to fit, or monitor '${monitor.slice(4)}'.`
    : ` Monitor one of those.`;
  throw new ValueError(`${where}: monitors '${monitor}', but this fit logs only ${params.metrics.join(', ')}.${fix}`);
}

/** The monitored value in `logs`; a ValueError naming what the logs hold when it is missing. */
export function monitoredValue(where: string, monitor: string, logs: Logs | undefined): number {
  const value = logs?.[monitor];
  if (typeof value !== 'number' || Number.isNaN(value)) {
    throw new ValueError(
      `${where}: the epoch's logs hold no number '${monitor}' (they hold ${Object.keys(logs ?? {}).join(', ') || 'nothing'}); ` +
        `monitor one of those, or pass validationData to fit for 'val_' figures.`,
    );
  }
  return value;
}

// ---- option checks ------------------------------------------------------------------------

export function checkArgs(where: string, args: unknown, known: readonly string[]): Record<string, unknown> {
  if (args === undefined || args === null) return {};
  if (typeof args !== 'object' || Array.isArray(args)) {
    throw new ValueError(`${where}: expected an object of options, e.g. ${where}({monitor: 'val_loss'}), received ${describeValue(args)}.`);
  }
  checkOptions(where, args, known);
  return args as Record<string, unknown>;
}

export function monitorOption(where: string, value: unknown): string {
  if (value === undefined) return 'val_loss';
  if (typeof value !== 'string' || value.length === 0) {
    throw new ValueError(`${where}: expected monitor to be the name of a logged figure such as 'val_loss' or 'val_accuracy', received ${describeValue(value)}.`);
  }
  return value;
}

export function modeOption(where: string, value: unknown): MonitorMode {
  if (value === undefined) return 'auto';
  if (value !== 'auto' && value !== 'min' && value !== 'max') {
    // Keras warns and falls back to 'auto'; a typo here would silently pick a direction.
    throw new ValueError(`${where}: expected mode 'auto', 'min' or 'max', received ${describeValue(value)}.`);
  }
  return value;
}

export function integerOption(where: string, name: string, value: unknown, fallback: number, meaning: string, min = 0): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new ValueError(`${where}: expected ${name} to be an integer >= ${min} (${meaning}), received ${describeValue(value)}.`);
  }
  return value;
}

export function numberOption(where: string, name: string, value: unknown, fallback: number, rule: (v: number) => boolean, expected: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || !rule(value)) {
    throw new ValueError(`${where}: expected ${name} to be ${expected}, received ${describeValue(value)}.`);
  }
  return value;
}

export function booleanOption(where: string, name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new ValueError(`${where}: expected ${name} to be true or false, received ${describeValue(value)}.`);
  return value;
}
