/**
 * Keel's TF.js Layers artifacts (what `model.save` hands an IOHandler) to and from the bytes of a
 * Keras 3 `.keras` archive. Going through the artifacts keeps this package on Keel's public API:
 * Keel writes and checks every layer config, and `keel.io.artifactsToModel` builds the model from
 * what this module reads, after checking every config and weight itself, before any layer exists.
 */
import * as keel from 'keel';
import { ModelFormatError } from 'keel';
import { CONFIG_FILE, METADATA_FILE, parseJSONEntry, readArchive, writeArchive, type ArchiveLimits } from './archive.js';
import { inputLayerToKeras, layerFromKeras, layerToKeras, dtypePolicy, type JSONObject, type TfjsLayer } from './config.js';
import { kerasWeights, weightGroupKeys, type KerasWeight } from './layerWeights.js';
import { readWeightsFile, writeWeightsFile, type LayerVars, type StoredVar } from './weightsFile.js';

type ModelArtifacts = keel.io.ModelArtifacts;
type WeightSpec = keel.io.WeightSpec;

/** The Keras version whose archive layout this package writes (and was tested against). */
export const KERAS_VERSION = '3.15.1';
const MAX_LAYERS = 10_000;

const isObject = (v: unknown): v is JSONObject => typeof v === 'object' && v !== null && !Array.isArray(v);
const formatShape = (shape: readonly number[]) => `[${shape.join(', ')}]`;
const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

/** The output shape of a layer from its config, through an unbuilt Keel layer (nothing the size of its weights is allocated). */
function outputShape(layer: TfjsLayer, inputShape: readonly number[], where: string): number[] {
  try {
    return keel.layers.layerFromJSON(layer, where).computeOutputShape(inputShape);
  } catch (e) {
    if (e instanceof keel.KeelError && !(e instanceof ModelFormatError)) throw new ModelFormatError(`${where}: ${e.message}`);
    throw e;
  }
}

// ---- writing --------------------------------------------------------------------------------

/** The bytes of a `.keras` archive holding the model of these artifacts (the optimizer state, if any, is not written). */
export async function artifactsToKeras(artifacts: ModelArtifacts): Promise<Uint8Array> {
  const topology = artifacts.modelTopology as JSONObject;
  const root = (isObject(topology.model_config) ? topology.model_config : topology) as JSONObject;
  if (root.class_name !== 'Sequential' || !isObject(root.config) || !Array.isArray(root.config.layers)) {
    throw new ModelFormatError(`toKeras: expected the artifacts of a Sequential model, received class ${JSON.stringify(root.class_name)}.`);
  }
  const modelName = typeof root.config.name === 'string' ? root.config.name : 'sequential';
  const entries = root.config.layers as TfjsLayer[];
  const layers = entries.filter((e) => e.class_name !== 'InputLayer');
  const inputEntry = entries.find((e) => e.class_name === 'InputLayer');
  const declared = (inputEntry ?? layers[0])?.config?.batch_input_shape;
  if (!Array.isArray(declared)) throw new ModelFormatError(`toKeras: the model declares no input shape; its first layer needs one (inputShape).`);
  const inputShape = declared.slice(1) as number[];

  const values = new Map<string, Float32Array>();
  const bytes = keel.io.weightBytes(artifacts.weightData);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let offset = 0;
  for (const spec of artifacts.weightSpecs) {
    const size = spec.shape.reduce((a, b) => a * b, 1);
    if (spec.group !== 'optimizer') {
      const data = new Float32Array(size);
      for (let i = 0; i < size; i++) data[i] = view.getFloat32(offset + 4 * i, true);
      values.set(spec.name, data);
    }
    offset += 4 * size;
  }

  const keys = weightGroupKeys(layers.map((l) => l.class_name));
  const kerasLayers: JSONObject[] = [inputLayerToKeras(inputShape)];
  const vars: LayerVars[] = [];
  let shape = inputShape;
  layers.forEach((layer, i) => {
    const name = String(layer.config.name);
    const where = `toKeras: layer '${name}' (${layer.class_name})`;
    const wanted = kerasWeights(layer.class_name, layer.config, shape, where);
    const layerValues = wanted.map((w) => {
      const data = values.get(`${name}/${w.name}`);
      if (!data || data.length !== w.shape.reduce((a, b) => a * b, 1)) {
        throw new ModelFormatError(`${where}: expected a weight '${name}/${w.name}' ${formatShape(w.shape)} in the model, found ${data ? `${data.length} values` : 'none'}.`);
      }
      values.delete(`${name}/${w.name}`);
      return { shape: w.shape, data };
    });
    kerasLayers.push(layerToKeras(layer, shape, wanted.length > 0));
    vars.push({ key: keys[i], layerName: name, values: layerValues });
    shape = outputShape(layer, shape, where);
  });
  if (values.size > 0) {
    throw new ModelFormatError(`toKeras: weights ${[...values.keys()].slice(0, 10).join(', ')} belong to no layer Keras 3 has; expected none left over.`);
  }
  const config = {
    module: 'keras', class_name: 'Sequential',
    config: { name: modelName, trainable: true, dtype: dtypePolicy(), layers: kerasLayers },
    registered_name: null,
    build_config: { input_shape: [null, ...inputShape] },
  };
  const metadata = { keras_version: KERAS_VERSION, date_saved: kerasDate(new Date()), generated_by: artifacts.generatedBy ?? 'Keel' };
  return writeArchive(config, metadata, await writeWeightsFile(modelName, vars));
}

