/**
 * Keel's TF.js Layers artifacts (what `model.save` hands an IOHandler) to the bytes of a Keras 3
 * `.keras` archive, for Sequential and functional models. Going through the artifacts keeps this
 * package on Keel's public API: Keel writes every layer config, this module translates them.
 */
import * as keel from 'keel';
import { ModelFormatError } from 'keel';
import { writeArchive } from './archive.js';
import { dtypePolicy, inputLayerToKeras, layerToKeras, type JSONObject, type TfjsLayer } from './config.js';
import { propagateShapes, type GraphLayer } from './graph.js';
import { kerasWeights, weightGroupKeys } from './layerWeights.js';
import { writeWeightsFile, type LayerVars } from './weightsFile.js';

type ModelArtifacts = keel.io.ModelArtifacts;

/** The Keras version whose archive layout this package writes (and was tested against). */
export const KERAS_VERSION = '3.15.1';

const isObject = (v: unknown): v is JSONObject => typeof v === 'object' && v !== null && !Array.isArray(v);
const formatShape = (shape: readonly number[]) => `[${shape.join(', ')}]`;

/** The model's layers as a graph: a Sequential's chain, or a functional model's inbound nodes (TF.js form). */
function graphOf(root: JSONObject): { functional: boolean; graph: GraphLayer[]; inputs: string[]; outputs: string[] } {
  const config = root.config as JSONObject;
  const entries = config.layers as (TfjsLayer & { name?: string; inbound_nodes?: unknown[][][] })[];
  if (root.class_name === 'Sequential') {
    const layers = entries.filter((e) => e.class_name !== 'InputLayer');
    const declared = (entries.find((e) => e.class_name === 'InputLayer') ?? layers[0])?.config?.batch_input_shape;
    if (!Array.isArray(declared)) throw new ModelFormatError(`toKeras: the model declares no input shape; its first layer needs one (inputShape).`);
    const graph: GraphLayer[] = [{ name: 'input_layer', className: 'InputLayer', inbound: [], inputShape: declared.slice(1) as number[] }];
    for (const layer of layers) {
      graph.push({ name: String(layer.config.name), className: layer.class_name, layer, inbound: [graph[graph.length - 1].name] });
    }
    return { functional: false, graph, inputs: ['input_layer'], outputs: [graph[graph.length - 1].name] };
  }
  const graph = entries.map((e): GraphLayer => {
    const name = String(e.name ?? e.config.name);
    if (e.class_name === 'InputLayer') return { name, className: 'InputLayer', inbound: [], inputShape: (e.config.batch_input_shape as number[]).slice(1) };
    const node = e.inbound_nodes?.[0] ?? [];
    return { name, className: e.class_name, layer: e, inbound: node.map((t) => String(t[0])) };
  });
  const names = (v: unknown) => (v as unknown[][]).map((t) => String(t[0]));
  return { functional: true, graph, inputs: names(config.input_layers), outputs: names(config.output_layers) };
}

/** The Keras 3 reference to a layer's output inside a node: `__keras_tensor__` with its shape and history. */
const kerasTensor = (name: string, shape: readonly number[]) => ({
  class_name: '__keras_tensor__', config: { shape: [null, ...shape], dtype: 'float32', keras_history: [name, 0, 0] },
});

/** The bytes of a `.keras` archive holding the model of these artifacts (the optimizer state, if any, is not written). */
export async function artifactsToKeras(artifacts: ModelArtifacts): Promise<Uint8Array> {
  const topology = artifacts.modelTopology as JSONObject;
  const root = (isObject(topology.model_config) ? topology.model_config : topology) as JSONObject;
  if (!['Sequential', 'Model', 'Functional'].includes(root.class_name as string) || !isObject(root.config) || !Array.isArray(root.config.layers)) {
    throw new ModelFormatError(`toKeras: expected the artifacts of a Sequential or functional model, received class ${JSON.stringify(root.class_name)}.`);
  }
  const modelName = typeof root.config.name === 'string' ? root.config.name : 'model';
  const { functional, graph, inputs, outputs } = graphOf(root);
  const where = (l: GraphLayer) => `toKeras: layer '${l.name}' (${l.className})`;
  const shapes = propagateShapes(graph, where);

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

  // Keras addresses a Sequential's layers without its InputLayer, a functional model's with its InputLayers.
  const stored = functional ? graph : graph.slice(1);
  const keys = weightGroupKeys(stored.map((l) => l.className));
  const kerasLayers: JSONObject[] = functional ? [] : [inputLayerToKeras(graph[0].inputShape!)];
  const vars: LayerVars[] = stored.map((l, i) => {
    if (!l.layer) {
      kerasLayers.push({ ...inputLayerToKeras(l.inputShape!, l.name), name: l.name, inbound_nodes: [] });
      return { key: keys[i], layerName: l.name, values: [] };
    }
    const inputShapes = shapes.inputs.get(l.name)!;
    const wanted = kerasWeights(l.className, l.layer.config, inputShapes[0], where(l));
    const layerValues = wanted.map((w) => {
      const data = values.get(`${l.name}/${w.name}`);
      if (!data || data.length !== w.shape.reduce((a, b) => a * b, 1)) {
        throw new ModelFormatError(`${where(l)}: expected a weight '${l.name}/${w.name}' ${formatShape(w.shape)} in the model, found ${data ? `${data.length} values` : 'none'}.`);
      }
      values.delete(`${l.name}/${w.name}`);
      return { shape: w.shape, data };
    });
    const entry = layerToKeras(l.layer, inputShapes[0], wanted.length > 0);
    if (functional) {
      const tensors = l.inbound.map((n, t) => kerasTensor(n, inputShapes[t]));
      entry.name = l.name;
      entry.inbound_nodes = [{ args: tensors.length === 1 ? tensors : [tensors], kwargs: {} }];
    }
    kerasLayers.push(entry);
    return { key: keys[i], layerName: l.name, values: layerValues };
  });
  if (values.size > 0) {
    throw new ModelFormatError(`toKeras: weights ${[...values.keys()].slice(0, 10).join(', ')} belong to no layer Keras 3 has; expected none left over.`);
  }
  // Keras 3 writes a single input or output as one [name, node, tensor] triple, several as a list of them.
  const references = (names: string[]) => (names.length === 1 ? [names[0], 0, 0] : names.map((n) => [n, 0, 0]));
  const config = functional
    ? {
        module: 'keras.src.models.functional', class_name: 'Functional',
        config: { name: modelName, trainable: true, layers: kerasLayers, input_layers: references(inputs), output_layers: references(outputs) },
        registered_name: 'Functional', build_config: { input_shape: null },
      }
    : {
        module: 'keras', class_name: 'Sequential',
        config: { name: modelName, trainable: true, dtype: dtypePolicy(), layers: kerasLayers },
        registered_name: null, build_config: { input_shape: [null, ...graph[0].inputShape!] },
      };
  const metadata = { keras_version: KERAS_VERSION, date_saved: kerasDate(new Date()), generated_by: artifacts.generatedBy ?? 'Keel' };
  return writeArchive(config, metadata, await writeWeightsFile(modelName, vars));
}

/** Keras's `date_saved`: `2026-12-02@00:42:39` (local time, as Python's datetime.now()). */
function kerasDate(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}@${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}
