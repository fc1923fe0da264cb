/**
 * A Sequential model to and from TF.js's ModelArtifacts (topology JSON + weight specs + bytes),
 * and artifacts to and from the `model.json` document. Pure: no file system, runs in a browser.
 *
 * Weights are little-endian float32 in `model.weights` order (TF.js's: trainable weights in layer
 * order, then non-trainable ones) and are matched back by name on loading, as TF.js does.
 */
import { Sequential } from '../models/sequential.js';
import { Layer } from '../layers/layer.js';
import { Tensor } from '../core/tensor.js';
import { KeelError, describeValue, formatShape } from '../core/errors.js';
import { wrap } from '../ops/tensor.js';
import { ModelFormatError } from './errors.js';
import { buildLayer, layerToJSON, parseLayer, planOutputShape, planWeights, type LayerPlan } from '../layers/serialization.js';
import { describe, object, positiveInteger, string } from '../layers/serializationChecks.js';
import type { ModelArtifacts, ModelJSON, WeightSpec } from './types.js';

export const GENERATED_BY = 'Keel 0.1.0';
/** Keras version string TF.js 4.22 writes; TF.js and Keras readers look for a `keras_version`. */
const KERAS_VERSION = 'tfjs-layers 4.22.0';
/** Upper bound on the number of layers or weights in a file (far above any Sequential Keel trains). */
const MAX_ENTRIES = 10_000;

/** The model's topology and weights, ready for any IOHandler. */
export function modelToArtifacts(model: Sequential): ModelArtifacts {
  const layers = model.layers;
  if (layers.length === 0) throw new ModelFormatError(`save: the model has no layers; there is nothing to save.`);
  const modelTopology = {
    class_name: 'Sequential',
    config: { name: model.name, layers: layers.map((l, i) => layerToJSON(l, i === 0 ? model.inputShape : undefined)) },
    keras_version: KERAS_VERSION,
    backend: 'tensor_flow.js',
  };
  const variables = model.weights;
  const weightSpecs: WeightSpec[] = variables.map((v) => ({ name: v.name, shape: [...v.shape], dtype: 'float32' }));
  const total = variables.reduce((n, v) => n + v.value.size, 0);
  const data = new Float32Array(total);
  let offset = 0;
  for (const v of variables) {
    data.set(v.value.values, offset); // float64 models are rounded to float32, the format's only float type
    offset += v.value.size;
  }
  return {
    modelTopology, format: 'layers-model', generatedBy: GENERATED_BY, convertedBy: null,
    weightSpecs, weightData: toLittleEndian(data),
  };
}

/** The `model.json` document for artifacts whose weights are stored in `weightsPath`. */
export function artifactsToModelJSON(artifacts: ModelArtifacts, weightsPath = 'weights.bin'): ModelJSON {
  const json: ModelJSON = {
    modelTopology: artifacts.modelTopology,
    format: 'layers-model',
    generatedBy: artifacts.generatedBy ?? GENERATED_BY,
    convertedBy: artifacts.convertedBy ?? null,
    weightsManifest: [{ paths: [weightsPath], weights: artifacts.weightSpecs }],
  };
  if (artifacts.userDefinedMetadata) json.userDefinedMetadata = artifacts.userDefinedMetadata;
  return json;
}

/**
 * Reads and checks a `model.json` document: returns the weight groups (paths relative to the
 * model's folder, each checked not to leave it) and everything but the weights.
 */
