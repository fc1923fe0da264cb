/** What every experiment shares: its context, its result, and a seeded training run. */
import { NonFiniteLossError, optimizers, recomputeBatchNormStatistics, setRandomSeed, slice, tensor, type Callback, type Sequential, type Tensor } from 'keel';
import type { ImageDataset, LabeledTensors } from 'keel-datasets';
import type { ComparisonResult, Verdict } from './verdict.js';
import type { VegaLiteSpec } from './plots.js';

type Optimizer = optimizers.Optimizer;

export interface ExperimentContext {
  /** Small subsets and few epochs: minutes, not hours. */
  quick: boolean;
  /** Seeds to repeat each configuration with. */
  seeds: number[];
  /** Epochs, overriding the experiment's default. */
  epochs?: number;
  /** Upper bound on every subset size and step count (tests and smoke runs use a tiny one). */
  limit?: number;
  /** 'fashion-mnist' or 'mnist'. */
  datasetName: string;
  /** Loads the data set (scaled to [0, 1], or raw 0–255 with scale false). */
  load(options: { scale: boolean; dataset?: string }): Promise<ImageDataset>;
  /** Progress lines. */
  log(line: string): void;
}

export interface Table {
  columns: string[];
  rows: (string | number)[][];
}

export interface Figure {
  /** File name without extension. */
  name: string;
  caption: string;
  spec: VegaLiteSpec;
}

export interface ExperimentResult {
  name: string;
  /** The claim, in one sentence. */
  claim: string;
  /** Setup, one line each. */
  setup: string[];
  table: Table;
  /** How to read the table (default: mean ± sample std over seeds). */
  tableNote?: string;
  comparisons: ComparisonResult[];
  verdict: Verdict;
  /** Anything the reader should know to interpret the figures. */
  notes: string[];
  figures: Figure[];
  /** Raw data, written as JSON and (rows of `csv`) as CSV. */
  data: Record<string, unknown>;
  csv: { name: string; columns: string[]; rows: (string | number)[][] }[];
}

export interface Experiment {
  name: string;
  /** One line for `--help` and the index page. */
  summary: string;
  run(ctx: ExperimentContext): Promise<ExperimentResult>;
}

/** `n`, capped by the context's `limit`. */
export function sized(ctx: ExperimentContext, n: number): number {
  return Math.min(n, ctx.limit ?? Infinity);
}

/** The first `n` examples of a part of a data set (all when n ≥ its size). */
export function firstN(part: LabeledTensors, n: number): LabeledTensors {
  const size = part.xs.shape[0];
  if (n >= size) return part;
  return { xs: slice(part.xs, 0, n), ys: slice(part.ys, 0, n) };
}

/** The rows of `part` at `rows`, in that order (a new copy). */
export function gatherRows(part: LabeledTensors, rows: readonly number[]): LabeledTensors {
  const pick = (t: Tensor): Tensor => {
    const width = t.size / t.shape[0];
    const values = t.dataSync();
    const out = new Float32Array(rows.length * width);
    rows.forEach((r, i) => out.set(values.subarray(r * width, (r + 1) * width), i * width));
    return tensor(out, [rows.length, ...t.shape.slice(1)]);
  };
  return { xs: pick(part.xs), ys: pick(part.ys) };
}

export interface RunSpec {
  label: string;
  build: () => Sequential;
  optimizer: () => Optimizer;
  epochs: number;
  batchSize: number;
  seed: number;
  train: LabeledTensors;
  validation: LabeledTensors;
  callbacks?: Callback[];
  /** Shuffle the training data every epoch (default true); false keeps an arrangement made on purpose. */
  shuffle?: boolean;
  /**
   * Validate with exact population statistics over the first N training images (BN's inference
   * as the BN paper defines it, recomputed before each validation) instead of the moving averages.
   * For short runs: moving averages of momentum 0.99 need several hundred steps to forget their
   * initial values, longer for features of small variance, so a few hundred steps leave them wrong
   * and the validation measures that rather than the training.
   */
  populationStatistics?: number;
}

/** What a run measured, without the trained model: keep these, not RunResults, when the models are not needed afterwards. */
export type RunCurves = Omit<RunResult, 'model'>;

