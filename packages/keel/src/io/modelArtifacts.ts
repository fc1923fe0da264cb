/**
 * A model (Sequential or functional, see functionalTopology.ts) to and from TF.js's ModelArtifacts (topology JSON + weight specs + bytes),
 * and artifacts to and from the `model.json` document. Pure: no file system, runs in a browser.
 *
 * Weights are little-endian float32 in `model.weights` order (TF.js's: trainable weights in layer
 * order, then non-trainable ones) and are matched back by name on loading, as TF.js does.
 *
 * Saved with `includeOptimizer` (TF.js 4.22's format, as far as it goes): model.json gets a
 * top-level `trainingConfig` ({loss, metrics, optimizer_config: {class_name, config}}), and the
 * optimizer's state follows the model's weights in the same manifest and bytes, each spec marked
 * `group: 'optimizer'`: `iter` (an int32 scalar, the step count), then the slots named
 * `<weight>/<slot>`, all of one kind before the next (Adam: every `/m`, then every `/v`).
 * Loading such a file gives a compiled model whose optimizer has that class, configuration
 * (learning rate included), step count and slots.
 * Differs from TF.js: Keel's class names and configs are Keras's ('RMSprop', `learning_rate`,
 * `beta_1`), its SGD momentum slot is Keras's velocity (−lr·Σ, not TF.js's Momentum accumulator),
 * and its slots are matched by name, not position. TF.js loads Keel's Adam state as its own; it
 * cannot load Keel's SGD-with-momentum, RMSprop or Nadam state (no such class or slot in TF.js).
 * Keel loads TF.js's Adam, SGD and RMSProp state; not its Momentum, Adagrad or Adadelta.
 */
import { Sequential } from '../models/sequential.js';
import type { LayersModel } from '../models/layersModel.js';
import { functionalTopology, parseFunctionalTopology } from './functionalTopology.js';
import type { SaveConfig, TrainingConfig } from '../models/saving.js';
import { Layer } from '../layers/layer.js';
import { Tensor } from '../core/tensor.js';
import { KeelError, describeValue, formatShape } from '../core/errors.js';
import { wrap } from '../ops/tensor.js';
import { optimizerFromConfig } from '../optimizers/index.js';
import { ModelFormatError } from './errors.js';
import { buildLayer, layerToJSON, parseLayer, planOutputShape, planWeights, type LayerPlan } from '../layers/serialization.js';
import { describe, object, positiveInteger, string } from '../layers/serializationChecks.js';
import type { ModelArtifacts, ModelJSON, WeightSpec } from './types.js';

export const GENERATED_BY = 'Keel 0.1.0';
/** Keras version string TF.js 4.22 writes; TF.js and Keras readers look for a `keras_version`. */
const KERAS_VERSION = 'tfjs-layers 4.22.0';
/** Upper bound on the number of layers or weights in a file (far above any Sequential Keel trains). */
const MAX_ENTRIES = 10_000;

/**
 * The model's topology and weights, ready for any IOHandler; with `includeOptimizer`, also its
 * training config and optimizer state (see the top of this file).
 */
