/**
 * Where models are saved and loaded: a URL (`file://DIR`) resolved by a registry of schemes, or
 * an IOHandler object given directly (TF.js's convention). The registry keeps Node's file system
 * out of the core: `file://` is registered by Keel's entry point (`src/index.ts`) and loads `io/node/`
 * only when used (`fileScheme.ts`).
 */
import type { LayersModel } from '../models/layersModel.js';
import { ValueError, describeValue } from '../core/errors.js';
import { ModelFormatError } from './errors.js';
import { artifactsToModel, modelToArtifacts, weightBytes } from './modelArtifacts.js';
import type { IOHandler, ModelArtifacts, SaveConfig, SaveResult } from './types.js';

type HandlerFactory = (url: string) => IOHandler | Promise<IOHandler>;
const schemes = new Map<string, HandlerFactory>();

/** Makes `scheme://...` URLs resolve to handlers made by `factory` (e.g. 'file://'). */
export function registerIOScheme(scheme: string, factory: HandlerFactory): void {
  schemes.set(scheme, factory);
}

async function resolve(destination: string | IOHandler, where: string, method: 'save' | 'load'): Promise<IOHandler> {
  if (typeof destination === 'string') {
    const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(destination)?.[0].toLowerCase();
    const factory = scheme && schemes.get(scheme);
    if (!factory) {
      throw new ValueError(
        `${where}: expected a URL with a known scheme (${[...schemes.keys()].join(', ') || 'none registered'}) or an IOHandler, ` +
          `received '${destination.slice(0, 120)}'. Example: 'file://./my-model'.`,
      );
    }
    return factory(destination);
  }
  if (typeof destination !== 'object' || destination === null || typeof destination[method] !== 'function') {
    throw new ValueError(`${where}: expected a URL string or an IOHandler with a ${method}() method, received ${describeValue(destination)}.`);
  }
  return destination;
}

/**
 * Saves `model`: topology and weights; with `{includeOptimizer: true}`, also how it was compiled
 * and the optimizer's state (see modelArtifacts.ts). `model.save(destination, config)` calls this.
 */
export async function saveModel(model: LayersModel, destination: string | IOHandler, config: SaveConfig = {}): Promise<SaveResult> {
  const handler = await resolve(destination, 'save', 'save');
  if (!handler.save) throw new ValueError(`save: the handler for ${describeValue(destination)} cannot save.`);
  return handler.save(modelToArtifacts(model, config));
}

/**
 * Loads a model saved in the TF.js Layers format, by Keel or by TensorFlow.js: a Sequential, or a
 * functional model (`class_name` 'Model' or 'Functional').
 * Throws ModelFormatError (never returns a half-built model) when the files are damaged or hostile.
 *
 * @example const model = await keel.loadLayersModel('file://./my-model/model.json');
 */
export async function loadLayersModel(source: string | IOHandler): Promise<LayersModel> {
  const handler = await resolve(source, 'loadLayersModel', 'load');
  if (!handler.load) throw new ValueError(`loadLayersModel: the handler for ${describeValue(source)} cannot load.`);
  const artifacts = await handler.load();
  if (typeof artifacts !== 'object' || artifacts === null) {
    throw new ModelFormatError(`loadLayersModel: the handler returned ${describeValue(artifacts)} instead of model artifacts.`);
  }
  return artifactsToModel(artifacts);
}

/** A handler that loads from artifacts in memory (as TF.js's `tf.io.fromMemory`). */
export function fromMemory(artifacts: ModelArtifacts): IOHandler {
  return { load: async () => artifacts };
}

/** A handler that passes the artifacts to `saveFn` (as TF.js's `tf.io.withSaveHandler`). */
export function withSaveHandler(saveFn: (artifacts: ModelArtifacts) => Promise<SaveResult | void>): IOHandler {
  return {
    save: async (artifacts) => (await saveFn(artifacts)) ?? artifactsInfo(artifacts),
  };
}

/** TF.js's SaveResult figures for some artifacts. */
export function artifactsInfo(artifacts: ModelArtifacts): SaveResult {
  return {
    modelArtifactsInfo: {
      dateSaved: new Date(),
      modelTopologyType: 'JSON',
      modelTopologyBytes: JSON.stringify(artifacts.modelTopology).length,
      weightSpecsBytes: JSON.stringify(artifacts.weightSpecs).length,
      weightDataBytes: weightBytes(artifacts.weightData).byteLength,
    },
  };
}
