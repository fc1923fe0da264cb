/**
 * The topology of a functional model in TF.js's Layers format (Keras 2's), both ways:
 *
 *   {class_name: 'Model' (TF.js) or 'Functional' (Keras 2), config: {
 *     name, layers: [{name, class_name, config, inbound_nodes: [[[inputName, 0, 0, {}], ...]]}, ...],
 *     input_layers: [[name, 0, 0], ...], output_layers: [[name, 0, 0]]}}
 *
 * An InputLayer has no inbound node; every other layer has exactly one (Keel has no shared layers),
 * whose entries name the layers it reads, each with node index 0 and tensor index 0.
 *
 * Reading a hostile file: everything is checked before a layer is built. A reference to a layer
 * the file does not define, a cycle, an input that is not an InputLayer, an InputLayer missing from
 * input_layers, an input or layer that leads to no output, or shapes that do not fit are each a
 * ModelFormatError that names the layer.
 */
import { ModelFormatError } from './errors.js';
import { KeelError } from '../core/errors.js';
import type { Layer, SymbolicTensor } from '../layers/layer.js';
import type { Graph } from '../models/graph.js';
import { LayersModel } from '../models/layersModel.js';
import { input } from '../models/inputLayer.js';
import { buildLayer, layerToJSON, parseLayer, planOutputShapeMany, planWeights, type LayerPlan } from '../layers/serialization.js';
import { describe, object, string } from '../layers/serializationChecks.js';

/** TF.js's JSON for a functional model's topology (the `modelTopology` root). */
export function functionalTopology(name: string, graph: Graph): Record<string, unknown> {
  const producer = new Map<number, Layer>();
  graph.inputLayers.forEach((l, i) => producer.set(graph.inputs[i], l));
  const inbound = new Map<Layer, number[]>();
  for (const node of graph.nodes) {
    producer.set(node.output, node.layer);
    inbound.set(node.layer, node.inputs);
  }
  const ref = (id: number) => [producer.get(id)!.name, 0, 0];
  const layers = graph.layers.map((layer) => {
    const ids = inbound.get(layer);
    if (!ids) return { name: layer.name, class_name: 'InputLayer', config: layer.getConfig(), inbound_nodes: [] };
    const json = layerToJSON(layer);
    return { name: layer.name, class_name: json.class_name, config: json.config, inbound_nodes: [ids.map((id) => [...ref(id), {}])] };
  });
  return {
    class_name: 'Model',
    config: { name, layers, input_layers: graph.inputs.map(ref), output_layers: graph.outputs.map(ref) },
  };
}

/** A layer entry of the file, checked: an input (its shape) or a plan, and the names it reads. */
interface Entry {
  name: string;
  where: string;
  input?: { shape: number[]; dtype: 'float32' | 'float64' };
  plan?: LayerPlan;
  reads: string[];
}

export interface FunctionalPlan {
  modelName: string | undefined;
  /** Every weight the topology needs: `layer/weight` → shape. */
  expected: Map<string, number[]>;
  /** Builds the model (call once the weights are checked against `expected`). */
  build(): LayersModel;
}

