/**
 * Experiments that check the BN chapter's claims on real data, each ending in a verdict computed
 * from its figures. Run them with `keel experiment NAME` or `runExperiment` (experiments/node/).
 */
import type { Experiment } from './common.js';
import { placement } from './definitions/placement.js';
import { depth } from './definitions/depth.js';
import { initialization } from './definitions/initialization.js';
import { learningRate } from './definitions/learningRate.js';
import { regularization } from './definitions/regularization.js';
import { inputStandardization } from './definitions/inputStandardization.js';
import { paperFigure1 } from './definitions/paperFigure1.js';
import { runtimePenalty } from './definitions/runtimePenalty.js';

export const EXPERIMENTS: readonly Experiment[] = [
  placement, depth, initialization, learningRate, regularization, inputStandardization, paperFigure1, runtimePenalty,
];

export const EXPERIMENT_NAMES = EXPERIMENTS.map((e) => e.name);

export function getExperiment(name: string): Experiment | undefined {
  return EXPERIMENTS.find((e) => e.name === name);
}

export type { Experiment, ExperimentContext, ExperimentResult, Figure, Table } from './common.js';
export * from './verdict.js';
export * from './plots.js';

export type { RunExperimentArgs, ExperimentOutcome } from './node/run.js';

/**
 * Runs an experiment (or 'all') and writes its report, plots and data under `outDir`. Node only:
 * the runner (files, PNG rendering) is loaded when first called, so the core stays browser-safe.
 * @example await keel.experiments.runExperiments('placement', { quick: true, outDir: 'out' });
 */
export async function runExperiments(
  name: string, args?: import('./node/run.js').RunExperimentArgs,
): Promise<import('./node/run.js').ExperimentOutcome[]> {
  const runner = await import('./node/run.js');
  return runner.runExperiments(name, args);
}
