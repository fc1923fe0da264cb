/**
 * The bytes of a Keras 3 `.keras` archive to Keel's TF.js Layers artifacts, for Sequential and
 * functional models, every config and weight checked against the others first, so that
 * `keel.io.artifactsToModel` (which checks them again) builds the model from consistent parts.
 * Nothing the size of a weight is allocated before the weights file is known to match the config.
 */
import * as keel from 'keel';
import { ModelFormatError } from 'keel';
import { CONFIG_FILE, METADATA_FILE, parseJSONEntry, readArchive, type ArchiveLimits } from './archive.js';
import { layerFromKeras, type JSONObject, type TfjsLayer } from './config.js';
import { propagateShapes, type GraphLayer } from './graph.js';
import { kerasWeights, weightGroupKeys, type KerasWeight } from './layerWeights.js';
import { readWeightsFile, type StoredVar } from './weightsFile.js';

type ModelArtifacts = keel.io.ModelArtifacts;
type WeightSpec = keel.io.WeightSpec;

const MAX_LAYERS = 10_000;
const FIX = 'Save the model again with Keras (model.save("model.keras")) and load that file.';

const isObject = (v: unknown): v is JSONObject => typeof v === 'object' && v !== null && !Array.isArray(v);
const formatShape = (shape: readonly number[]) => `[${shape.join(', ')}]`;
const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);
const show = (v: unknown) => (JSON.stringify(v) ?? String(v)).slice(0, 120);

/** The layer names a Keras 3 node reads: `{args: [tensor] | [[tensors]], kwargs}`, each tensor `keras_history: [name, 0, 0]`. */
function inboundOf(nodes: unknown, where: string): string[] {
  if (!Array.isArray(nodes) || nodes.length > 1) {
    throw new ModelFormatError(
      `${where}.inbound_nodes: expected one call of the layer, received ${Array.isArray(nodes) ? nodes.length : show(nodes)}; ` +
        `Keel has no shared layers. Give each call its own layer in Keras, save, and load that file.`,
    );
  }
  if (nodes.length === 0) return [];
  const node = nodes[0];
  if (!isObject(node) || !Array.isArray(node.args) || node.args.length !== 1) {
    throw new ModelFormatError(`${where}.inbound_nodes[0]: expected Keras 3's {args: [tensor or list of tensors], kwargs}, received ${show(node)}. ${FIX}`);
  }
  if (node.kwargs !== undefined && (!isObject(node.kwargs) || Object.values(node.kwargs).some((v) => v !== null))) {
    throw new ModelFormatError(`${where}.inbound_nodes[0].kwargs: Keel calls layers without arguments (mask, training...); expected none set, received ${show(node.kwargs)}.`);
  }
  const tensors = Array.isArray(node.args[0]) ? node.args[0] : [node.args[0]];
  if (tensors.length === 0 || tensors.length > MAX_LAYERS) throw new ModelFormatError(`${where}.inbound_nodes[0].args: expected 1 or more tensors, received ${tensors.length}.`);
  return tensors.map((t, i) => {
    const history = isObject(t) && isObject(t.config) ? t.config.keras_history : undefined;
    if (!Array.isArray(history) || typeof history[0] !== 'string' || history[1] !== 0 || history[2] !== 0) {
      throw new ModelFormatError(
        `${where}.inbound_nodes[0].args tensor ${i}: expected a __keras_tensor__ with keras_history [layer, 0, 0], received ${show(t)}; ` +
          `Keel reads the first output of layers called once.`,
      );
    }
    return history[0];
  });
}

/** `input_layers` / `output_layers`: one [name, 0, 0] triple or a list of them. */
function references(value: unknown, where: string): string[] {
  const list = Array.isArray(value) && typeof value[0] === 'string' ? [value] : value;
  if (!Array.isArray(list) || list.length === 0 || list.length > MAX_LAYERS || !list.every((r) => Array.isArray(r) && typeof r[0] === 'string')) {
    throw new ModelFormatError(`config.json config.${where}: expected [layer, 0, 0] triples, received ${show(value)}. ${FIX}`);
  }
  return list.map((r) => r[0] as string);
}

