/**
 * The models of the batch-normalization chapter, by name, so that the CLI, the web lab and tests
 * build exactly the same networks:
 * - `seed`: BN on the input and after each hidden Dense's activation (the chapter's first model):
 *   Flatten → BN → Dense(300, act) → BN → Dense(100, act) → BN → Dense(10, softmax).
 * - `seed-before`: BN between each hidden Dense and its activation; the Dense drops its bias, which
 *   BN's β replaces: Flatten → BN → Dense(300, no bias) → BN → Activation → Dense(100, no bias) → BN
 *   → Activation → Dense(10, softmax).
 * - `plain`: the same network without BN: Flatten → Dense(300, act) → Dense(100, act) → Dense(10, softmax).
 */
import { ValueError } from '../core/errors.js';
import * as layers from '../layers/index.js';
import type { Layer } from '../layers/layer.js';
import type { Initializer } from '../initializers/index.js';
import { Sequential } from './sequential.js';

export const MODEL_NAMES = ['seed', 'seed-before', 'plain'] as const;
export type ModelName = (typeof MODEL_NAMES)[number];

export interface ZooModelArgs {
  /** Activation of the hidden layers. Default 'relu' (as in the chapter's notebook). */
  activation?: string;
  /** Initializer of the Dense kernels. Default 'glorotUniform' (Keras's default). */
  kernelInitializer?: string | Initializer;
  /** Shape of one input example. Default [28, 28]. */
  inputShape?: number[];
  /** Hidden layer sizes. Default [300, 100]. */
  hiddenUnits?: number[];
  /** Number of classes (softmax outputs). Default 10. */
  classes?: number;
}

/** Builds one of `MODEL_NAMES` (uncompiled). */
export function buildModel(name: ModelName | string, args: ZooModelArgs = {}): Sequential {
  const {
    activation = 'relu', kernelInitializer = 'glorotUniform', inputShape = [28, 28], hiddenUnits = [300, 100], classes = 10,
  } = args;
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
      throw new ValueError(`buildModel: unknown model '${name}'. Expected one of: ${MODEL_NAMES.join(', ')}.`);
  }
  stack.push(layers.dense({ units: classes, activation: 'softmax', kernelInitializer }));
  return new Sequential({ layers: stack });
}
