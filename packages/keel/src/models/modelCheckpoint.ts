/**
 * `callbacks.modelCheckpoint(args)`: saves the model during `fit`, as Keras 3's `ModelCheckpoint`
 * (TF.js has none), with `model.save` and so with its atomic writes (a crash during a save leaves
 * the previous checkpoint loadable).
 *
 * - `filepath` is where `model.save` writes: a folder (model.json and weights.bin go inside), a
 *   `DIR/name.json` path, or a URL with a scheme (`file://...`). A path without a scheme is saved
 *   as `file://` + path. It may hold placeholders filled at each save, as Python's str.format
 *   fills Keras's: `{epoch}` (counted from 1, as Keras), `{batch}` (from 1, with an integer
 *   saveFreq), and any logged figure (`{val_loss}`, `{accuracy}`); each may take a format:
 *   `{epoch:02d}` (an integer, zero-padded to 2), `{val_loss:.4f}` (fixed, 4 decimals),
 *   `{loss:.2e}` (exponent, written as Python does: 1.50e-03). `{{` and `}}` are literal braces.
 *   Placeholders are checked when training starts, against the names the fit logs.
 * - `saveBestOnly`: save only when `monitor` beats the best so far (strictly; `initialValueThreshold`
 *   is the value to beat first). The best is kept from one fit to the next, as in Keras, so that
 *   a better file is never overwritten by a worse one.
 * - `saveFreq`: 'epoch' (at each epoch's end) or a number of batches (counted across epochs, as
 *   Keras counts them; the figures are then the epoch's running means, without val_ figures).
 * - Differs from Keras: the TF.js format always holds the topology, so a Keel checkpoint is always
 *   a loadable model. By default it also holds the optimizer's state and training config
 *   (`save(..., {includeOptimizer: true})`), so that `loadLayersModel` gives a model that resumes
 *   training exactly (with fit's `initialEpoch` and `seed`); `saveWeightsOnly: true` leaves them
 *   out (the weights and topology only; a smaller file, but training restarts its optimizer).
 */
import { StateError, ValueError, describeValue } from '../core/errors.js';
import type { FitParams, Logs, ParamsAwareCallback } from './callbacks.js';
import type { IOHandler, SaveConfig, SaveResult } from './saving.js';
import {
  booleanOption, checkArgs, integerOption, isImprovement, loggedNames, modeOption, monitorDirection, monitorOption, monitoredValue,
  type MonitorMode,
} from './monitor.js';

export interface ModelCheckpointArgs {
  /** Where to save, with optional placeholders: 'checkpoints/epoch-{epoch:02d}-{val_loss:.3f}'. */
  filepath: string;
  /** Default 'val_loss'. */
  monitor?: string;
  /** 1: say what is saved, or why not. Default 0. */
  verbose?: number;
  /** Save only when `monitor` improves. Default false. */
  saveBestOnly?: boolean;
  /** Leave out the optimizer's state and training config. Default false. */
  saveWeightsOnly?: boolean;
  /** Default 'auto'. */
  mode?: MonitorMode;
  /** 'epoch' (default) or a number of batches between saves. */
  saveFreq?: 'epoch' | number;
  /** With saveBestOnly: the value the first save must beat. Default: none (±∞). */
  initialValueThreshold?: number;
}

interface SavableModel {
  save(destination: string | IOHandler, config?: SaveConfig): Promise<SaveResult>;
}

const OPTIONS = ['filepath', 'monitor', 'verbose', 'saveBestOnly', 'saveWeightsOnly', 'mode', 'saveFreq', 'initialValueThreshold'];

type Piece = string | { key: string; spec: FormatSpec | null; text: string };
interface FormatSpec { zero: boolean; width: number; precision: number | null; type: 'd' | 'f' | 'e' | null }

export class ModelCheckpoint implements ParamsAwareCallback<SavableModel> {
  readonly filepath: string;
  readonly monitor: string;
  readonly verbose: number;
  readonly saveBestOnly: boolean;
  readonly saveWeightsOnly: boolean;
  readonly mode: 'min' | 'max';
  readonly saveFreq: 'epoch' | number;
  /** The best monitored value saved so far (with saveBestOnly). */
  best: number;
  private readonly pieces: Piece[];
  private model: SavableModel | null = null;
  private params: FitParams | null = null;
  private epoch = 0;
  private batchesSinceSave = 0;

