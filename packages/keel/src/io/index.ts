/**
 * Saving and loading in the TF.js Layers format. Importing this module wires `model.save` and
 * registers `file://`, whose Node code (`io/node/`) is imported only when a file:// URL is used,
 * so that the rest of Keel runs in a browser unchanged.
 */
import { ValueError } from '../core/errors.js';
import { modelSavers } from '../models/sequential.js';
import { registerIOScheme, saveModel } from './router.js';

registerIOScheme('file://', async (url) => {
  if (typeof process === 'undefined' || !process.versions?.node) {
    throw new ValueError(`file:// URLs need Node.js; in a browser, save with an IOHandler (keel.io.withSaveHandler).`);
  }
  const { fileSystemHandler } = await import('./node/fileSystem.js');
  return fileSystemHandler(url);
});
modelSavers.save = saveModel;

export { registerIOScheme, saveModel, loadLayersModel, fromMemory, withSaveHandler } from './router.js';
export { modelToArtifacts, artifactsToModel, artifactsToModelJSON, parseModelJSON, weightBytes } from './modelArtifacts.js';
export { ModelFormatError } from './errors.js';
export type { IOHandler, ModelArtifacts, ModelJSON, SaveResult, WeightSpec, WeightsManifestGroup } from './types.js';
