/**
 * The two runs' networks, built from the lab's settings with Keel's public API only.
 *
 * The MLP: Flatten → [hidden k] × depth → Dense(10, softmax), where hidden layer k is
 * - plain:            Dense(width, act)                          named hidden{k}
 * - normalized after: Dense(width, act) → Norm                   named hidden{k}, norm{k}
 * - normalized before: Dense(width, no bias) → Norm → Activation named hidden{k}, norm{k}, act{k}
 *   (before a normalization a bias is redundant: its shift β replaces it, as in keel.zoo).
 * The names let the charts find "hidden layer k" in either run. `cnn` is keel.zoo's model with
 * `norm` in place of each BN (placement and per-layer switches do not apply to it).
 */
import * as keel from 'keel';
import type { LabState, NormKind, RunSettings } from '../state.js';
import { normalizes } from '../state.js';

function initializer(state: LabState): string | keel.initializers.Initializer {
  switch (state.initializer) {
    case 'normal1': return keel.initializers.randomNormal({ mean: 0, stddev: 1 });
    case 'normal001': return keel.initializers.randomNormal({ mean: 0, stddev: 0.01 });
    default: return state.initializer;
  }
}

/**
 * Groups for Group Normalization over `width` features: the largest divisor of the width that is
 * at most 32 and leaves at least 2 features per group (a group of one feature normalizes it to 0).
 * keel.zoo's groupsFor allows groups of one, which its widths (784, 300, 100) never reach but the
 * lab's 16 and 32 would.
 */
export function groupsOf(width: number): number {
  for (let g = Math.min(32, Math.floor(width / 2)); g > 1; g--) if (width % g === 0) return g;
  return 1;
}

function normLayer(norm: NormKind, width: number, name: string): keel.layers.Layer {
  switch (norm) {
    case 'batch': return keel.layers.batchNormalization({ name });
    // The Batch Renorm paper's final clipping, as keel.zoo's 'renorm'.
    case 'renorm': return keel.layers.batchNormalization({ name, renorm: true, renormClipping: { rmax: 3, rmin: 1 / 3, dmax: 5 } });
    case 'group': return keel.layers.groupNormalization({ name, groups: groupsOf(width) });
    case 'layer': return keel.layers.layerNormalization({ name });
    case 'none': throw new Error('normLayer: none has no layer');
  }
}

/** The uncompiled network of one run; the caller seeds Keel's random numbers first. */
export function buildRunModel(state: LabState, run: RunSettings): keel.Sequential {
  if (state.model === 'cnn') {
    return keel.zoo.buildModel('cnn', { norm: run.norm, activation: state.activation, kernelInitializer: initializer(state) });
  }
  const kernelInitializer = initializer(state);
  const { activation, width } = state;
  const stack: keel.layers.Layer[] = [keel.layers.flatten({ inputShape: [28, 28], name: 'flatten' })];
  for (let i = 0; i < state.depth; i++) {
    const k = i + 1;
    if (!normalizes(run, i)) {
      stack.push(keel.layers.dense({ units: width, activation, kernelInitializer, name: `hidden${k}` }));
    } else if (run.placement === 'after') {
      stack.push(keel.layers.dense({ units: width, activation, kernelInitializer, name: `hidden${k}` }), normLayer(run.norm, width, `norm${k}`));
    } else {
      stack.push(
        keel.layers.dense({ units: width, useBias: false, kernelInitializer, name: `hidden${k}` }),
        normLayer(run.norm, width, `norm${k}`),
        keel.layers.activation({ activation, name: `act${k}` }),
      );
    }
  }
  stack.push(keel.layers.dense({ units: 10, activation: 'softmax', kernelInitializer, name: 'output' }));
  return keel.sequential({ layers: stack });
}

export function buildOptimizer(state: LabState): keel.optimizers.Optimizer {
  const learningRate = state.learningRate;
  switch (state.optimizer) {
    case 'sgd': return keel.optimizers.sgd({ learningRate });
    case 'momentum': return keel.optimizers.sgd({ learningRate, momentum: 0.9 });
    case 'adam': return keel.optimizers.adam({ learningRate });
    case 'rmsprop': return keel.optimizers.rmsprop({ learningRate });
  }
}

/** The model's Keras-style summary as text. */
export function summaryText(model: keel.Sequential): string {
  const lines: string[] = [];
  model.summary(60, undefined, (line) => lines.push(line));
  return lines.join('\n');
}

/**
 * What the charts follow in hidden layer `k` (1-based) of a model: the layer whose output feeds
 * the nonlinearity (its diagnostics record's name) and the BatchNormalization layer, if any.
 */
export function chartedLayers(model: keel.Sequential, k: number): { preActivation: string | null; batchNorm: keel.layers.BatchNormalization | null } {
  const layers = model.layers;
  const named = (name: string) => layers.find((l) => l.name === name) ?? null;
  if (named(`hidden${k}`)) {
    const bn = named(`norm${k}`);
    return {
      preActivation: named(`act${k}`) ? `act${k}` : `hidden${k}`,
      batchNorm: bn instanceof keel.layers.BatchNormalization ? bn : null,
    };
  }
  // The cnn: the k-th layer that feeds a nonlinearity (an Activation, or a Dense with one) and the k-th BN.
  const feeding = layers.filter((l) => (l instanceof keel.layers.Activation && l.activation !== 'linear')
    || (l instanceof keel.layers.Dense && l.activation !== 'linear' && l.activation !== 'softmax'));
  const bns = layers.filter((l): l is keel.layers.BatchNormalization => l instanceof keel.layers.BatchNormalization);
  return { preActivation: feeding[k - 1]?.name ?? null, batchNorm: bns[k - 1] ?? null };
}
