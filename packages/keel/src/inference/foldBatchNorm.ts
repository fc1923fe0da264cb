/**
 * `foldBatchNorm(model)`: a new inference model in which BatchNormalization layers are folded into
 * an adjacent Dense (formulas in `foldWeights.ts`), so that inference skips BN's work entirely.
 * The original model is not touched.
 *
 * Which neighbour:
 * - backward, into the Dense just before, when that Dense has a linear activation (seed-before:
 *   Dense(useBias: false) → BN → Activation);
 * - otherwise forward, into the Dense just after (seed: Flatten → BN → Dense, and
 *   Dense(relu) → BN → Dense).
 * Dropout and linear Activation layers in between are skipped (both are the identity in inference),
 * and so is a Flatten on the way forward: BN's per-feature parameters are then tiled over the
 * flattened positions (feature = flat index mod features, as Flatten keeps the last axis fastest).
 * Anything else in between blocks the fold: a nonlinearity (BN after relu cannot fold backward
 * through the relu), or a Flatten of rank > 2 inputs on the way back (Dense shares its scale over
 * positions; BN after Flatten does not). BNs that cannot fold stay, and the result says which and why.
 *
 * Gotcha: a folded model has no BN to train; it is for inference. Fold after
 * `recomputeBatchNormStatistics` if you use it.
 */
import { ValueError } from '../core/errors.js';
import { Sequential } from '../models/sequential.js';
import type { Layer } from '../layers/layer.js';
import { Dense } from '../layers/dense.js';
import { BatchNormalization } from '../layers/batchNormalization.js';
import { Activation, Dropout, Flatten } from '../layers/simple.js';
import { buildLayer, layerToJSON, parseLayer, type LayerPlan } from '../layers/serialization.js';
import { foldBatchNormAfterDense, foldBatchNormBeforeDense, type BatchNormParameters } from './foldWeights.js';

export interface FoldResult {
  /** The folded model (new layers, new weights; same names for the layers kept). */
  model: Sequential;
  /** Each BN folded away: its name, the Dense it went into, and the direction. */
  folded: { layer: string; into: string; direction: 'intoPrevious' | 'intoNext' }[];
  /** Each BN kept, with the reason in words. Empty for the chapter's seed and seed-before models. */
  notFolded: { layer: string; reason: string }[];
}

/** A layer of the model being built: its config and weights as plain arrays. */
interface Item {
  plan: LayerPlan;
  weights: Map<string, Float32Array | Float64Array>;
  source: Layer;
}

/**
 * Folds every BN it can into an adjacent Dense; returns the new model and a report.
 *
 * @example const { model: fast, notFolded } = keel.foldBatchNorm(model);
 */
export function foldBatchNorm(model: Sequential): FoldResult {
  if (!(model instanceof Sequential)) {
    throw new ValueError(`foldBatchNorm: expected a Sequential model, received ${String(model)}.`);
  }
  const items: Item[] = model.layers.map((layer) => ({
    plan: parseLayer(layerToJSON(layer), `layer '${layer.name}'`) as LayerPlan,
    weights: new Map(layer.weights.map((v) => [v.shortName, v.value.values.slice()])),
    source: layer,
  }));
  const folded: FoldResult['folded'] = [];
  const reasons = new Map<string, string>();
  let changed = true;
  while (changed) {
    changed = false;
    for (let i = 0; i < items.length; i++) {
      if (!(items[i].source instanceof BatchNormalization)) continue;
      const bn = items[i];
      const prev = neighbour(items, i, -1);
      const next = neighbour(items, i, +1);
      const params = bnParameters(bn);
      if (prev.dense) {
        const dense = prev.dense;
        const w = foldBatchNormAfterDense(denseWeights(dense), params);
        setDense(dense, w.kernel, w.bias);
        folded.push({ layer: bn.plan.name, into: dense.plan.name, direction: 'intoPrevious' });
      } else if (next.dense) {
        const dense = denseWeights(next.dense);
        const w = foldBatchNormBeforeDense(dense, tile(params, dense.inputs));
        setDense(next.dense, w.kernel, w.bias);
        folded.push({ layer: bn.plan.name, into: next.dense.plan.name, direction: 'intoNext' });
      } else {
        reasons.set(bn.plan.name, `${prev.reason}; ${next.reason}`);
        continue;
      }
      items.splice(i, 1);
      reasons.delete(bn.plan.name);
      changed = true;
      i--;
    }
  }
  const layers = items.map((item, i) => buildLayer(item.plan, i === 0 ? model.inputShape : undefined));
  const result = new Sequential({ layers, name: `${model.name}_folded` });
  layers.forEach((layer, i) => {
    const weights = items[i].weights;
    layer.weights.forEach((v) => v.value.values.set(weights.get(v.shortName)!));
  });
  const notFolded = [...reasons].map(([layer, reason]) => ({ layer, reason }));
  return { model: result, folded, notFolded };
}

/** The nearest layer in direction `step` that is not the identity in inference, if it is a Dense. */
function neighbour(items: Item[], i: number, step: -1 | 1): { dense?: Item; reason: string } {
  const side = step < 0 ? 'previous' : 'next';
  for (let j = i + step; j >= 0 && j < items.length; j += step) {
    const layer = items[j].source;
    if (layer instanceof Dropout) continue;
    if (layer instanceof Flatten && (step > 0 || layer.inputShape.length === 1)) continue;
    if (layer instanceof Activation && layer.activation === 'linear') continue;
    if (layer instanceof Dense) {
      if (step < 0 && layer.activation !== 'linear') {
        return { reason: `the previous Dense '${items[j].plan.name}' applies '${layer.activation}', and BN cannot fold back through a nonlinearity` };
      }
      return { dense: items[j], reason: '' };
    }
    return { reason: `the ${side} layer '${items[j].plan.name}' is a ${layer.getClassName()}${
      layer instanceof Activation ? ` ('${layer.activation}', nonlinear)` : ''}, not a Dense` };
  }
  return { reason: step < 0 ? 'no Dense comes before it' : 'no Dense comes after it' };
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

function denseWeights(item: Item) {
  const kernel = item.weights.get('kernel')!;
  const units = item.plan.args.units as number;
  return { kernel, bias: item.weights.get('bias') ?? null, inputs: kernel.length / units, units };
}

/** Writes folded weights; a Dense without bias gets one. */
function setDense(item: Item, kernel: Float32Array, bias: Float32Array): void {
  item.weights.set('kernel', kernel);
  item.weights.set('bias', bias);
  item.plan = { ...item.plan, args: { ...item.plan.args, useBias: true } };
}