  constructor(args: ModelCheckpointArgs) {
    const where = 'modelCheckpoint';
    const a = checkArgs(where, args, OPTIONS);
    if (typeof a.filepath !== 'string' || a.filepath.trim() === '') {
      throw new ValueError(`${where}: expected filepath, the folder (or URL) to save to, e.g. 'checkpoints/epoch-{epoch}', received ${describeValue(a.filepath)}.`);
    }
    this.filepath = a.filepath;
    this.pieces = parseTemplate(a.filepath);
    this.monitor = monitorOption(where, a.monitor);
    this.verbose = integerOption(where, 'verbose', a.verbose, 0, '0: silent, 1: say what is saved');
    this.saveBestOnly = booleanOption(where, 'saveBestOnly', a.saveBestOnly, false);
    this.saveWeightsOnly = booleanOption(where, 'saveWeightsOnly', a.saveWeightsOnly, false);
    const mode = modeOption(where, a.mode);
    // The direction matters only with saveBestOnly; without it any monitor name is fine.
    this.mode = this.saveBestOnly ? monitorDirection(where, this.monitor, mode) : mode === 'max' ? 'max' : 'min';
    if (a.saveFreq === undefined || a.saveFreq === 'epoch') this.saveFreq = 'epoch';
    else this.saveFreq = integerOption(where, 'saveFreq', a.saveFreq, 1, "'epoch', or the number of batches between saves", 1);
    if (a.initialValueThreshold !== undefined && (typeof a.initialValueThreshold !== 'number' || Number.isNaN(a.initialValueThreshold))) {
      throw new ValueError(`${where}: expected initialValueThreshold to be a number (the value the first save must beat), received ${describeValue(a.initialValueThreshold)}.`);
    }
    this.best = (a.initialValueThreshold as number | undefined) ?? (this.mode === 'min' ? Infinity : -Infinity);
    for (const p of this.pieces) {
      if (typeof p !== 'string' && p.key === 'batch' && this.saveFreq === 'epoch') {
        throw new ValueError(`${where}: filepath uses {batch}, which only a batch-level saveFreq fills; pass saveFreq: <batches>, or drop {batch}.`);
      }
    }
  }

  setModel(model: SavableModel): void {
    this.model = model;
  }

  setParams(params: FitParams): void {
    this.params = params;
  }

  /** Checks, before any training, that the placeholders and the monitor are names this fit logs. */
  onTrainBegin(): void {
    if (!this.model) throw new StateError('modelCheckpoint: no model; pass the callback to fit().');
    this.batchesSinceSave = 0;
    if (!this.params) return;
    const names = loggedNames(this.params);
    const batchNames = names.filter((n) => !n.startsWith('val_'));
    const available = this.saveFreq === 'epoch' ? names : batchNames;
    for (const p of this.pieces) {
      if (typeof p === 'string' || p.key === 'epoch' || p.key === 'batch' || p.key === 'learning_rate') continue;
      if (!available.includes(p.key)) {
        throw new ValueError(
          `modelCheckpoint: filepath uses {${p.key}}, which this fit does not log${this.saveFreq === 'epoch' ? '' : ' per batch'}; ` +
            `expected epoch${this.saveFreq === 'epoch' ? '' : ', batch'} or one of ${available.join(', ')}.`,
        );
      }
    }
    if (this.saveBestOnly && !available.includes(this.monitor)) {
      throw new ValueError(
        `modelCheckpoint: saveBestOnly monitors '${this.monitor}', which this fit does not log${this.saveFreq === 'epoch' ? '' : ' per batch'}` +
          ` (it logs ${available.join(', ')}); monitor one of those${this.monitor.startsWith('val_') ? ', or pass validationData to fit' : ''}.`,
      );
    }
  }

  onEpochBegin(epoch: number): void {
    this.epoch = epoch;
  }

  async onBatchEnd(batch: number, logs?: Logs): Promise<void> {
    if (this.saveFreq === 'epoch') return;
    if (++this.batchesSinceSave < this.saveFreq) return;
    this.batchesSinceSave = 0;
    await this.save(this.epoch, batch, logs);
  }

  async onEpochEnd(epoch: number, logs?: Logs): Promise<void> {
    if (this.saveFreq === 'epoch') await this.save(epoch, null, logs);
  }

  /** The destination of a save at `epoch` (from 0) and `batch` (from 0, or null) with `logs`. */
  destination(epoch: number, batch: number | null, logs: Logs = {}): string {
    const path = this.pieces.map((p) => {
      if (typeof p === 'string') return p;
      const value = p.key === 'epoch' ? epoch + 1 : p.key === 'batch' && batch !== null ? batch + 1 : logs[p.key];
      if (typeof value !== 'number') {
        throw new ValueError(
          `modelCheckpoint: filepath uses {${p.key}}, but the logs hold ${Object.keys(logs).join(', ') || 'nothing'}; use one of those or epoch.`,
        );
      }
      return formatValue(p.text, p.spec, value);
    }).join('');
    return /^[a-z][a-z0-9+.-]*:\/\//i.test(path) ? path : `file://${path}`;
  }