export function parseModelJSON(text: string): { artifacts: Omit<ModelArtifacts, 'weightData'>; groups: { paths: string[]; bytes: number }[] } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new ModelFormatError(`model.json: not valid JSON (${(e as Error).message}). Was the file truncated or edited?`);
  }
  const json = object(parsed, 'model.json');
  if (json.format !== undefined && json.format !== 'layers-model') {
    throw new ModelFormatError(
      `model.json: expected format 'layers-model', received ${describe(json.format)}. ` +
        `Graph models (tfjs_graph_model) cannot be loaded as layers models.`,
    );
  }
  const modelTopology = object(json.modelTopology, 'model.json modelTopology');
  const manifest = json.weightsManifest;
  if (!Array.isArray(manifest) || manifest.length > MAX_ENTRIES) {
    throw new ModelFormatError(`model.json weightsManifest: expected an array of {paths, weights}, received ${typeof manifest}.`);
  }
  const weightSpecs: WeightSpec[] = [];
  const groups: { paths: string[]; bytes: number }[] = [];
  manifest.forEach((g, gi) => {
    const group = object(g, `weightsManifest[${gi}]`);
    if (!Array.isArray(group.paths) || group.paths.length === 0 || group.paths.length > MAX_ENTRIES) {
      throw new ModelFormatError(`weightsManifest[${gi}].paths: expected a non-empty array of file names, received ${describe(group.paths)}.`);
    }
    const paths = group.paths.map((p, pi) => checkRelativePath(string(p, `weightsManifest[${gi}].paths[${pi}]`), `weightsManifest[${gi}].paths[${pi}]`));
    if (!Array.isArray(group.weights) || group.weights.length > MAX_ENTRIES) {
      throw new ModelFormatError(`weightsManifest[${gi}].weights: expected an array of weight specs.`);
    }
    let bytes = 0;
    group.weights.forEach((w, wi) => {
      const spec = parseWeightSpec(w, `weightsManifest[${gi}].weights[${wi}]`);
      bytes += 4 * spec.shape.reduce((a, b) => a * b, 1);
      weightSpecs.push(spec);
    });
    groups.push({ paths, bytes });
  });
  const artifacts: Omit<ModelArtifacts, 'weightData'> = {
    modelTopology, weightSpecs,
    format: 'layers-model',
    generatedBy: typeof json.generatedBy === 'string' ? json.generatedBy : undefined,
    convertedBy: typeof json.convertedBy === 'string' ? json.convertedBy : null,
  };
  if (json.userDefinedMetadata !== undefined) artifacts.userDefinedMetadata = object(json.userDefinedMetadata, 'model.json userDefinedMetadata');
  return { artifacts, groups };
}

/**
 * A weights path must name a file inside the model's folder: relative, no `..`, no scheme, no
 * backslash or control characters. (Symbolic links inside the folder are the folder owner's choice.)
 */
export function checkRelativePath(path: string, where: string): string {
  const segments = path.split('/');
  if (
    path.length === 0 || path.length > 255 || path.startsWith('/') || /[\\\u0000-\u001f:]/.test(path) ||
    segments.some((s) => s === '..' || s === '.' || s === '')
  ) {
    throw new ModelFormatError(
      `${where}: weight file path ${JSON.stringify(path.slice(0, 80))} leaves the model's folder or is not a plain relative path; ` +
        `expected a file name next to model.json, such as 'weights.bin'.`,
    );
  }
  return path;
}

function parseWeightSpec(w: unknown, where: string): WeightSpec {
  const spec = object(w, where);
  const name = string(spec.name, `${where}.name`);
  if (spec.dtype !== 'float32') {
    throw new ModelFormatError(`${where}.dtype: Keel reads float32 weights only, received ${describe(spec.dtype)}.`);
  }
  if (spec.quantization !== undefined) {
    throw new ModelFormatError(`${where}: quantized weights are not supported; save the model without quantization.`);
  }
  if (!Array.isArray(spec.shape) || spec.shape.length > 8) {
    throw new ModelFormatError(`${where}.shape: expected an array of at most 8 dimensions, received ${describe(spec.shape)}.`);
  }
  const shape = spec.shape.map((d, i) => {
    if (d === 0) return 0;
    return positiveInteger(d, `${where}.shape[${i}]`);
  });
  const size = shape.reduce((a, b) => a * b, 1);
  if (!Number.isSafeInteger(size) || size > 2 ** 31) {
    throw new ModelFormatError(`${where}.shape: ${JSON.stringify(shape)} holds ${size} values, more than any file Keel can read.`);
  }
  return { name, shape, dtype: 'float32' };
}

/**
 * Builds a model from artifacts, checking everything before allocating: the topology, that the
 * manifest names exactly the weights the topology needs with the same shapes, that the bytes
 * match the manifest, and that every value is finite. Throws ModelFormatError otherwise.
 */
