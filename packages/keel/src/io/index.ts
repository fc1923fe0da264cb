/**
 * Saving and loading in the TF.js Layers format. Re-exports only: Keel's entry point
 * (`src/index.ts`) registers `saveModel` as the saver of `model.save` and the `file://` scheme.
 */
export { registerIOScheme, saveModel, loadLayersModel, fromMemory, withSaveHandler } from './router.js';
export { modelToArtifacts, artifactsToModel, artifactsToModelJSON, parseModelJSON, weightBytes } from './modelArtifacts.js';
export { ModelFormatError } from './errors.js';
export type { IOHandler, ModelArtifacts, ModelJSON, SaveConfig, SaveResult, TrainingConfig, WeightSpec, WeightsManifestGroup } from './types.js';