/** Keras's `date_saved`: `2026-12-02@00:42:39` (local time, as Python's datetime.now()). */
function kerasDate(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}@${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

// ---- reading --------------------------------------------------------------------------------

const FIX = 'Save the model again with Keras (model.save("model.keras")) and load that file.';

/**
 * TF.js Layers artifacts of the model in a `.keras` archive, every config and weight checked
 * against the others first: ModelFormatError for anything Keel cannot load exactly.
 */
export async function kerasToArtifacts(bytes: Uint8Array, limits: ArchiveLimits = {}): Promise<ModelArtifacts> {
  const archive = readArchive(bytes, limits);
  const config = parseJSONEntry(archive.config, CONFIG_FILE);
  if (archive.metadata) {
    const metadata = parseJSONEntry(archive.metadata, METADATA_FILE);
    const version = isObject(metadata) ? metadata.keras_version : undefined;
    if (typeof version === 'string' && !version.startsWith('3.')) {
      throw new ModelFormatError(`metadata.json: the archive was written by Keras ${version.slice(0, 20)}; keel-keras reads Keras 3's layout. Load and save it with Keras 3.`);
    }
  }
  if (!isObject(config)) throw new ModelFormatError(`config.json: expected a model config object, received ${typeof config}. ${FIX}`);
  if (config.class_name !== 'Sequential') {
    throw new ModelFormatError(
      `config.json: Keel loads Sequential Keras models; received class_name ${JSON.stringify(config.class_name)?.slice(0, 80)}. ` +
        `Rebuild the model as a keras.Sequential (a chain of layers), save it, and load that file.`,
    );
  }
  const modelConfig = config.config;
  if (!isObject(modelConfig) || !Array.isArray(modelConfig.layers) || modelConfig.layers.length === 0 || modelConfig.layers.length > MAX_LAYERS) {
    throw new ModelFormatError(`config.json config.layers: expected a non-empty array of layers. ${FIX}`);
  }
  const modelName = typeof modelConfig.name === 'string' ? modelConfig.name.slice(0, 256) : 'sequential';

  const layers: TfjsLayer[] = [];
  let inputShape: number[] | undefined;
  modelConfig.layers.forEach((entry, i) => {
    const parsed = layerFromKeras(entry, `config.json layers[${i}]`);
    if ('inputShape' in parsed) {
      if (layers.length > 0 || inputShape) throw new ModelFormatError(`config.json layers[${i}]: an InputLayer may only come first.`);
      inputShape = parsed.inputShape;
    } else {
      layers.push(parsed);
    }
  });
  if (!inputShape) {
    const built = modelConfig.build_input_shape ?? (isObject(config.build_config) ? config.build_config.input_shape : undefined);
    if (Array.isArray(built) && built.length >= 2) inputShape = built.slice(1) as number[];
  }
  if (!inputShape || inputShape.some((d) => !Number.isInteger(d) || d <= 0)) {
    throw new ModelFormatError(`config.json: the model declares no input shape (no InputLayer, no build_input_shape); build it in Keras with keras.Input(shape) first. ${FIX}`);
  }
  if (layers.length === 0) throw new ModelFormatError(`config.json: the model has no layers besides its input. ${FIX}`);

  // Phase 1: shapes and the weights each layer needs, from the configs alone.
  const keys = weightGroupKeys(layers.map((l) => l.class_name));
  const needs: { layer: TfjsLayer; key: string; weights: KerasWeight[] }[] = [];
  let shape = inputShape;
  let totalBytes = 0;
  layers.forEach((layer, i) => {
    const where = `config.json layers[${i + 1}] '${String(layer.config.name).slice(0, 80)}' (${layer.class_name})`;
    const weights = kerasWeights(layer.class_name, layer.config, shape, where);
    needs.push({ layer, key: keys[i], weights });
    for (const w of weights) totalBytes += 4 * w.shape.reduce((a, b) => a * b, 1);
    shape = outputShape(layer, shape, where);
  });
  // Keras stores its variables uncompressed: a config that needs more bytes than the file holds is not this file's.
  if (!(totalBytes <= archive.weights.byteLength)) {
    throw new ModelFormatError(
      `model.weights.h5: config.json needs ${totalBytes} bytes of float32 weights, but the weights file has only ${archive.weights.byteLength} bytes; ` +
        `missing weights, or the file belongs to another model. ${FIX}`,
    );
  }

  // Phase 2: the weights file against the needs, shapes before values.
  const specs: WeightSpec[] = [];
  const chunks: Float32Array[] = [];
  await readWeightsFile(archive.weights, (stored) => {
    const matched: StoredVar[][] = [];
    for (const { layer, key, weights } of needs) {
      const name = String(layer.config.name);
      const found = stored.get(key) ?? [];
      stored.delete(key);
      const where = `model.weights.h5 /layers/${key}/vars (layer '${name.slice(0, 80)}', ${layer.class_name})`;
      const list = (ws: readonly { shape: number[] }[]) => ws.map((w) => formatShape(w.shape)).join(', ') || 'none';
      if (found.length !== weights.length) {
        throw new ModelFormatError(
          `${where}: expected ${weights.length} weights (${weights.map((w) => `${w.name} ${formatShape(w.shape)}`).join(', ') || 'none'}), ` +
            `received ${found.length} (${list(found)}); ${found.length < weights.length ? 'missing' : 'extra'} weights. ${FIX}`,
        );
      }
      matched.push(found);
      weights.forEach((w, i) => {
        if (!sameShape(found[i].shape, w.shape)) {
          throw new ModelFormatError(
            `${where}/${i}: expected ${w.name} of shape ${formatShape(w.shape)} (from config.json), received shape ${formatShape(found[i].shape)}; ` +
              `the weights do not belong to this config. ${FIX}`,
          );
        }
      });
    }
    // Keras writes an empty group for a layer without weights; one that matches no layer is not this model's.
    if (stored.size > 0) {
      const [key, vars] = [...stored.entries()].sort((a, b) => b[1].length - a[1].length)[0];
      throw new ModelFormatError(
        `model.weights.h5: '/layers/${key.slice(0, 80)}' (${vars.length} weights) belongs to no layer of config.json, whose layers are stored as ` +
          `${keys.slice(0, 20).join(', ')}; extra weights. ${FIX}`,
      );
    }
    // Every shape matches: now read the values (bounded by the file's size above).
    needs.forEach(({ layer, weights }, l) => {
      weights.forEach((w, i) => {
        specs.push({ name: `${String(layer.config.name)}/${w.name}`, shape: w.shape, dtype: 'float32' });
        chunks.push(matched[l][i].read());
      });
    });
  });

  const weightData = new ArrayBuffer(4 * chunks.reduce((n, c) => n + c.length, 0));
  const out = new DataView(weightData);
  let offset = 0;
  for (const chunk of chunks) {
    for (let i = 0; i < chunk.length; i++) out.setFloat32(offset + 4 * i, chunk[i], true);
    offset += 4 * chunk.length;
  }
  return {
    modelTopology: { class_name: 'Sequential', config: { name: modelName, layers: [{ class_name: 'InputLayer', config: { batch_input_shape: [null, ...inputShape], name: 'input_layer' } }, ...layers] } },
    format: 'layers-model', generatedBy: 'Keras (read by keel-keras)', convertedBy: null,
    weightSpecs: specs, weightData,
  };
}
