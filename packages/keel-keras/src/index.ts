/**
 * keel-keras: Keras 3 `.keras` archives for Keel models, both ways (config.json, metadata.json
 * and model.weights.h5 in Keras 3's layout), for Sequential and functional models of the layers both have.
 *
 * @example
 *   import { toKeras, loadKerasModel, registerKerasIO } from 'keel-keras';
 *   const bytes = await toKeras(model);                 // a .keras archive, in memory
 *   const again = await loadKerasModel(bytes);          // or a path: loadKerasModel('model.keras')
 *   registerKerasIO();                                  // then keras:// URLs work in Keel:
 *   await model.save('keras://./out/model.keras');
 *   const loaded = await keel.loadLayersModel('keras://./out/model.keras');
 */
import * as keel from 'keel';
import { ModelFormatError, ValueError } from 'keel';
import { DEFAULT_MAX_UNCOMPRESSED_BYTES, type ArchiveLimits } from './archive.js';
import { artifactsToKeras } from './kerasWrite.js';
import { kerasToArtifacts } from './kerasRead.js';

export { artifactsToKeras, KERAS_VERSION } from './kerasWrite.js';
export { kerasToArtifacts } from './kerasRead.js';
export { DEFAULT_MAX_UNCOMPRESSED_BYTES, type ArchiveLimits } from './archive.js';
export { SUPPORTED_CLASSES } from './layerWeights.js';

type LayersModel = keel.LayersModel;
export type LoadKerasModelArgs = ArchiveLimits;

/**
 * The model (Sequential or functional) as the bytes of a `.keras` archive that Keras 3's
 * `keras.saving.load_model` reads. Weights only (no optimizer state).
 */
export async function toKeras(model: LayersModel): Promise<Uint8Array> {
  if (!(model instanceof keel.LayersModel)) {
    throw new ValueError(`toKeras: expected a Keel model (keel.sequential or keel.model), received ${model === null ? 'null' : typeof model}.`);
  }
  return artifactsToKeras(keel.io.modelToArtifacts(model));
}

function onNode(what: string): void {
  if (typeof process === 'undefined' || !process.versions?.node) {
    throw new ValueError(`${what} needs Node.js (it reads or writes a file); in a browser, pass the archive's bytes, or use toKeras.`);
  }
}

/**
 * A Keel model from a `.keras` archive: its bytes, a file path, or a `keras://` URL. Every config
 * and weight is checked before the model is built; anything Keel cannot load exactly throws a
 * ModelFormatError. The model comes back uncompiled (Keras's compile_config is not read).
 */
export async function loadKerasModel(source: string | Uint8Array | ArrayBuffer, args: LoadKerasModelArgs = {}): Promise<LayersModel> {
  return keel.io.artifactsToModel(await loadArtifacts(source, args));
}

async function loadArtifacts(source: string | Uint8Array | ArrayBuffer, args: LoadKerasModelArgs): Promise<keel.io.ModelArtifacts> {
  if (source instanceof ArrayBuffer) return kerasToArtifacts(new Uint8Array(source), args);
  if (source instanceof Uint8Array) return kerasToArtifacts(source, args);
  if (typeof source !== 'string') {
    throw new ValueError(`loadKerasModel: expected the bytes of a .keras archive, a file path or a keras:// URL, received ${source === null ? 'null' : typeof source}.`);
  }
  onNode('loadKerasModel with a path');
  const { readKerasFile } = await import('./node/file.js');
  const bytes = await readKerasFile(kerasPath(source), args.maxUncompressedBytes ?? DEFAULT_MAX_UNCOMPRESSED_BYTES);
  return kerasToArtifacts(bytes, args);
}

/** The file path of a `keras://` URL (`keras://./dir/m.keras`, `keras:///abs/m.keras`), or of a plain path. */
export function kerasPath(url: string): string {
  const path = url.startsWith('keras://') ? url.slice('keras://'.length) : url;
  if (!path.endsWith('.keras')) {
    throw new ValueError(`keras: expected a path ending in .keras (as Keras 3 requires), received '${url.slice(0, 200)}'. Example: 'keras://./out/model.keras'.`);
  }
  return path;
}

/** An IOHandler for one `.keras` file: `save` writes it atomically, `load` reads it. */
export function kerasHandler(url: string, args: LoadKerasModelArgs = {}): keel.io.IOHandler {
  const path = kerasPath(url);
  return {
    async save(artifacts) {
      onNode('saving to a keras:// URL');
      const bytes = await artifactsToKeras(artifacts);
      const { writeKerasFile } = await import('./node/file.js');
      await writeKerasFile(path, bytes);
      return {
        modelArtifactsInfo: {
          dateSaved: new Date(), modelTopologyType: 'JSON',
          modelTopologyBytes: JSON.stringify(artifacts.modelTopology).length,
          weightSpecsBytes: JSON.stringify(artifacts.weightSpecs).length,
          weightDataBytes: keel.io.weightBytes(artifacts.weightData).byteLength,
        },
      };
    },
    load: () => loadArtifacts(path, args),
  };
}

let registered = false;

/**
 * Makes `keras://PATH.keras` URLs work in `model.save` and `keel.loadLayersModel`. Not done on
 * import, so that importing the package changes nothing in Keel until asked; calling it twice is harmless.
 */
export function registerKerasIO(): void {
  if (registered) return;
  keel.io.registerIOScheme('keras://', (url) => kerasHandler(url));
  registered = true;
}

export { ModelFormatError };
