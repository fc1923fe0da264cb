/**
 * A Keras-style progress bar for `fit`, one per epoch:
 *
 *   Epoch 3/10
 *    812/1719 [============>.................] - ETA: 9s - loss: 0.4312 - accuracy: 0.8421
 *   1719/1719 [==============================] - 18s 10ms/step - loss: 0.4101 - accuracy: 0.8530 - val_loss: 0.3720 - val_accuracy: 0.8682
 *
 * Live (redrawn in place by cli-progress) when stdout is a terminal; otherwise only the final line of
 * each epoch is printed, as Keras's `verbose=2`. On a terminal every line fits its width (80 columns
 * when it is not known): the bar narrows, and the final line goes on to a second line if it must.
 * Differs from Keras, which lets a terminal cut or wrap the line and so hides the accuracy at 80.
 */
import cliProgress from 'cli-progress';
import type { Callback, FitParams, Logs } from 'keel';

const BAR_WIDTH = 30;
/** A narrower bar shows too little: the line drops it (the count still shows the progress). */
const MIN_BAR_WIDTH = 10;
/** Columns of a terminal whose width is not known. */
const DEFAULT_COLUMNS = 80;
const REDRAW_MS = 100;

export interface ProgressOptions {
  /** Redraw a live bar (stdout is a terminal). */
  live: boolean;
  /** Where lines go (default: stdout). */
  write?: (text: string) => void;
  /**
   * Width of the terminal, asked at each redraw (it may be resized). Lines are made to fit it.
   * Default: none for the final lines (a log file keeps them whole), 80 for the live bar.
   */
  columns?: () => number | undefined;
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

/** `['loss: 0.4312', 'accuracy: 0.8421']` (batch bookkeeping left out). */
function metricParts(logs: Logs): string[] {
  return Object.entries(logs)
    .filter(([k]) => k !== 'batch' && k !== 'size')
    .map(([k, v]) => `${k}: ${v.toFixed(4)}`);
}

/** ` - loss: 0.4312 - accuracy: 0.8421` (batch bookkeeping left out). */
export function formatMetrics(logs: Logs): string {
  return joinParts(metricParts(logs));
}

const joinParts = (parts: string[]) => parts.map((p) => ` - ${p}`).join('');

/**
 * One progress line: live (with ETA) while `done < total`, final (elapsed and time per step) after.
 * With `columns`, every line is shorter than that: the bar narrows (down to MIN_BAR_WIDTH); then a
 * final line goes on to a second line, indented, and a live line (redrawn in place, so one line
 * only) drops the bar, then the ETA. Loss and accuracy come first and are the last to go.
 */
export function formatLine(done: number, total: number, elapsedSeconds: number, logs: Logs, columns?: number): string {
  const count = `${String(done).padStart(String(total).length)}/${total}`;
  const final = done >= total;
  const timing = final
    ? `${Math.round(elapsedSeconds)}s ${formatPerStep(elapsedSeconds / Math.max(1, total))}`
    : `ETA: ${formatEta(done > 0 ? (elapsedSeconds / done) * (total - done) : 0)}`;
  const parts = [timing, ...metricParts(logs)];
  if (columns === undefined) return `${count} ${formatBar(done, total)}${joinParts(parts)}`;
  // One column to spare: a line as wide as the terminal moves some terminals' cursor to the next line.
  const width = Math.max(1, columns - 1);
  const withBar = (shown: string[]): string | null => {
    const room = Math.min(BAR_WIDTH, width - count.length - 3 - joinParts(shown).length);
    return room >= MIN_BAR_WIDTH ? `${count} ${formatBar(done, total, room)}${joinParts(shown)}` : null;
  };
  const oneLine = withBar(parts);
  if (oneLine !== null) return oneLine;
  if (!final) {
    const withoutBar = `${count}${joinParts(parts)}`;
    if (withoutBar.length <= width) return withoutBar;
    return `${count}${joinParts(parts.slice(1))}`.slice(0, width);
  }
  // The final line: as many parts as fit beside the bar, the rest on indented lines below.
  let first = parts.length - 1;
  while (first > 1 && withBar(parts.slice(0, first)) === null) first--;
  const lines = [withBar(parts.slice(0, first)) ?? `${count}${joinParts(parts.slice(0, first))}`];
  const indent = ' '.repeat(count.length);
  let line = indent;
  for (const part of parts.slice(first)) {
    if (line !== indent && line.length + 3 + part.length > width) {
      lines.push(line);
      line = indent;
    }
    line += ` - ${part}`;
  }
  lines.push(line);
  return lines.join('\n');
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
      format: (_options, params) =>
        formatLine(params.value, params.total, (performance.now() - this.started) / 1000, this.logs, this.options.columns?.() ?? DEFAULT_COLUMNS),
      stream: process.stdout,
      // No cursor hiding and no SIGINT handler: fit yields to the event loop only between epochs, so
      // a JS SIGINT handler would delay Ctrl-C until the epoch ends (and leave the cursor hidden).
      hideCursor: false,
      // formatLine makes the live line fit the terminal; cli-progress would cut it at the terminal's
      // width otherwise (it does when `linewrap` is true, without switching the terminal's autowrap
      // off, which a Ctrl-C would leave off). The final line is written below.
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
    this.write(formatLine(total, total, (performance.now() - this.started) / 1000, this.logs, this.options.columns?.()) + '\n');
  }
}