/** The curves of a run, dropping the model so that its weights and workspaces can be freed. */
export function curvesOf(result: RunResult): RunCurves {
  const { model: _model, ...curves } = result;
  return curves;
}

export interface RunResult {
  label: string;
  seed: number;
  /** Validation accuracy after each epoch (the last value repeated to the end if training diverged). */
  valAccuracy: number[];
  valLoss: number[];
  trainLoss: number[];
  trainAccuracy: number[];
  /** True if the loss became NaN/∞: figures then come from the weights kept before that step. */
  diverged: boolean;
  seconds: number;
  model: Sequential;
}

/** One seeded training run: same seed ⇒ same initial weights and same shuffles. */
export async function train(ctx: ExperimentContext, spec: RunSpec): Promise<RunResult> {
  setRandomSeed(spec.seed);
  const model = spec.build();
  model.compile({ optimizer: spec.optimizer(), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  const started = Date.now();
  const history = { valAccuracy: [] as number[], valLoss: [] as number[], trainLoss: [] as number[], trainAccuracy: [] as number[] };
  let diverged = false;
  try {
    const population = spec.populationStatistics === undefined ? null : firstN(spec.train, spec.populationStatistics).xs;
    await model.fit(spec.train.xs, spec.train.ys, {
      epochs: spec.epochs, batchSize: spec.batchSize,
      ...(population ? {} : { validationData: [spec.validation.xs, spec.validation.ys] as [Tensor, Tensor] }),
      verbose: 0, seed: spec.seed * 7919 + 17, shuffle: spec.shuffle ?? true,
      callbacks: [
        ...(spec.callbacks ?? []),
        {
          onEpochEnd: async (_epoch, logs) => {
            if (population) {
              await recomputeBatchNormStatistics(model, population, { batchSize: 500 });
              [logs!.val_loss, logs!.val_accuracy] = evaluate(model, spec.validation);
            }
            history.valAccuracy.push(logs!.val_accuracy);
            history.valLoss.push(logs!.val_loss);
            history.trainLoss.push(logs!.loss);
            history.trainAccuracy.push(logs!.accuracy);
          },
        },
      ],
    });
  } catch (e) {
    if (!(e instanceof NonFiniteLossError)) throw e;
    diverged = true;
    const [, accuracy] = evaluate(model, spec.validation);
    while (history.valAccuracy.length < spec.epochs) {
      history.valAccuracy.push(accuracy);
      history.valLoss.push(NaN);
      history.trainLoss.push(NaN);
      history.trainAccuracy.push(NaN);
    }
  }
  const seconds = (Date.now() - started) / 1000;
  const last = history.valAccuracy[history.valAccuracy.length - 1];
  ctx.log(`  ${spec.label}, seed ${spec.seed}: validation accuracy ${last.toFixed(4)}${diverged ? ' (diverged)' : ''} in ${seconds.toFixed(1)} s`);
  return { label: spec.label, seed: spec.seed, ...history, diverged, seconds, model };
}

/** [loss, accuracy] in inference mode. */
export function evaluate(model: Sequential, part: LabeledTensors): [number, number] {
  const r = model.evaluate(part.xs, part.ys, { batchSize: 500 }) as Tensor[];
  return [r[0].dataSync()[0], r[1].dataSync()[0]];
}

/** Runs every configuration for every seed; results grouped by configuration label. */
export async function runAll(ctx: ExperimentContext, specs: Omit<RunSpec, 'seed'>[]): Promise<Map<string, RunResult[]>> {
  const out = new Map<string, RunResult[]>();
  for (const spec of specs) {
    const runs: RunResult[] = [];
    for (const seed of ctx.seeds) runs.push(await train(ctx, { ...spec, seed }));
    out.set(spec.label, runs);
  }
  return out;
}

/** Mean over runs of a per-epoch series. */
export function meanCurve<R extends RunCurves>(runs: R[], pick: (r: R) => number[]): number[] {
  const len = Math.min(...runs.map((r) => pick(r).length));
  return Array.from({ length: len }, (_, e) => runs.reduce((s, r) => s + pick(r)[e], 0) / runs.length);
}

export const lastOf = (xs: number[]): number => xs[xs.length - 1];

/** 1, 2, ..., n */
export const epochsAxis = (n: number): number[] => Array.from({ length: n }, (_, i) => i + 1);
