/**
 * Experiments that check the BN chapter's claims on real data, each ending in a verdict computed
 * from its figures. Run them with `keel experiment NAME`; `node/run.ts` writes the reports.
 */
export { EXPERIMENTS, EXPERIMENT_NAMES, getExperiment } from './registry.js';
export type { Experiment, ExperimentContext, ExperimentResult, Figure, Table } from './common.js';
export * from './verdict.js';
export * from './plots.js';

export { runExperiments, type RunExperimentArgs, type ExperimentOutcome } from './node/run.js';
