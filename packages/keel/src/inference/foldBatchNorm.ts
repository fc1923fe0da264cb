/**
 * `foldBatchNorm(model)`: a new inference model in which BatchNormalization layers are folded into
 * an adjacent Dense, Conv2D or DepthwiseConv2D (formulas in `foldWeights.ts` and
 * `foldConvWeights.ts`), so that inference skips BN's work entirely. The original model is not
 * touched.
 *
 * Which neighbour:
 * - backward, into the layer just before, when it is a Dense, Conv2D or DepthwiseConv2D with a
 *   linear activation (seed-before: Dense(useBias: false) → BN → Activation; cnn: Conv2D → BN → relu);
 * - otherwise forward, into the layer just after: a Dense (seed: Flatten → BN → Dense, and
 *   Dense(relu) → BN → Dense), or a convolution that sees no padding.
 * Dropout and linear Activation layers in between are skipped (both are the identity in inference),
 * and so is a Flatten on the way forward to a Dense: BN's per-feature parameters are then tiled over
 * the flattened positions (feature = flat index mod features, as Flatten keeps the last axis fastest).
 * Anything else in between blocks the fold: a nonlinearity (BN after relu cannot fold backward
 * through the relu), pooling, or a Flatten of rank > 2 inputs on the way back (Dense shares its
 * scale over positions; BN after Flatten does not). BN before a padded convolution does not fold
 * either: the padding's zeros are added after BN and would not get BN's shift. BNs that cannot
 * fold stay, and the result says which and why.
 *
 * Batch Renormalization (`renorm`) and Ghost BN (`virtualBatchSize`) layers fold exactly like BN:
 * both change training only, and their inference is plain BN with movingMean and movingVariance
 * (renorm's extra buffers, moving_stddev, renorm_mean and renorm_stddev, play no part in it).
 *
 * In a graph (functional models, residual blocks), a fold must leave every other reader of a
 * tensor seeing what it saw: BN folds back into the layer before it only when the tensors between
 * them are read by nothing else (conv → BN whose conv output is also a shortcut does not), and
 * forward into the next layer only when BN's output is read by that layer alone. A BN whose input
 * fans out still folds forward where that is exact; otherwise `notFolded` names the other reader.
 * The result is a Sequential for a Sequential, a functional model (same inputs, same names) for one.
 *
 * Gotcha: a folded model has no BN to train; it is for inference. Fold after
 * `recomputeBatchNormStatistics` if you use it.
 */
import { ValueError, describeValue } from '../core/errors.js';
import { Sequential } from '../models/sequential.js';
import { LayersModel } from '../models/layersModel.js';
import { input } from '../models/inputLayer.js';
import type { Layer, SymbolicTensor } from '../layers/layer.js';
import { Dense } from '../layers/dense.js';
import { BatchNormalization } from '../layers/batchNormalization.js';
import { Activation, Dropout, Flatten } from '../layers/simple.js';
import { buildLayer, layerToJSON, parseLayer, type LayerPlan } from '../layers/serialization.js';
import { Conv2D } from '../layers/conv2d.js';
import { DepthwiseConv2D } from '../layers/depthwiseConv2d.js';
import { LayerNormalization } from '../layers/layerNormalization.js';
import { GroupNormalization } from '../layers/groupNormalization.js';
import { foldBatchNormAfterDense, foldBatchNormBeforeDense, type BatchNormParameters } from './foldWeights.js';
import { foldBatchNormBeforeDepthwise } from './foldConvWeights.js';

export interface FoldResult {
  /** The folded model (new layers, new weights; same names for the layers kept). */
  model: LayersModel;
  /** Each BN folded away: its name, the layer (Dense, Conv2D, DepthwiseConv2D) it went into, and the direction. */
  folded: { layer: string; into: string; direction: 'intoPrevious' | 'intoNext' }[];
  /** Each BN kept, and each Layer or Group Normalization (which never fold), with the reason in words. Empty for the seed, seed-before and cnn models. */
  notFolded: { layer: string; reason: string }[];
}