  private async save(epoch: number, batch: number | null, logs?: Logs): Promise<void> {
    const model = this.model;
    if (!model) throw new StateError('modelCheckpoint: no model; pass the callback to fit().');
    const destination = this.destination(epoch, batch, logs);
    if (this.saveBestOnly) {
      const current = monitoredValue('modelCheckpoint', this.monitor, logs);
      if (!isImprovement(this.mode, current, this.best, 0)) {
        if (this.verbose > 0) console.log(`Epoch ${epoch + 1}: ${this.monitor} did not improve from ${this.best.toFixed(5)}`);
        return;
      }
      if (this.verbose > 0) {
        console.log(`Epoch ${epoch + 1}: ${this.monitor} improved from ${this.best.toFixed(5)} to ${current.toFixed(5)}, saving model to ${destination}`);
      }
      await model.save(destination, { includeOptimizer: !this.saveWeightsOnly });
      this.best = current;
      return;
    }
    if (this.verbose > 0) console.log(`Epoch ${epoch + 1}: saving model to ${destination}`);
    await model.save(destination, { includeOptimizer: !this.saveWeightsOnly });
  }
}

/** `keel.callbacks.modelCheckpoint({filepath, monitor, saveBestOnly, saveWeightsOnly, mode, saveFreq, initialValueThreshold, verbose})`. */
export function modelCheckpoint(args: ModelCheckpointArgs): ModelCheckpoint {
  return new ModelCheckpoint(args);
}

// ---- the filepath template ------------------------------------------------------------------

function parseTemplate(template: string): Piece[] {
  const pieces: Piece[] = [];
  let text = '';
  for (let i = 0; i < template.length; i++) {
    const c = template[i];
    if ((c === '{' || c === '}') && template[i + 1] === c) {
      text += c;
      i++;
      continue;
    }
    if (c === '}') throw new ValueError(`modelCheckpoint: filepath has a '}' without its '{' at ${i}; write '}}' for a literal brace.`);
    if (c !== '{') {
      text += c;
      continue;
    }
    const end = template.indexOf('}', i);
    if (end < 0) throw new ValueError(`modelCheckpoint: filepath has a '{' without its '}' at ${i}; write '{{' for a literal brace.`);
    const inner = template.slice(i + 1, end);
    const [key, spec] = inner.includes(':') ? [inner.slice(0, inner.indexOf(':')), inner.slice(inner.indexOf(':') + 1)] : [inner, null];
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) {
      throw new ValueError(`modelCheckpoint: filepath placeholder {${inner}} does not name a figure; expected e.g. {epoch}, {epoch:02d} or {val_loss:.4f}.`);
    }
    if (text) pieces.push(text);
    text = '';
    pieces.push({ key, spec: spec === null ? null : parseSpec(inner, spec), text: inner });
    i = end;
  }
  if (text) pieces.push(text);
  return pieces;
}

function parseSpec(inner: string, spec: string): FormatSpec {
  const m = /^(0?)(\d*)(?:\.(\d+))?([dfe]?)$/.exec(spec);
  if (!m || (m[4] === 'd' && m[3] !== undefined) || (m[3] !== undefined && Number(m[3]) > 20) || Number(m[2] || 0) > 64) {
    throw new ValueError(
      `modelCheckpoint: filepath placeholder {${inner}} has a format Keel does not know; expected [0][width][.precision] and d, f or e, ` +
        `e.g. {epoch:02d}, {val_loss:.4f}, {loss:.2e}.`,
    );
  }
  return { zero: m[1] === '0', width: Number(m[2] || 0), precision: m[3] === undefined ? null : Number(m[3]), type: (m[4] || null) as FormatSpec['type'] };
}

function formatValue(inner: string, spec: FormatSpec | null, value: number): string {
  let text: string;
  const type = spec?.type ?? (spec?.precision !== null && spec?.precision !== undefined ? 'f' : null);
  if (type === 'd') {
    if (!Number.isInteger(value)) throw new ValueError(`modelCheckpoint: {${inner}} formats integers, but the value is ${value}; use a format such as .4f.`);
    text = String(Math.abs(value));
  } else if (type === 'f') {
    text = Math.abs(value).toFixed(spec?.precision ?? 6);
  } else if (type === 'e') {
    // Python writes at least two exponent digits: 1.50e-03.
    text = Math.abs(value).toExponential(spec?.precision ?? 6).replace(/e([+-])(\d)$/, 'e$10$2');
  } else {
    text = String(Math.abs(value));
  }
  const sign = value < 0 || Object.is(value, -0) ? '-' : '';
  const width = spec?.width ?? 0;
  if (spec?.zero) return sign + text.padStart(Math.max(0, width - sign.length), '0');
  return (sign + text).padStart(width, ' ');
}
