/**
 * The models of the batch-normalization chapter, by name, so that the CLI, the web lab and tests
 * build exactly the same networks:
 * - `seed`: BN on the input and after each hidden Dense's activation (the chapter's first model):
 *   Flatten → BN → Dense(300, act) → BN → Dense(100, act) → BN → Dense(10, softmax).
 * - `seed-before`: BN between each hidden Dense and its activation; the Dense drops its bias, which
 *   BN's β replaces: Flatten → BN → Dense(300, no bias) → BN → Activation → Dense(100, no bias) → BN
 *   → Activation → Dense(10, softmax).
 * - `plain`: the same network without BN: Flatten → Dense(300, act) → Dense(100, act) → Dense(10, softmax).
 * - `cnn`: a batch-normalized convolutional network (the images get a channels axis first):
 *   Reshape([28, 28, 1]) → [Conv2D(32, 3×3, same, no bias) → BN → act] ×2 → MaxPool(2) →
 *   [Conv2D(64, 3×3, same, no bias) → BN → act] ×2 → MaxPool(2) → Flatten → Dense(128, no bias)
 *   → BN → act → Dense(10, softmax): 468,778 parameters, 640 of them BN's moving statistics.
 * - `cnn-plain`: the same without BN, each convolution and the Dense with a bias and the activation.
 * - `resnet`: ResNet-20 in the CIFAR style, a functional model (zooResnet.ts): 3 stages of 3 basic
 *   blocks of 16, 32 and 64 filters, BN after each convolution, projection shortcuts where the
 *   shape changes, global average pooling, Dense(10, softmax).
 *
 * `norm` replaces every BN of `seed`, `seed-before`, `cnn` and `resnet` by another normalization (issue of
 * small and non-i.i.d. batches): 'batch' (BN, the default), 'renorm' (Batch Renormalization with
 * the paper's final clipping rmax 3, dmax 5), 'ghost' (Ghost BN, `virtualBatchSize` rows per
 * sub-batch, default 16), 'group' (Group Normalization with the largest group count ≤ 32 that divides
 * the width: 28 groups of 784 inputs, 30 of 300, 25 of 100, 32 of 32, 64 or 128 channels), 'layer'
 * (Layer Normalization) or 'none' (the layer is left out; the layer before it gets its bias and
 * activation back, so `seed` with 'none' is `plain`).
 */
import { ValueError, describeValue } from '../core/errors.js';
import * as layers from '../layers/index.js';
import type { Layer } from '../layers/layer.js';
import type { Initializer } from '../initializers/index.js';
import { Sequential } from './sequential.js';
import type { LayersModel } from './layersModel.js';
import { buildResnet } from './zooResnet.js';

export { buildResnet, type ResnetArgs } from './zooResnet.js';

export const MODEL_NAMES = ['seed', 'seed-before', 'plain', 'cnn', 'cnn-plain', 'resnet'] as const;
export type ModelName = (typeof MODEL_NAMES)[number];

/** What `norm` may name (see the module comment). */
export const NORMALIZATIONS = ['batch', 'renorm', 'ghost', 'group', 'layer', 'none'] as const;
export type Normalization = (typeof NORMALIZATIONS)[number];

export interface ZooModelArgs {
  /** Activation of the hidden layers. Default 'relu' (as in the chapter's notebook). */
  activation?: string;
  /** Initializer of the Dense kernels. Default 'glorotUniform' (Keras's default). */
  kernelInitializer?: string | Initializer;
  /** Shape of one input example. Default [28, 28]. */
  inputShape?: number[];
  /** Hidden layer sizes of the MLPs. Default [300, 100]. */
  hiddenUnits?: number[];
  /** Number of classes (softmax outputs). Default 10. */
  classes?: number;
  /** The normalization in place of each BN of `seed`, `seed-before` and `cnn`. Default 'batch'. */
  norm?: Normalization;
  /** Rows per sub-batch of `norm: 'ghost'`; must divide the training batch size. Default 16. */
  virtualBatchSize?: number;
}

/** The largest divisor of `width` that is at most 32 (Keras's default group count). */
export function groupsFor(width: number): number {
  for (let g = Math.min(32, width); g > 1; g--) if (width % g === 0) return g;
  return 1;
}

/** A normalization layer of the kind `norm` over `width` features, or null for 'none'. */
function normalizationLayer(norm: Normalization, width: number, virtualBatchSize: number): Layer | null {
  switch (norm) {
    case 'batch': return layers.batchNormalization();
    case 'renorm': return layers.batchNormalization({ renorm: true, renormClipping: { rmax: 3, rmin: 1 / 3, dmax: 5 } });
    case 'ghost': return layers.batchNormalization({ virtualBatchSize });
    case 'group': return layers.groupNormalization({ groups: groupsFor(width) });
    case 'layer': return layers.layerNormalization();
    case 'none': return null;
  }
}

