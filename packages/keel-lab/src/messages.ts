/** The messages between the page and the training Worker. Types only. */
import type { LabState } from './state.js';

export type RunId = 'a' | 'b';

export type ToWorker =
  | { type: 'configure'; state: LabState }
  | { type: 'train' }
  | { type: 'pause' }
  | { type: 'follow'; layer: number; feature: number }
  | { type: 'recompute' }
  | { type: 'fold' }
  | { type: 'download'; run: RunId }
  | { type: 'downloadOnnx'; run: RunId }
  | { type: 'predict'; pixels: Float32Array }
  | { type: 'testImage'; index: number };

/** One recorded training step of one run. */
export interface StepPoint {
  step: number;
  loss: number;
  accuracy: number;
}

export interface ValidationPoint {
  step: number;
  loss: number;
  accuracy: number;
}

/** Recorded every few steps: what the distribution, gradient and BN charts show. */
export interface ProbePoint {
  step: number;
  /** 15th, 50th and 85th percentiles of the chosen feature's pre-activation over the batch (NaN: none). */
  p15: number;
  p50: number;
  p85: number;
  /** ‖∂L/∂W‖ of each kernel, in the order of `RunInfo.kernels`. */
  gradientNorms: number[];
  /** The chosen BN feature: this batch's mean and variance, and the moving ones after the step (NaN: no BN there). */
  batchMean: number;
  batchVariance: number;
  movingMean: number;
  movingVariance: number;
}

export interface RunInfo {
  summary: string;
  /** Names of the layers with a kernel, for the gradient-norm legend. */
  kernels: string[];
  /** Names of the charted layers (null: this run has none there). */
  preActivationLayer: string | null;
  batchNormLayer: string | null;
  parameters: number;
}

export interface RunProgress {
  steps: StepPoint[];
  validation: ValidationPoint[];
  probes: ProbePoint[];
  /** Set once the run has stopped on its own, e.g. "the loss became NaN at step 412". */
  stopped: string | null;
}

export interface FoldReport {
  before: string[];
  after: string[];
  folded: number;
  notFolded: string[];
  largestDifference: number;
  msBefore: number;
  msAfter: number;
}

export type FromWorker =
  | { type: 'ready'; backend: string; workers: number; isolated: boolean; train: number; test: number; classNames: string[] }
  | { type: 'configured'; a: RunInfo; b: RunInfo }
  | {
    type: 'progress'; epoch: number; step: number; stepsPerEpoch: number;
    /** Set when training stopped by itself (the last epoch, or both runs diverged), not on a pause. */
    finished: boolean;
    a: RunProgress; b: RunProgress;
  }
  | { type: 'recomputed'; a: string; b: string; figures: Record<RunId, { before: number; after: number } | null> }
  | { type: 'folded'; a: FoldReport | string; b: FoldReport | string }
  | { type: 'model'; run: RunId; modelFile: string; weightsFile: string; modelJson: string; weights: ArrayBuffer }
  | { type: 'onnxModel'; run: RunId; file: string; bytes: ArrayBuffer; opset: number }
  | { type: 'prediction'; a: number[]; b: number[] }
  | { type: 'testImage'; index: number; label: number; pixels: Float32Array }
  | { type: 'busy'; what: string }
  | { type: 'error'; message: string };