/** A layer of the model being built: its config and weights as plain arrays, and what it reads. */
interface Item {
  plan: LayerPlan;
  weights: Map<string, Float32Array | Float64Array>;
  source: Layer;
  /** Names of the layers (or inputs) it reads. */
  reads: string[];
}

/** The graph being folded: layers in graph order, the model's inputs and its output (by name). */
interface Work {
  items: Item[];
  output: string;
}

/**
 * Folds every BN it can into an adjacent Dense or convolution; returns the new model and a report.
 *
 * @example const { model: fast, notFolded } = keel.foldBatchNorm(model);
 */
export function foldBatchNorm(model: LayersModel): FoldResult {
  if (!(model instanceof LayersModel)) {
    throw new ValueError(`foldBatchNorm: expected a Sequential model or a functional one (keel.model), received ${describeValue(model)}.`);
  }
  const graph = model.getGraph();
  const nameOf = new Map<number, string>();
  graph.inputLayers.forEach((l, i) => nameOf.set(graph.inputs[i], l.name));
  if (graph.inputLayers.length === 0) nameOf.set(graph.inputs[0], '');
  for (const node of graph.nodes) nameOf.set(node.output, node.layer.name);
  const work: Work = {
    items: graph.nodes.map(({ layer, inputs }) => ({
      plan: parseLayer(layerToJSON(layer), `layer '${layer.name}'`) as LayerPlan,
      weights: new Map(layer.weights.map((v) => [v.shortName, v.value.values.slice()])),
      source: layer,
      reads: inputs.map((id) => nameOf.get(id)!),
    })),
    output: nameOf.get(graph.outputs[0])!,
  };
  const items = work.items;
  const folded: FoldResult['folded'] = [];
  const reasons = new Map<string, string>();
  let changed = true;
  while (changed) {
    changed = false;
    for (let i = 0; i < items.length; i++) {
      if (!(items[i].source instanceof BatchNormalization)) continue;
      const bn = items[i];
      const prev = previous(work, bn);
      const next = prev.target ? { reason: '' } : following(work, bn);
      const params = bnParameters(bn);
      if (prev.target) {
        foldInto(prev.target, params, 'after');
        folded.push({ layer: bn.plan.name, into: prev.target.plan.name, direction: 'intoPrevious' });
      } else if (next.target) {
        foldInto(next.target, params, 'before');
        folded.push({ layer: bn.plan.name, into: next.target.plan.name, direction: 'intoNext' });
      } else {
        reasons.set(bn.plan.name, `${prev.reason}; ${next.reason}`);
        continue;
      }
      // Readers of the BN now read what it read.
      for (const item of items) item.reads = item.reads.map((r) => (r === bn.plan.name ? bn.reads[0] : r));
      if (work.output === bn.plan.name) work.output = bn.reads[0];
      items.splice(i, 1);
      reasons.delete(bn.plan.name);
      changed = true;
      i--;
    }
  }
  const result = graph.inputLayers.length === 0 ? rebuildSequential(model, items) : rebuildGraph(model, work);
  // Layer and Group Normalization compute their statistics from each example at inference too:
  // there is no fixed per-feature affine map to fold into a neighbour.
  for (const item of items) {
    const source = item.source;
    if (source instanceof LayerNormalization || source instanceof GroupNormalization) {
      reasons.set(item.plan.name,
        `a ${source.getClassName()} normalizes each example by that example's own mean and variance, at inference as in training, ` +
          'so it is not a fixed scale and shift that a Dense or convolution could absorb; it stays as it is');
    }
  }
  const notFolded = [...reasons].map(([layer, reason]) => ({ layer, reason }));
  return { model: result, folded, notFolded };
}

function setWeights(layer: Layer, item: Item): void {
  layer.weights.forEach((v) => v.value.values.set(item.weights.get(v.shortName)!));
}

function rebuildSequential(model: LayersModel, items: Item[]): Sequential {
  const layers = items.map((item, i) => buildLayer(item.plan, i === 0 ? model.inputShape : undefined));
  const result = new Sequential({ layers, name: `${model.name}_folded` });
  layers.forEach((layer, i) => setWeights(layer, items[i]));
  return result;
}

