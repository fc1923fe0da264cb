/**
 * The TF.js Layers model format, as TensorFlow.js 4.x writes it (`model.json` + `weights.bin`).
 * These types mirror TF.js's `ModelArtifacts` and `IOHandler`, so that artifacts move between
 * Keel and TF.js unchanged (e.g. through `tf.io.fromMemory` and `tf.io.withSaveHandler`).
 *
 * The in-memory types that `model.save` speaks (ModelArtifacts, IOHandler, SaveResult, WeightSpec)
 * are defined in models/saving.ts, below io, and re-exported here.
 */
import type { TrainingConfig, WeightSpec } from '../models/saving.js';

export type { IOHandler, ModelArtifacts, SaveConfig, SaveResult, TrainingConfig, WeightSpec } from '../models/saving.js';

/** A group of weights stored in one or more shard files, concatenated in order. */
export interface WeightsManifestGroup {
  paths: string[];
  weights: WeightSpec[];
}

/** The contents of `model.json`. */
export interface ModelJSON {
  modelTopology: Record<string, unknown>;
  format: 'layers-model';
  generatedBy: string;
  convertedBy: string | null;
  weightsManifest: WeightsManifestGroup[];
  /** Written with `includeOptimizer`, as TF.js writes it. */
  trainingConfig?: TrainingConfig;
  userDefinedMetadata?: Record<string, unknown>;
}