export function modelToArtifacts(model: LayersModel, config: SaveConfig = {}): ModelArtifacts {
  const layers = model.layers;
  if (layers.length === 0) throw new ModelFormatError(`save: the model has no layers; there is nothing to save.`);
  const graph = model.getGraph();
  const modelTopology = {
    ...(graph.inputLayers.length > 0
      ? functionalTopology(model.name, graph)
      : { class_name: 'Sequential', config: { name: model.name, layers: layers.map((l, i) => layerToJSON(l, i === 0 ? model.inputShape : undefined)) } }),
    keras_version: KERAS_VERSION,
    backend: 'tensor_flow.js',
  };
  const variables = model.weights;
  const weightSpecs: WeightSpec[] = variables.map((v) => ({ name: v.name, shape: [...v.shape], dtype: 'float32' }));
  // float64 models are rounded to float32, the format's only float type.
  const parts: { values: ArrayLike<number>; dtype: 'float32' | 'int32' }[] = variables.map((v) => ({ values: v.value.values, dtype: 'float32' }));
  const optimizer = model.optimizer;
  let trainingConfig: TrainingConfig | undefined;
  if (config.includeOptimizer && optimizer) {
    trainingConfig = model.getTrainingConfig();
    const state = optimizer.exportState();
    if (!Number.isSafeInteger(state.iterations) || state.iterations > 0x7fffffff) {
      throw new ModelFormatError(`save: the optimizer's step count ${state.iterations} does not fit the format's int32 'iter'.`);
    }
    weightSpecs.push({ name: 'iter', shape: [], dtype: 'int32', group: 'optimizer' });
    parts.push({ values: [state.iterations], dtype: 'int32' });
    for (const slot of state.slots) {
      weightSpecs.push({ name: slot.name, shape: [...slot.shape], dtype: 'float32', group: 'optimizer' });
      parts.push({ values: slot.values, dtype: 'float32' });
    }
  }
  const artifacts: ModelArtifacts = {
    modelTopology, format: 'layers-model', generatedBy: GENERATED_BY, convertedBy: null,
    weightSpecs, weightData: toLittleEndian(parts),
  };
  if (trainingConfig) artifacts.trainingConfig = trainingConfig;
  const metadata = model.getUserDefinedMetadata();
  if (metadata !== undefined) artifacts.userDefinedMetadata = metadata;
  return artifacts;
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
  if (artifacts.trainingConfig) json.trainingConfig = artifacts.trainingConfig;
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
  if (json.trainingConfig !== undefined && json.trainingConfig !== null) {
    artifacts.trainingConfig = object(json.trainingConfig, 'model.json trainingConfig') as TrainingConfig;
  }
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
  const group = spec.group === undefined || spec.group === null ? undefined : string(spec.group, `${where}.group`);
  // The optimizer's step count ('iter') is an int32 scalar in TF.js's files.
  if (spec.dtype !== 'float32' && !(spec.dtype === 'int32' && group === 'optimizer')) {
    throw new ModelFormatError(
      `${where}.dtype: Keel reads float32 weights only, received ${describe(spec.dtype)} (int32 only for the optimizer's step count).`,
    );
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
  const parsed: WeightSpec = { name, shape, dtype: spec.dtype };
  if (group !== undefined) parsed.group = group;
  return parsed;
}

/**
 * Builds a model from artifacts, checking everything before allocating: the topology, that the
 * manifest names exactly the weights the topology needs with the same shapes, that the bytes
 * match the manifest, and that every value is finite. Throws ModelFormatError otherwise.
 */
export function artifactsToModel(artifacts: ModelArtifacts): LayersModel {
  const topology = object(artifacts.modelTopology, 'modelTopology');
  // TF.js files wrap the model config in {model_config: ...} when a training config is included.
  const root = topology.model_config !== undefined ? object(topology.model_config, 'modelTopology.model_config') : topology;
  let plan: { expected: Map<string, number[]>; build(): LayersModel };
  if (root.class_name === 'Sequential') plan = parseSequentialTopology(root);
  else if (root.class_name === 'Model' || root.class_name === 'Functional') plan = parseFunctionalTopology(root, MAX_ENTRIES);
  else {
    throw new ModelFormatError(
      `modelTopology.class_name: Keel loads Sequential and functional ('Model', 'Functional') models, received ${describe(root.class_name)}.`,
    );
  }
  const expected = plan.expected;

  // Phase 2: the manifest against the topology, and the bytes against the manifest.
  // Artifacts may come from memory (fromMemory, a custom handler): check them as model.json is checked.
  if (!Array.isArray(artifacts.weightSpecs) || artifacts.weightSpecs.length > MAX_ENTRIES) {
    throw new ModelFormatError(`weightSpecs: expected an array of {name, shape, dtype}, received ${describe(artifacts.weightSpecs)}.`);
  }
  const specs = artifacts.weightSpecs.map((w, i) => parseWeightSpec(w, `weightSpecs[${i}]`));
  const seen = new Set<string>();
  for (const spec of specs) {
    if (spec.group === 'optimizer') continue; // checked against the model once it is built
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
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const byName = new Map<string, Float32Array>();
  const optimizerValues: { spec: WeightSpec; values: Float32Array | Int32Array }[] = [];
  let offset = 0;
  for (const spec of specs) {
    const size = spec.shape.reduce((a, b) => a * b, 1);
    const slice = readLittleEndian(view, offset, size, spec.dtype);
    if (slice instanceof Float32Array) {
      for (let i = 0; i < size; i++) {
        if (!Number.isFinite(slice[i])) {
          throw new ModelFormatError(`weights: '${spec.name}' holds ${slice[i]} at flat index ${i}; weights must be finite numbers.`);
        }
      }
    }
    if (spec.group === 'optimizer') optimizerValues.push({ spec, values: slice });
    else byName.set(spec.name, slice as Float32Array);
    offset += 4 * size;
  }

  // Phase 3: build (sizes are now bounded by the bytes actually present) and set weights.
  let model: LayersModel;
  try {
    model = plan.build();
  } catch (e) {
    // Building checks what only the assembled graph knows (e.g. BN's axis against the input rank).
    if (e instanceof KeelError && !(e instanceof ModelFormatError)) throw new ModelFormatError(`modelTopology: ${e.message}`);
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
  if (artifacts.userDefinedMetadata !== undefined && artifacts.userDefinedMetadata !== null) {
    model.setUserDefinedMetadata(object(artifacts.userDefinedMetadata, 'userDefinedMetadata'));
  }
  // As TF.js: a training config compiles the model; optimizer state without one is ignored.
  if (artifacts.trainingConfig !== undefined && artifacts.trainingConfig !== null) {
    compileFromTrainingConfig(model, artifacts.trainingConfig, optimizerValues);
  }
  return model;
}

/** Checks a Sequential topology and plans its model (phase 1 of artifactsToModel: no allocation). */
function parseSequentialTopology(root: Record<string, unknown>): { expected: Map<string, number[]>; build(): LayersModel } {
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
  return {
    expected,
    build: () => new Sequential({ layers: plans.map((plan, i) => buildLayer(plan, i === 0 ? inputShape : undefined)), name: modelName }),
  };
}

/**
 * Compiles `model` as `trainingConfig` says and gives its optimizer the saved state (`iter` and
 * slots, each slot checked to belong to a trainable weight of the same shape). ModelFormatError
 * for anything Keel cannot honour.
 */
function compileFromTrainingConfig(
  model: LayersModel, trainingConfig: unknown, saved: { spec: WeightSpec; values: Float32Array | Int32Array }[],
): void {
  const config = object(trainingConfig, 'trainingConfig');
  for (const key of ['weighted_metrics', 'loss_weights', 'sample_weight_mode']) {
    if (config[key] !== undefined && config[key] !== null) {
      throw new ModelFormatError(`trainingConfig.${key}: not supported by Keel (nor by TF.js); save the model without it.`);
    }
  }
  const loss = Array.isArray(config.loss) && config.loss.length === 1 ? config.loss[0] : config.loss;
  if (typeof loss !== 'string') {
    throw new ModelFormatError(`trainingConfig.loss: expected the name of a loss such as 'sparseCategoricalCrossentropy', received ${describe(config.loss)}.`);
  }
  const metrics = config.metrics === undefined || config.metrics === null ? [] : config.metrics;
  if (!Array.isArray(metrics) || metrics.some((m) => typeof m !== 'string') || metrics.length > MAX_ENTRIES) {
    throw new ModelFormatError(`trainingConfig.metrics: expected an array of metric names such as ['accuracy'], received ${describe(config.metrics)}.`);
  }
  const optimizerConfig = object(config.optimizer_config, 'trainingConfig.optimizer_config');
  try {
    const optimizer = optimizerFromConfig(optimizerConfig.class_name, optimizerConfig.config);
    model.compile({ optimizer, loss: toCamelCase(loss), metrics: (metrics as string[]).map(toCamelCase) });
  } catch (e) {
    if (e instanceof KeelError && !(e instanceof ModelFormatError)) throw new ModelFormatError(`trainingConfig: ${e.message}`);
    throw e;
  }
  if (saved.length === 0) return; // compiled, never stepped
  const trainable = new Map(model.trainableWeights.map((w) => [w.name, w.shape]));
  const iter = saved.filter((s) => s.spec.name === 'iter');
  if (iter.length !== 1 || iter[0].spec.shape.length !== 0) {
    throw new ModelFormatError(`weightsManifest: the optimizer state needs exactly one scalar 'iter' (the step count), found ${iter.length}.`);
  }
  const slots = saved.filter((s) => s.spec.name !== 'iter').map(({ spec, values }) => {
    const cut = spec.name.lastIndexOf('/');
    const shape = cut > 0 ? trainable.get(spec.name.slice(0, cut)) : undefined;
    if (!shape) {
      throw new ModelFormatError(
        `weightsManifest: optimizer weight '${spec.name.slice(0, 80)}' belongs to no trainable weight of the model; expected '<weight>/<slot>' ` +
          `with a weight among ${[...trainable.keys()].slice(0, 20).join(', ')}.`,
      );
    }
    if (shape.length !== spec.shape.length || shape.some((d, i) => d !== spec.shape[i])) {
      throw new ModelFormatError(`weightsManifest: optimizer weight '${spec.name}' has shape ${JSON.stringify(spec.shape)}, but its weight has ${JSON.stringify(shape)}.`);
    }
    if (!(values instanceof Float32Array)) throw new ModelFormatError(`weightsManifest: optimizer weight '${spec.name}' must be float32.`);
    return { name: spec.name, shape: spec.shape, values };
  });
  try {
    model.optimizer!.importState(iter[0].values[0], slots, 'weightsManifest (optimizer state)');
  } catch (e) {
    if (e instanceof KeelError && !(e instanceof ModelFormatError)) throw new ModelFormatError(e.message);
    throw e;
  }
}

/** TF.js and Keras write loss and metric names in snake_case ('sparse_categorical_crossentropy'); Keel's are camelCase. */
function toCamelCase(name: string): string {
  return name.includes('_') ? name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase()) : name;
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

/** The parts one after the other, each value 4 bytes little-endian (float32 or int32). */
function toLittleEndian(parts: { values: ArrayLike<number>; dtype: 'float32' | 'int32' }[]): ArrayBuffer {
  const out = new ArrayBuffer(4 * parts.reduce((n, p) => n + p.values.length, 0));
  const view = new DataView(out);
  let offset = 0;
  for (const { values, dtype } of parts) {
    if (littleEndian) (dtype === 'int32' ? new Int32Array(out, offset, values.length) : new Float32Array(out, offset, values.length)).set(values);
    else if (dtype === 'int32') for (let i = 0; i < values.length; i++) view.setInt32(offset + 4 * i, values[i], true);
    else for (let i = 0; i < values.length; i++) view.setFloat32(offset + 4 * i, values[i], true);
    offset += 4 * values.length;
  }
  return out;
}

/** `size` values of `dtype` from byte `offset` of little-endian data, copied. */
function readLittleEndian(view: DataView, offset: number, size: number, dtype: 'float32' | 'int32'): Float32Array | Int32Array {
  if (littleEndian) {
    const bytes = view.buffer.slice(view.byteOffset + offset, view.byteOffset + offset + 4 * size);
    return dtype === 'int32' ? new Int32Array(bytes) : new Float32Array(bytes);
  }
  const out = dtype === 'int32' ? new Int32Array(size) : new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = dtype === 'int32' ? view.getInt32(offset + 4 * i, true) : view.getFloat32(offset + 4 * i, true);
  return out;
}