function rebuildGraph(model: LayersModel, work: Work): LayersModel {
  const graph = model.getGraph();
  const tensors = new Map<string, SymbolicTensor>();
  const inputs = graph.inputLayers.map((l) => {
    const t = input({ shape: l.inputShape, name: l.name, dtype: l.dtype });
    tensors.set(l.name, t);
    return t;
  });
  for (const item of work.items) {
    const layer = buildLayer(item.plan);
    const reads = item.reads.map((r) => tensors.get(r)!);
    tensors.set(item.plan.name, layer.apply(reads.length === 1 ? reads[0] : reads));
    setWeights(layer, item);
  }
  return new LayersModel({ inputs, outputs: tensors.get(work.output)!, name: `${model.name}_folded` });
}

/** The layer kinds a BN folds into. */
const FOLD_TARGETS = 'Dense, Conv2D or DepthwiseConv2D';

/** How many layers read `name`, counting the model's output as a reader. */
function readers(work: Work, name: string): Item[] {
  return work.items.filter((item) => item.reads.includes(name));
}

function uses(work: Work, name: string): number {
  return work.items.reduce((n, item) => n + item.reads.filter((r) => r === name).length, 0) + (work.output === name ? 1 : 0);
}

const itemNamed = (work: Work, name: string) => work.items.find((item) => item.plan.name === name);

/**
 * The layer before `bn` that BN can fold into: a linear Dense or convolution, reached back through
 * layers that are the identity in inference, every tensor on the way read by this path alone.
 */
function previous(work: Work, bn: Item): { target?: Item; reason: string } {
  let name = bn.reads[0];
  for (;;) {
    const item = itemNamed(work, name);
    if (!item) return { reason: `no ${FOLD_TARGETS} comes before it` };
    if (uses(work, name) > 1) {
      const others = readers(work, name).filter((r) => r !== bn).map((r) => `'${r.plan.name}'`);
      return {
        reason: `the output of '${name}' before it is also read by ${others.length ? others.join(', ') : 'the model output'}, ` +
          `and folding into '${name}' would change what ${others.length > 1 ? 'those read' : 'that reads'}`,
      };
    }
    const layer = item.source;
    if (layer instanceof Dropout || (layer instanceof Activation && layer.activation === 'linear') ||
      (layer instanceof Flatten && layer.inputShape.length === 1)) {
      name = item.reads[0];
      continue;
    }
    if (layer instanceof Dense || layer instanceof Conv2D || layer instanceof DepthwiseConv2D) {
      if (layer.activation !== 'linear') {
        return { reason: `the previous ${layer.getClassName()} '${name}' applies '${layer.activation}', and BN cannot fold back through a nonlinearity` };
      }
      return { target: item, reason: '' };
    }
    return { reason: describeBlocker('previous', item) };
  }
}

/**
 * The layer after `bn` that BN can fold into: a Dense, or a convolution that sees no padding,
 * reached through identity layers (and a Flatten on the way to a Dense), BN's output read by it alone.
 */
