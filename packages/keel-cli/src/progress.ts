/**
 * A Keras-style progress bar for `fit`, one per epoch:
 *
 *   Epoch 3/10
 *    812/1719 [============>.................] - ETA: 9s - loss: 0.4312 - accuracy: 0.8421
 *   1719/1719 [==============================] - 18s 10ms/step - loss: 0.4101 - accuracy: 0.8530 - val_loss: 0.3720 - val_accuracy: 0.8682
 *
 * Live (redrawn in place by cli-progress) when stdout is a terminal; otherwise only the final line of
 * each epoch is printed, as Keras's `verbose=2`.
 */
import cliProgress from 'cli-progress';
import type { Callback, FitParams, Logs } from 'keel';

const BAR_WIDTH = 30;
const REDRAW_MS = 100;

export interface ProgressOptions {
  /** Redraw a live bar (stdout is a terminal). */
  live: boolean;
  /** Where lines go (default: stdout). */
  write?: (text: string) => void;
}

/** Formats seconds as Keras does in ETAs: `12s`, `1:23`, `1:02:03`. */
export function formatEta(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${rest}` : `${m}:${rest}`;
}

/** `3ms/step`, `850us/step`, `1s/step`. */
export function formatPerStep(seconds: number): string {
  if (seconds >= 1) return `${Math.round(seconds)}s/step`;
  if (seconds >= 1e-3) return `${Math.round(seconds * 1e3)}ms/step`;
  return `${Math.round(seconds * 1e6)}us/step`;
}

/** `[=====>........]` for `done` of `total`. */
export function formatBar(done: number, total: number, width = BAR_WIDTH): string {
  const filled = total > 0 ? Math.floor((width * done) / total) : width;
  if (done >= total) return `[${'='.repeat(width)}]`;
  return `[${'='.repeat(Math.max(0, filled - 1))}${filled > 0 ? '>' : ''}${'.'.repeat(width - filled)}]`;
}

/** ` - loss: 0.4312 - accuracy: 0.8421` (batch bookkeeping left out). */
export function formatMetrics(logs: Logs): string {
  return Object.entries(logs)
    .filter(([k]) => k !== 'batch' && k !== 'size')
    .map(([k, v]) => ` - ${k}: ${v.toFixed(4)}`)
    .join('');
}

/** One progress line: live (with ETA) while `done < total`, final (elapsed and time per step) after. */
export function formatLine(done: number, total: number, elapsedSeconds: number, logs: Logs): string {
  const width = String(total).length;
  const head = `${String(done).padStart(width)}/${total} ${formatBar(done, total)}`;
  const timing = done >= total
    ? `${Math.round(elapsedSeconds)}s ${formatPerStep(elapsedSeconds / Math.max(1, total))}`
    : `ETA: ${formatEta(done > 0 ? (elapsedSeconds / done) * (total - done) : 0)}`;
  return `${head} - ${timing}${formatMetrics(logs)}`;
}

/** The callback that draws the bar. */
export class ProgressBar implements Callback {
  private params: FitParams | null = null;
  private bar: cliProgress.SingleBar | null = null;
  private started = 0;
  private lastDraw = 0;
  private logs: Logs = {};
  private readonly write: (text: string) => void;

  constructor(private readonly options: ProgressOptions) {
    this.write = options.write ?? ((text) => process.stdout.write(text));
  }

  setParams(params: FitParams): void {
    this.params = params;
  }

  onEpochBegin(epoch: number): void {
    const total = this.params?.steps ?? 0;
    this.write(`Epoch ${epoch + 1}/${this.params?.epochs ?? '?'}\n`);
    this.started = performance.now();
    this.logs = {};
    if (!this.options.live) return;
    this.bar = new cliProgress.SingleBar({
      format: (_options, params) => formatLine(params.value, params.total, (performance.now() - this.started) / 1000, this.logs),
      stream: process.stdout,
      // No cursor hiding and no SIGINT handler: fit yields to the event loop only between epochs, so
      // a JS SIGINT handler would delay Ctrl-C until the epoch ends (and leave the cursor hidden).
      hideCursor: false,
      // The live line is cut at the terminal's width (cli-progress does that when `linewrap` is true,
      // without switching the terminal's autowrap off, which a Ctrl-C would leave off); the final
      // line is written in full below.
      clearOnComplete: true,
      stopOnComplete: false,
      linewrap: true,
      gracefulExit: false,
    });
    this.bar.start(total, 0);
    this.lastDraw = performance.now();
  }

  onBatchEnd(batch: number, logs?: Logs): void {
    this.logs = { ...(logs ?? {}) };
    if (!this.bar) return;
    this.bar.update(batch + 1);
    // fit runs batches back to back without yielding to the event loop, so cli-progress's timer
    // never fires during an epoch: redraw here instead, at most every REDRAW_MS.
    const now = performance.now();
    if (now - this.lastDraw >= REDRAW_MS) {
      this.lastDraw = now;
      this.bar.render();
    }
  }

  onEpochEnd(_epoch: number, logs?: Logs): void {
    const total = this.params?.steps ?? 0;
    this.logs = { ...(logs ?? {}) };
    if (this.bar) {
      this.bar.stop();
      this.bar = null;
    }
    this.write(formatLine(total, total, (performance.now() - this.started) / 1000, this.logs) + '\n');
  }
}
