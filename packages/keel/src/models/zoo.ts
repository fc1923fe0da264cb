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
 */
import { ValueError, describeValue } from '../core/errors.js';
import * as layers from '../layers/index.js';
import type { Layer } from '../layers/layer.js';
import type { Initializer } from '../initializers/index.js';
import { Sequential } from './sequential.js';

export const MODEL_NAMES = ['seed', 'seed-before', 'plain', 'cnn', 'cnn-plain'] as const;
export type ModelName = (typeof MODEL_NAMES)[number];

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
}

/** Builds one of `MODEL_NAMES` (uncompiled). */
export function buildModel(name: ModelName | string, args: ZooModelArgs = {}): Sequential {
  const {
    activation = 'relu', kernelInitializer = 'glorotUniform', inputShape = [28, 28], hiddenUnits = [300, 100], classes = 10,
  } = args;
  if (name === 'cnn' || name === 'cnn-plain') return buildCnn(name === 'cnn', { activation, kernelInitializer, inputShape, classes });
  const stack: Layer[] = [layers.flatten({ inputShape })];
  switch (name) {
    case 'seed':
      stack.push(layers.batchNormalization());
      for (const units of hiddenUnits) {
        stack.push(layers.dense({ units, activation, kernelInitializer }), layers.batchNormalization());
      }
      break;
    case 'seed-before':
      stack.push(layers.batchNormalization());
      for (const units of hiddenUnits) {
        stack.push(
          layers.dense({ units, useBias: false, kernelInitializer }),
          layers.batchNormalization(),
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

/** The `cnn` (with BN) and `cnn-plain` models: convolutions of 32, 32, 64, 64 filters, then Dense(128). */
function buildCnn(
  withBatchNorm: boolean,
  args: { activation: string; kernelInitializer: string | Initializer; inputShape: number[]; classes: number },
): Sequential {
  const { activation, kernelInitializer, inputShape, classes } = args;
  const stack: Layer[] = [];
  // Grey images [h, w] get a channels axis; images that have one already are taken as they are.
  if (inputShape.length === 2) stack.push(layers.reshape({ targetShape: [...inputShape, 1], inputShape }));
  const first = inputShape.length === 2 ? {} : { inputShape };
  // Before a BN, a bias is redundant (BN's β replaces it) and the activation comes after the BN.
  const block = (units: Layer): Layer[] =>
    withBatchNorm ? [units, layers.batchNormalization(), layers.activation({ activation })] : [units];
  const conv = (filters: number) => block(layers.conv2d({
    filters, kernelSize: 3, padding: 'same', kernelInitializer,
    ...(withBatchNorm ? { useBias: false } : { activation }),
    ...(stack.length === 0 ? first : {}),
  }));
  stack.push(...conv(32), ...conv(32), layers.maxPooling2d({ poolSize: 2 }));
  stack.push(...conv(64), ...conv(64), layers.maxPooling2d({ poolSize: 2 }));
  stack.push(layers.flatten());
  stack.push(...block(layers.dense({ units: 128, kernelInitializer, ...(withBatchNorm ? { useBias: false } : { activation }) })));
  stack.push(layers.dense({ units: classes, activation: 'softmax', kernelInitializer }));
  return new Sequential({ layers: stack });
}