function following(work: Work, bn: Item): { target?: Item; reason: string } {
  let name = bn.plan.name;
  let crossedFlatten = false;
  for (;;) {
    const n = uses(work, name);
    if (n === 0 || (n === 1 && work.output === name)) return { reason: `no ${FOLD_TARGETS} comes after it` };
    if (n > 1) {
      return { reason: `${name === bn.plan.name ? 'its output' : `the output of '${name}'`} is read by ${n} layers, and one fold cannot serve them all` };
    }
    const item = readers(work, name)[0];
    const layer = item.source;
    if (layer instanceof Dropout || (layer instanceof Activation && layer.activation === 'linear')) {
      name = item.plan.name;
      continue;
    }
    if (layer instanceof Flatten) {
      crossedFlatten ||= layer.inputShape.length > 1;
      name = item.plan.name;
      continue;
    }
    if (layer instanceof Dense || layer instanceof Conv2D || layer instanceof DepthwiseConv2D) {
      const kind = layer.getClassName();
      if (!(layer instanceof Dense)) {
        if (crossedFlatten) return { reason: `a Flatten stands between it and the next ${kind} '${item.plan.name}'` };
        const g = layer.geometry(1);
        const padded = g.padTop > 0 || g.padLeft > 0 ||
          (g.outHeight - 1) * g.strideHeight + (g.filterHeight - 1) * g.dilationHeight + 1 > g.inHeight ||
          (g.outWidth - 1) * g.strideWidth + (g.filterWidth - 1) * g.dilationWidth + 1 > g.inWidth;
        if (padded) {
          return { reason: `the next ${kind} '${item.plan.name}' pads its input ('same'), and BN before a padded convolution is not exact: the padding's zeros would not be shifted` };
        }
      }
      return { target: item, reason: '' };
    }
    return { reason: describeBlocker('next', item) };
  }
}

function describeBlocker(side: string, item: Item): string {
  const layer = item.source;
  return `the ${side} layer '${item.plan.name}' is a ${layer.getClassName()}${
    layer instanceof Activation ? ` ('${layer.activation}', nonlinear)` : ''}, not a ${FOLD_TARGETS}`;
}

/**
 * Folds BN's parameters into `target`'s kernel and bias, for a BN `where` relative to it. A
 * convolution's kernel is read as a Dense kernel (see foldConvWeights.ts).
 */
function foldInto(target: Item, bn: BatchNormParameters, where: 'before' | 'after'): void {
  const layer = target.source;
  const kernelName = layer instanceof DepthwiseConv2D ? 'depthwise_kernel' : 'kernel';
  const kernel = target.weights.get(kernelName)!;
  const bias = target.weights.get('bias') ?? null;
  let w: { kernel: Float32Array; bias: Float32Array };
  if (layer instanceof DepthwiseConv2D) {
    const [kh, kw] = layer.kernelSize;
    const outputs = kernel.length / (kh * kw);
    w = where === 'after'
      ? foldBatchNormAfterDense({ kernel, bias, inputs: kh * kw, units: outputs }, bn)
      : foldBatchNormBeforeDepthwise(kernel, bias, kh * kw, outputs / layer.depthMultiplier, layer.depthMultiplier, bn);
  } else {
    const units = layer instanceof Dense ? layer.units : (layer as Conv2D).filters;
    const dense = { kernel, bias, inputs: kernel.length / units, units };
    w = where === 'after' ? foldBatchNormAfterDense(dense, bn) : foldBatchNormBeforeDense(dense, tile(bn, dense.inputs));
  }
  target.weights.set(kernelName, w.kernel);
  target.weights.set('bias', w.bias);
  // A layer without bias gets one: BN's shift lands there.
  target.plan = { ...target.plan, args: { ...target.plan.args, useBias: true } };
}

function bnParameters(item: Item): BatchNormParameters {
  const w = item.weights;
  const features = w.get('moving_mean')!.length;
  const args = item.plan.args;
  return {
    gamma: w.get('gamma') ?? new Float64Array(features).fill(1),
    beta: w.get('beta') ?? new Float64Array(features),
    movingMean: w.get('moving_mean')!,
    movingVariance: w.get('moving_variance')!,
    epsilon: (args.epsilon as number | undefined) ?? 1e-3,
  };
}

/** BN parameters repeated to `length` values (a Flatten between BN and Dense): index k ↦ feature k mod f. */
function tile(bn: BatchNormParameters, length: number): BatchNormParameters {
  const features = bn.movingMean.length;
  if (length === features) return bn;
  const repeat = (v: ArrayLike<number>) => Float64Array.from({ length }, (_, k) => v[k % features]);
  return {
    gamma: repeat(bn.gamma), beta: repeat(bn.beta), movingMean: repeat(bn.movingMean),
    movingVariance: repeat(bn.movingVariance), epsilon: bn.epsilon,
  };
}
