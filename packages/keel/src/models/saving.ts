/**
 * How `model.save` reaches a file format. Models sit below io (io reads and writes models), so a
 * model cannot import its saver; instead, a saver is registered here, once, by Keel's entry point
 * (`src/index.ts` registers io's `saveModel`, which writes the TF.js Layers format).
 *
 * Also here: the in-memory contract between a model and where it is saved, as TF.js defines it
 * (`ModelArtifacts`, `IOHandler`, `SaveResult`), because `save` speaks it; io re-exports these and
 * adds the `model.json` document around them.
 */
import { StateError, ValueError, describeValue } from '../core/errors.js';
import type { LayersModel } from './layersModel.js';

/**
 * One weight in the manifest: its full name (`dense/kernel`), shape and element type. Optimizer
 * state saved with the model (`includeOptimizer`) is listed after the model's weights with
 * `group: 'optimizer'`, as TF.js lists it: `iter` (int32, the step count), then the slots.
 */
export interface WeightSpec {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int32';
  group?: string;
}

/**
 * How the model was compiled, as TF.js saves it with `includeOptimizer` (model.json's
 * `trainingConfig`): loss and metric names, and the optimizer's class and settings.
 */
export interface TrainingConfig {
  loss: string;
  metrics?: string[] | null;
  optimizer_config: { class_name: string; config: Record<string, unknown> };
  [key: string]: unknown;
}

/** Options of `model.save`, as TF.js's SaveConfig. */
export interface SaveConfig {
  /**
   * Also save how the model was compiled (`trainingConfig`) and the optimizer's state (its step
   * count and slots), so that `loadLayersModel` gives back a compiled model that trains on exactly
   * as this one would. Default false. An uncompiled model is saved without it, as in TF.js.
   */
  includeOptimizer?: boolean;
}

/** Topology and weights in memory: what an IOHandler saves or loads (TF.js's ModelArtifacts). */
export interface ModelArtifacts {
  modelTopology: Record<string, unknown>;
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
  weightSpecs: WeightSpec[];
  /**
   * The weights' bytes, little-endian float32, in `weightSpecs` order. TF.js 4.x may give several
   * buffers to be read one after the other; Keel writes one.
   */
  weightData: ArrayBuffer | ArrayBuffer[];
  /** Present when saved with `includeOptimizer` (TF.js's `trainingConfig`). */
  trainingConfig?: TrainingConfig;
  userDefinedMetadata?: Record<string, unknown>;
}

/** What `save` reports, as TF.js's SaveResult. */
export interface SaveResult {
  modelArtifactsInfo: {
    dateSaved: Date;
    modelTopologyType: 'JSON';
    modelTopologyBytes: number;
    weightSpecsBytes: number;
    weightDataBytes: number;
  };
}

/** Where a model goes or comes from. A URL like `file://DIR` resolves to one of these. */
export interface IOHandler {
  save?(artifacts: ModelArtifacts): Promise<SaveResult>;
  load?(): Promise<ModelArtifacts>;
}

/**
 * Writes `model` (topology and weights) to `destination`, a URL or an IOHandler, with the options
 * of the `save` call (`config`: includeOptimizer...). It must not change the model, and must reject
 * (not resolve) when the model cannot be written.
 */
export type ModelSaver = (model: LayersModel, destination: string | IOHandler, config?: SaveConfig) => Promise<SaveResult>;

let saver: ModelSaver | undefined;

/**
 * Makes `model.save` use `save`. Keel's entry point calls this once with io's `saveModel`; call it
 * yourself only if you import Keel's modules one by one instead of its entry point. A second
 * registration replaces the first (the last one wins), so that an application may save otherwise.
 */
export function registerModelSaver(save: ModelSaver): void {
  if (typeof save !== 'function') {
    throw new ValueError(`registerModelSaver: expected a function (model, destination) => Promise<SaveResult>, received ${describeValue(save)}.`);
  }
  saver = save;
}

/** The registered saver; throws a StateError saying how to register one when there is none. */
export function registeredModelSaver(where: string): ModelSaver {
  if (!saver) {
    throw new StateError(
      `${where}: no model saver is registered, so the model cannot be written. Keel's entry point registers one: ` +
        `import Keel as a package (import * as keel from 'keel'). Code that imports Keel's modules one by one must first call ` +
        `registerModelSaver(saveModel), both from those modules (models/saving and io/router).`,
    );
  }
  return saver;
}
