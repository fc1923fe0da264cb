/** The experiments, in the order `keel experiment all` runs them. */
import type { Experiment } from './common.js';
import { placement } from './definitions/placement.js';
import { depth } from './definitions/depth.js';
import { initialization } from './definitions/initialization.js';
import { learningRate } from './definitions/learningRate.js';
import { regularization } from './definitions/regularization.js';
import { inputStandardization } from './definitions/inputStandardization.js';
import { paperFigure1 } from './definitions/paperFigure1.js';
import { runtimePenalty } from './definitions/runtimePenalty.js';
import { cnn } from './definitions/cnn.js';
import { smallBatch } from './definitions/smallBatch.js';
import { depthResidual } from './definitions/depthResidual.js';

export const EXPERIMENTS: readonly Experiment[] = [
  placement, depth, initialization, learningRate, regularization, inputStandardization, paperFigure1, runtimePenalty, cnn, smallBatch, depthResidual,
];

export const EXPERIMENT_NAMES = EXPERIMENTS.map((e) => e.name);

export function getExperiment(name: string): Experiment | undefined {
  return EXPERIMENTS.find((e) => e.name === name);
}