export function artifactsToModel(artifacts: ModelArtifacts): Sequential {
  const topology = object(artifacts.modelTopology, 'modelTopology');
  // TF.js files wrap the model config in {model_config: ...} when a training config is included.
  const root = topology.model_config !== undefined ? object(topology.model_config, 'modelTopology.model_config') : topology;
  if (root.class_name !== 'Sequential') {
    throw new ModelFormatError(
      `modelTopology.class_name: Keel loads Sequential models only, received ${describe(root.class_name)}.`,
    );
  }
  const rootConfig = root.config;
  // Keras 2.2 wrote the layer list directly as the config.
  const layerEntries = Array.isArray(rootConfig) ? rootConfig : object(rootConfig, 'modelTopology.config').layers;
  if (!Array.isArray(layerEntries) || layerEntries.length === 0 || layerEntries.length > MAX_ENTRIES) {
    throw new ModelFormatError(`modelTopology.config.layers: expected a non-empty array of layers.`);
  }
  const modelName = !Array.isArray(rootConfig) && typeof (rootConfig as Record<string, unknown>).name === 'string'
    ? ((rootConfig as Record<string, unknown>).name as string).slice(0, 256) : undefined;

  // Phase 1: configs and shapes, no allocation.
  const plans: LayerPlan[] = [];
  let inputShape: number[] | undefined;
  layerEntries.forEach((entry, i) => {
    const parsed = parseLayer(entry, `modelTopology layers[${i}]`);
    if ('inputLayerShape' in parsed) {
      if (plans.length > 0 || inputShape) throw new ModelFormatError(`modelTopology layers[${i}]: an InputLayer may only come first.`);
      inputShape = parsed.inputLayerShape;
      return;
    }
    if (plans.length === 0 && !inputShape) inputShape = parsed.declaredInputShape;
    plans.push(parsed);
  });
  if (plans.length === 0) throw new ModelFormatError(`modelTopology: the model has no layers besides its input.`);
  if (!inputShape) {
    throw new ModelFormatError(`modelTopology layers[0].config: expected batch_input_shape, e.g. [null, 784]; the first layer declares no input shape.`);
  }
  const names = new Set<string>();
  const expected = new Map<string, number[]>();
  let shape = inputShape;
  for (const plan of plans) {
    if (names.has(plan.name)) throw new ModelFormatError(`modelTopology: two layers are named '${plan.name}'; layer names must be unique.`);
    names.add(plan.name);
    for (const w of planWeights(plan, shape)) expected.set(`${plan.name}/${w.name}`, w.shape);
    shape = planOutputShape(plan, shape);
    const size = shape.reduce((a, b) => a * b, 1);
    if (!Number.isSafeInteger(size) || size > 2 ** 31) {
      throw new ModelFormatError(`layer '${plan.name}': its output holds ${size} values per example, more than Keel can compute.`);
    }
  }

  // Phase 2: the manifest against the topology, and the bytes against the manifest.
  // Artifacts may come from memory (fromMemory, a custom handler): check them as model.json is checked.
  if (!Array.isArray(artifacts.weightSpecs) || artifacts.weightSpecs.length > MAX_ENTRIES) {
    throw new ModelFormatError(`weightSpecs: expected an array of {name, shape, dtype}, received ${describe(artifacts.weightSpecs)}.`);
  }
  const specs = artifacts.weightSpecs.map((w, i) => parseWeightSpec(w, `weightSpecs[${i}]`));
  const seen = new Set<string>();
  for (const spec of specs) {
    if (seen.has(spec.name)) throw new ModelFormatError(`weightsManifest: weight '${spec.name.slice(0, 80)}' is listed twice.`);
    seen.add(spec.name);
    const want = expected.get(spec.name);
    if (!want) {
      throw new ModelFormatError(
        `weightsManifest: weight '${spec.name.slice(0, 80)}' belongs to no layer of the topology; expected only ${[...expected.keys()].join(', ')}.`,
      );
    }
    if (want.length !== spec.shape.length || want.some((d, i) => d !== spec.shape[i])) {
      throw new ModelFormatError(
        `weightsManifest: weight '${spec.name}' has shape ${JSON.stringify(spec.shape)}, but the topology needs ${JSON.stringify(want)}.`,
      );
    }
  }
  const missing = [...expected.keys()].filter((n) => !seen.has(n));
  if (missing.length) throw new ModelFormatError(`weightsManifest: missing weights ${missing.join(', ')} that the topology needs.`);
  const totalBytes = specs.reduce((n, s) => n + 4 * s.shape.reduce((a, b) => a * b, 1), 0);
  const data = weightBytes(artifacts.weightData);
  if (data.byteLength !== totalBytes) {
    throw new ModelFormatError(
      `weights: the manifest describes ${totalBytes} bytes, but ${data.byteLength} were given ` +
        `(${data.byteLength < totalBytes ? 'truncated' : 'oversized'}); the weights file does not belong to this model.json or is damaged.`,
    );
  }
  const values = fromLittleEndian(data.buffer as ArrayBuffer);
  const byName = new Map<string, Float32Array>();
  let offset = 0;
  for (const spec of specs) {
    const size = spec.shape.reduce((a, b) => a * b, 1);
    const slice = values.subarray(offset, offset + size);
    for (let i = 0; i < size; i++) {
      if (!Number.isFinite(slice[i])) {
        throw new ModelFormatError(`weights: '${spec.name}' holds ${slice[i]} at flat index ${i}; weights must be finite numbers.`);
      }
    }
    byName.set(spec.name, slice);
    offset += size;
  }

  // Phase 3: build (sizes are now bounded by the bytes actually present) and set weights.
  const layers: Layer[] = plans.map((plan, i) => buildLayer(plan, i === 0 ? inputShape : undefined));
  let model: Sequential;
  try {
    model = new Sequential({ layers, name: modelName });
  } catch (e) {
    // Building checks what only the assembled stack knows (e.g. BN's axis against the input rank).
    if (e instanceof KeelError) throw new ModelFormatError(`modelTopology: ${e.message}`);
    throw e;
  }
  const tensors: Tensor[] = model.weights.map((v) => {
    const src = byName.get(v.name);
    // Only a registered layer class whose `weights` disagrees with what its `create` builds gets here.
    if (!src || src.length !== v.value.size) {
      throw new KeelError(
        `loadLayersModel: layer weight '${v.name}' ${formatShape(v.shape)} is not among the weights its layer class's serializer ` +
          `declared (${[...expected].map(([n, s]) => `${n} ${formatShape(s)}`).join(', ')}); make its weights() list what create() builds.`,
      );
    }
    return wrap(v.value.dtype === 'float32' ? Float32Array.from(src) : Float64Array.from(src), v.shape);
  });
  model.setWeights(tensors);
  return model;
}

/** The weight bytes of artifacts as one array (TF.js may split them into several buffers). */
export function weightBytes(data: unknown): Uint8Array {
  const part = (d: unknown, i?: number): Uint8Array => {
    if (d instanceof ArrayBuffer) return new Uint8Array(d);
    if (ArrayBuffer.isView(d)) return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
    throw new ModelFormatError(
      `weightData${i === undefined ? '' : `[${i}]`}: expected an ArrayBuffer (or an array of them) of float32 values, received ${describeValue(d)}.`,
    );
  };
  if (!Array.isArray(data)) return part(data).slice();
  const parts = data.map((d, i) => part(d, i));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.byteLength;
  }
  return out;
}

const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function toLittleEndian(data: Float32Array): ArrayBuffer {
  const out = new ArrayBuffer(data.byteLength);
  if (littleEndian) new Float32Array(out).set(data);
  else {
    const view = new DataView(out);
    data.forEach((v, i) => view.setFloat32(4 * i, v, true));
  }
  return out;
}

function fromLittleEndian(data: ArrayBuffer): Float32Array {
  if (littleEndian) return new Float32Array(data.slice(0));
  const view = new DataView(data);
  const out = new Float32Array(data.byteLength / 4);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(4 * i, true);
  return out;
}