/** Checks a functional topology (`root` is `{class_name, config}`) and plans its model. */
export function parseFunctionalTopology(root: Record<string, unknown>, maxEntries: number): FunctionalPlan {
  const config = object(root.config, 'modelTopology.config');
  const list = config.layers;
  if (!Array.isArray(list) || list.length === 0 || list.length > maxEntries) {
    throw new ModelFormatError(`modelTopology.config.layers: expected a non-empty array of layers, received ${describe(list)}.`);
  }
  const entries = new Map<string, Entry>();
  list.forEach((raw, i) => {
    const where = `modelTopology layers[${i}]`;
    const e = object(raw, where);
    const parsed = parseLayer(e, where);
    const c = object(e.config, `${where}.config`);
    const name = string(e.name ?? c.name, `${where}.name`);
    if (c.name !== undefined && c.name !== name) {
      throw new ModelFormatError(`${where}: the entry is named ${describe(name)} but its config ${describe(c.name)}; they must agree.`);
    }
    if (entries.has(name)) throw new ModelFormatError(`modelTopology: two layers are named '${name.slice(0, 80)}'; layer names must be unique.`);
    const nodes = e.inbound_nodes ?? [];
    if (!Array.isArray(nodes)) throw new ModelFormatError(`${where}.inbound_nodes: expected an array, received ${describe(nodes)}.`);
    const entry: Entry = { name, where, reads: [] };
    if ('inputLayerShape' in parsed) {
      if (nodes.length !== 0) throw new ModelFormatError(`${where}: InputLayer '${name}' has inbound nodes; an input reads nothing.`);
      const dtype = c.dtype === 'float64' ? 'float64' : 'float32';
      entry.input = { shape: parsed.inputLayerShape, dtype };
    } else {
      if (nodes.length === 0) {
        throw new ModelFormatError(`${where}: layer '${name}' has no inbound node: nothing feeds it. Connect it in inbound_nodes or remove it.`);
      }
      if (nodes.length > 1) {
        throw new ModelFormatError(
          `${where}: layer '${name}' is applied ${nodes.length} times (shared weights); Keel applies each layer once. ` +
            `Save the model with one layer per use.`,
        );
      }
      const node = nodes[0];
      if (!Array.isArray(node) || node.length === 0 || node.length > maxEntries) {
        throw new ModelFormatError(`${where}.inbound_nodes[0]: expected a non-empty list of [layerName, 0, 0, {}], received ${describe(node)}.`);
      }
      entry.reads = node.map((r, k) => reference(r, `${where}.inbound_nodes[0][${k}]`));
      entry.plan = parsed;
    }
    entries.set(name, entry);
  });

  const refs = (key: 'input_layers' | 'output_layers') => {
    const v = config[key];
    if (!Array.isArray(v) || v.length === 0 || v.length > maxEntries) {
      throw new ModelFormatError(`modelTopology.config.${key}: expected a non-empty array of [layerName, 0, 0], received ${describe(v)}.`);
    }
    return v.map((r, k) => reference(r, `modelTopology.config.${key}[${k}]`));
  };
  const inputs = refs('input_layers');
  const outputs = refs('output_layers');
  if (outputs.length !== 1) {
    throw new ModelFormatError(`modelTopology.config.output_layers: Keel loads models of one output, the file has ${outputs.length}.`);
  }
  const known = (name: string, where: string): Entry => {
    const entry = entries.get(name);
    if (!entry) throw new ModelFormatError(`${where}: names layer '${name.slice(0, 80)}', which the file does not define (missing layer).`);
    return entry;
  };
  for (const name of inputs) {
    if (!known(name, 'modelTopology.config.input_layers').input) {
      throw new ModelFormatError(`modelTopology.config.input_layers: '${name}' is not an InputLayer; a model's inputs are InputLayers.`);
    }
  }
  for (const e of entries.values()) for (const r of e.reads) known(r, `${e.where}.inbound_nodes`);
  for (const e of entries.values()) {
    if (e.input && !inputs.includes(e.name)) {
      throw new ModelFormatError(`modelTopology: InputLayer '${e.name}' is not among input_layers (a dangling input); list it there or remove it.`);
    }
  }

  // Depth-first from the output: a layer met again while its inputs are still being visited closes a cycle.
  const order: Entry[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: { entry: Entry; next: number }[] = [{ entry: known(outputs[0], 'modelTopology.config.output_layers'), next: 0 }];
  state.set(outputs[0], 'visiting');
  while (stack.length) {
    const top = stack[stack.length - 1];
    if (top.next === top.entry.reads.length) {
      state.set(top.entry.name, 'done');
      order.push(top.entry);
      stack.pop();
      continue;
    }
    const name = top.entry.reads[top.next++];
    const s = state.get(name);
    if (s === 'done') continue;
    if (s === 'visiting') {
      const cycle = [...stack.slice(stack.findIndex((f) => f.entry.name === name)).map((f) => f.entry.name), name];
      throw new ModelFormatError(`modelTopology: the layers form a cycle (${cycle.join(' → ')}); a model's graph must have none.`);
    }
    state.set(name, 'visiting');
    stack.push({ entry: entries.get(name)!, next: 0 });
  }

  // Shapes and weights in graph order, still without building anything.
  const shapes = new Map<string, number[]>();
  const expected = new Map<string, number[]>();
  for (const e of order) {
    if (e.input) {
      shapes.set(e.name, e.input.shape);
      continue;
    }
    const inputShapes = e.reads.map((r) => shapes.get(r)!);
    let shape: number[];
    try {
      shape = planOutputShapeMany(e.plan!, inputShapes);
    } catch (err) {
      if (err instanceof KeelError) throw new ModelFormatError(`${e.where} ('${e.name}'): ${err.message}`);
      throw err;
    }
    const size = shape.reduce((a, b) => a * b, 1);
    if (!Number.isSafeInteger(size) || size > 2 ** 31) {
      throw new ModelFormatError(`layer '${e.name}': its output holds ${size} values per example, more than Keel can compute.`);
    }
    if (inputShapes.length === 1) for (const w of planWeights(e.plan!, inputShapes[0])) expected.set(`${e.name}/${w.name}`, w.shape);
    shapes.set(e.name, shape);
  }

  for (const e of entries.values()) {
    if (!state.has(e.name)) {
      throw new ModelFormatError(
        `modelTopology: ${e.input ? 'input' : 'layer'} '${e.name}' leads to no output (a dangling ${e.input ? 'input' : 'layer'}); remove it or connect it.`,
      );
    }
  }

  const modelName = typeof config.name === 'string' ? config.name.slice(0, 256) : undefined;
  return {
    modelName,
    expected,
    build: () => {
      const tensors = new Map<string, SymbolicTensor>();
      for (const e of order) {
        if (e.input) {
          tensors.set(e.name, input({ shape: e.input.shape, name: e.name, dtype: e.input.dtype }));
          continue;
        }
        const layer = buildLayer(e.plan!);
        const reads = e.reads.map((r) => tensors.get(r)!);
        try {
          tensors.set(e.name, layer.apply(reads.length === 1 ? reads[0] : reads));
        } catch (err) {
          if (err instanceof KeelError && !(err instanceof ModelFormatError)) throw new ModelFormatError(`layer '${e.name}': ${err.message}`);
          throw err;
        }
      }
      return new LayersModel({ inputs: inputs.map((n) => tensors.get(n)!), outputs: [tensors.get(outputs[0])!], name: modelName });
    },
  };
}

/** `[layerName, nodeIndex, tensorIndex, kwargs?]` (inbound nodes) or `[layerName, 0, 0]`: the name. */
function reference(r: unknown, where: string): string {
  if (!Array.isArray(r) || r.length < 3 || r.length > 4) {
    throw new ModelFormatError(`${where}: expected [layerName, 0, 0] (Keras 2 / TF.js format), received ${describe(r)}.`);
  }
  const name = string(r[0], `${where}[0]`);
  if (r[1] !== 0 || r[2] !== 0) {
    throw new ModelFormatError(
      `${where}: node ${describe(r[1])}, tensor ${describe(r[2])} of layer '${name.slice(0, 80)}'; Keel's layers have one node and one output (indices 0, 0).`,
    );
  }
  if (r.length === 4 && r[3] !== null && typeof r[3] === 'object' && Object.keys(r[3] as object).length > 0) {
    throw new ModelFormatError(`${where}: call arguments ${describe(r[3])} are not supported; Keel calls layers with their input only.`);
  }
  return name;
}