interface Parsed {
  functional: boolean;
  modelName: string;
  graph: GraphLayer[];
  inputs: string[];
  outputs: string[];
}

function parseConfig(config: unknown): Parsed {
  if (!isObject(config)) throw new ModelFormatError(`config.json: expected a model config object, received ${typeof config}. ${FIX}`);
  const functional = config.class_name === 'Functional' || config.class_name === 'Model';
  if (config.class_name !== 'Sequential' && !functional) {
    throw new ModelFormatError(
      `config.json: Keel loads Sequential and functional Keras models; received class_name ${show(config.class_name)}. ` +
        `A subclassed model has no config Keel can read: rebuild it with keras.Sequential or keras.Model(inputs, outputs), save it, and load that file.`,
    );
  }
  const modelConfig = config.config;
  if (!isObject(modelConfig) || !Array.isArray(modelConfig.layers) || modelConfig.layers.length === 0 || modelConfig.layers.length > MAX_LAYERS) {
    throw new ModelFormatError(`config.json config.layers: expected a non-empty array of layers. ${FIX}`);
  }
  const modelName = typeof modelConfig.name === 'string' ? modelConfig.name.slice(0, 256) : 'model';
  const graph: GraphLayer[] = [];
  modelConfig.layers.forEach((entry, i) => {
    const where = `config.json layers[${i}]`;
    const parsed = layerFromKeras(entry, where);
    const name = functional ? (entry as JSONObject).name : 'inputShape' in parsed ? 'input_layer' : parsed.config.name;
    if (typeof name !== 'string' || name.length === 0 || name.length > 256) throw new ModelFormatError(`${where}.name: expected a layer name, received ${show(name)}.`);
    if ('inputShape' in parsed) {
      if (!functional && graph.length > 0) throw new ModelFormatError(`${where}: an InputLayer may only come first in a Sequential.`);
      graph.push({ name, className: 'InputLayer', inbound: [], inputShape: parsed.inputShape });
      return;
    }
    if (functional && parsed.config.name !== name) {
      throw new ModelFormatError(`${where}: the entry is named '${name.slice(0, 80)}' but its config '${String(parsed.config.name).slice(0, 80)}'; expected the same name. ${FIX}`);
    }
    const inbound = functional ? inboundOf((entry as JSONObject).inbound_nodes, where) : graph.length ? [graph[graph.length - 1].name] : [];
    graph.push({ name, className: parsed.class_name, layer: parsed, inbound });
  });
  if (!functional && graph[0]?.className !== 'InputLayer') {
    // A Sequential saved unbuilt has no InputLayer; its build_input_shape may still give the shape.
    const built = modelConfig.build_input_shape ?? (isObject(config.build_config) ? config.build_config.input_shape : undefined);
    if (!Array.isArray(built) || built.length < 2 || built.slice(1).some((d) => !Number.isInteger(d) || (d as number) <= 0)) {
      throw new ModelFormatError(`config.json: the model declares no input shape (no InputLayer, no build_input_shape); build it in Keras with keras.Input(shape) first. ${FIX}`);
    }
    graph.unshift({ name: 'input_layer', className: 'InputLayer', inbound: [], inputShape: built.slice(1) as number[] });
    if (graph[1]) graph[1].inbound = ['input_layer'];
  }
  if (graph.every((l) => !l.layer)) throw new ModelFormatError(`config.json: the model has no layers besides its input. ${FIX}`);
  const names = new Set<string>();
  for (const l of graph) {
    if (names.has(l.name)) throw new ModelFormatError(`config.json: two layers are named '${l.name.slice(0, 80)}'; expected unique names. ${FIX}`);
    names.add(l.name);
  }
  const inputs = functional ? references(modelConfig.input_layers, 'input_layers') : [graph[0].name];
  const outputs = functional ? references(modelConfig.output_layers, 'output_layers') : [graph[graph.length - 1].name];
  return { functional, modelName, graph, inputs, outputs };
}

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
  const { functional, modelName, graph, inputs, outputs } = parseConfig(config);

  // Phase 1: shapes and the weights each layer needs, from the configs alone.
  const where = (l: GraphLayer) => `config.json layer '${l.name.slice(0, 80)}' (${l.className})`;
  const shapes = propagateShapes(graph, where);
  const stored = functional ? graph : graph.slice(1);
  const keys = weightGroupKeys(stored.map((l) => l.className));
  const needs: { layer: GraphLayer; key: string; weights: KerasWeight[] }[] = stored.map((layer, i) => ({
    layer, key: keys[i],
    weights: layer.layer ? kerasWeights(layer.className, layer.layer.config, shapes.inputs.get(layer.name)![0], where(layer)) : [],
  }));
  const totalBytes = needs.reduce((n, { weights }) => n + weights.reduce((m, w) => m + 4 * w.shape.reduce((a, b) => a * b, 1), 0), 0);
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
  await readWeightsFile(archive.weights, (found) => {
    const matched: StoredVar[][] = needs.map(({ layer, key, weights }) => {
      const vars = found.get(key) ?? [];
      found.delete(key);
      const at = `model.weights.h5 /layers/${key}/vars (layer '${layer.name.slice(0, 80)}', ${layer.className})`;
      if (vars.length !== weights.length) {
        throw new ModelFormatError(
          `${at}: expected ${weights.length} weights (${weights.map((w) => `${w.name} ${formatShape(w.shape)}`).join(', ') || 'none'}), ` +
            `received ${vars.length} (${vars.map((v) => formatShape(v.shape)).join(', ') || 'none'}); ${vars.length < weights.length ? 'missing' : 'extra'} weights. ${FIX}`,
        );
      }
      weights.forEach((w, i) => {
        if (!sameShape(vars[i].shape, w.shape)) {
          throw new ModelFormatError(
            `${at}/${i}: expected ${w.name} of shape ${formatShape(w.shape)} (from config.json), received shape ${formatShape(vars[i].shape)}; ` +
              `the weights do not belong to this config. ${FIX}`,
          );
        }
      });
      return vars;
    });
    // Keras writes an empty group for a layer without weights; one that matches no layer is not this model's.
    if (found.size > 0) {
      const [key, vars] = [...found.entries()].sort((a, b) => b[1].length - a[1].length)[0];
      throw new ModelFormatError(
        `model.weights.h5: '/layers/${key.slice(0, 80)}' (${vars.length} weights) belongs to no layer of config.json, whose layers are stored as ` +
          `${keys.slice(0, 20).join(', ')}; extra weights. ${FIX}`,
      );
    }
    // Every shape matches: now read the values (bounded by the file's size above).
    needs.forEach(({ layer, weights }, l) => {
      weights.forEach((w, i) => {
        specs.push({ name: `${layer.name}/${w.name}`, shape: w.shape, dtype: 'float32' });
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
  const inputEntry = (l: GraphLayer): JSONObject => ({
    class_name: 'InputLayer', name: l.name, config: { batch_input_shape: [null, ...l.inputShape!], dtype: 'float32', sparse: false, name: l.name }, inbound_nodes: [],
  });
  const modelTopology = functional
    ? {
        class_name: 'Model',
        config: {
          name: modelName,
          layers: graph.map((l) => (l.layer
            ? { name: l.name, class_name: l.className, config: l.layer.config, inbound_nodes: [l.inbound.map((n) => [n, 0, 0, {}])] }
            : inputEntry(l))),
          input_layers: inputs.map((n) => [n, 0, 0]),
          output_layers: outputs.map((n) => [n, 0, 0]),
        },
      }
    : { class_name: 'Sequential', config: { name: modelName, layers: [inputEntry(graph[0]), ...graph.slice(1).map((l) => l.layer as TfjsLayer)] } };
  return {
    modelTopology, format: 'layers-model', generatedBy: 'Keras (read by keel-keras)', convertedBy: null,
    weightSpecs: specs, weightData,
  };
}