/**
 * Builds one of `MODEL_NAMES` (uncompiled): a Sequential, but for `resnet`, a functional model.
 * (Code that types the result as `Sequential` still compiles: see models/sequential.ts.)
 */
export function buildModel(name: ModelName | string, args: ZooModelArgs = {}): LayersModel {
  const {
    activation = 'relu', kernelInitializer = 'glorotUniform', inputShape = [28, 28], hiddenUnits = [300, 100], classes = 10,
    norm = 'batch', virtualBatchSize = 16,
  } = args;
  if (!(NORMALIZATIONS as readonly string[]).includes(norm)) {
    throw new ValueError(`buildModel: unknown norm ${describeValue(norm)}. Expected one of: ${NORMALIZATIONS.join(', ')}.`);
  }
  if (norm !== 'batch' && (name === 'plain' || name === 'cnn-plain')) {
    throw new ValueError(`buildModel: model ${name} has no normalization to replace, received norm ${describeValue(norm)}; use seed, seed-before or cnn.`);
  }
  const normalize = (width: number): Layer[] => {
    const layer = normalizationLayer(norm, width, virtualBatchSize);
    return layer ? [layer] : [];
  };
  if (name === 'resnet') {
    return buildResnet({ normalize, activation, kernelInitializer, inputShape, classes });
  }
  if (name === 'cnn' || name === 'cnn-plain') {
    return buildCnn(name === 'cnn' ? normalize : null, { activation, kernelInitializer, inputShape, classes });
  }
  const stack: Layer[] = [layers.flatten({ inputShape })];
  const inputWidth = inputShape.reduce((a, b) => a * b, 1);
  switch (name) {
    case 'seed':
      stack.push(...normalize(inputWidth));
      for (const units of hiddenUnits) {
        stack.push(layers.dense({ units, activation, kernelInitializer }), ...normalize(units));
      }
      break;
    case 'seed-before':
      stack.push(...normalize(inputWidth));
      for (const units of hiddenUnits) {
        // Before a normalization with a shift β, a bias is redundant; without one it comes back.
        const norms = normalize(units);
        stack.push(
          norms.length ? layers.dense({ units, useBias: false, kernelInitializer }) : layers.dense({ units, kernelInitializer }),
          ...norms,
          layers.activation({ activation }),
        );
      }
      break;
    case 'plain':
      for (const units of hiddenUnits) stack.push(layers.dense({ units, activation, kernelInitializer }));
      break;
    default:
      throw new ValueError(`buildModel: unknown model ${describeValue(name)}. Expected one of: ${MODEL_NAMES.join(', ')}.`);
  }
  stack.push(layers.dense({ units: classes, activation: 'softmax', kernelInitializer }));
  return new Sequential({ layers: stack });
}

/**
 * The `cnn` (normalized by `normalize`, BN by default) and `cnn-plain` (`normalize` null) models:
 * convolutions of 32, 32, 64, 64 filters, then Dense(128).
 */
function buildCnn(
  normalize: ((width: number) => Layer[]) | null,
  args: { activation: string; kernelInitializer: string | Initializer; inputShape: number[]; classes: number },
): Sequential {
  const { activation, kernelInitializer, inputShape, classes } = args;
  const stack: Layer[] = [];
  // Grey images [h, w] get a channels axis; images that have one already are taken as they are.
  if (inputShape.length === 2) stack.push(layers.reshape({ targetShape: [...inputShape, 1], inputShape }));
  const first = inputShape.length === 2 ? {} : { inputShape };
  // Before a normalization, a bias is redundant (its β replaces it) and the activation comes after it.
  const block = (width: number, make: (normalized: boolean) => Layer): Layer[] => {
    const norms = normalize ? normalize(width) : [];
    return norms.length ? [make(true), ...norms, layers.activation({ activation })] : [make(false)];
  };
  const conv = (filters: number) => block(filters, (normalized) => layers.conv2d({
    filters, kernelSize: 3, padding: 'same', kernelInitializer,
    ...(normalized ? { useBias: false } : { activation }),
    ...(stack.length === 0 ? first : {}),
  }));
  stack.push(...conv(32), ...conv(32), layers.maxPooling2d({ poolSize: 2 }));
  stack.push(...conv(64), ...conv(64), layers.maxPooling2d({ poolSize: 2 }));
  stack.push(layers.flatten());
  stack.push(...block(128, (normalized) => layers.dense({ units: 128, kernelInitializer, ...(normalized ? { useBias: false } : { activation }) })));
  stack.push(layers.dense({ units: classes, activation: 'softmax', kernelInitializer }));
  return new Sequential({ layers: stack });
}
