/**
 * The zoo's residual networks (He et al. 2016, "Deep Residual Learning", section 4.2: the CIFAR
 * ResNets), for 28×28 grey images:
 *
 *   Reshape([28, 28, 1]) → Conv2D(16, 3×3) → BN → relu
 *   → 3 stages of n basic blocks, 16, 32 and 64 filters (28×28, 14×14, 7×7; the first block of
 *     stages 2 and 3 has stride 2)
 *   → GlobalAveragePooling2D → Dense(classes, softmax)
 *
 * Basic block: Conv2D(f, 3×3, stride s) → BN → relu → Conv2D(f, 3×3) → BN → Add(shortcut) → relu.
 * Depth 6n + 2: n = 3 is ResNet-20 (`zoo.buildModel('resnet')`), 1 gives 8 layers, 9 gives 56.
 *
 * Shortcut where the shape changes (stride 2, twice the filters): a projection, Conv2D(f, 1×1,
 * stride 2) → BN (the paper's option B), not option A's identity with zero-padded channels: option A
 * needs a layer that subsamples and pads channels, which neither Keel nor TF.js has, and a zoo model
 * must load in TF.js as it is. The projections add 2 × (16·32 + 32·64) weights plus their BN: about
 * 3,000 parameters on ResNet-20's 270,000.
 *
 * Convolutions before a BN have no bias (BN's β replaces it) and use 'same' padding. Without
 * normalization (`norm: 'none'`) every convolution gets its bias back. `residual: false` drops the
 * Add (and the projection): the plain network of the same depth, the paper's control.
 *
 * `fixup: true` is a norm-free residual network initialized in the style of Fixup (Zhang, Dauphin
 * and Ma 2019, "Fixup Initialization"): with L residual branches of m = 2 convolutions each, the
 * last convolution of every branch and the classifier start at zero, and the first convolution of
 * every branch gets He-normal weights scaled by L^(−1/(2m−2)) = L^(−1/2) (variance 2/(L·fan in)).
 * Every branch then starts as nothing, each block as its shortcut, and the output's variance does
 * not grow with depth. Differs from Fixup: no scalar multipliers and biases are added (the paper's
 * step 3); the convolutions' own per-channel biases stand in for the biases.
 */
import * as layers from '../layers/index.js';
import type { Layer, SymbolicTensor } from '../layers/layer.js';
import { varianceScaling, type Initializer } from '../initializers/index.js';
import { ValueError } from '../core/errors.js';
import { LayersModel } from './layersModel.js';
import { input } from './inputLayer.js';

export interface ResnetArgs {
  /** Basic blocks per stage (n; depth 6n + 2). Default 3 (ResNet-20). */
  blocksPerStage?: number;
  /** Filters of the three stages (the first convolution has the first stage's). Default [16, 32, 64]. */
  widths?: [number, number, number];
  /** Average-pool the input by this factor first (smaller, faster networks for experiments). Default 1: none. */
  inputPooling?: number;
  /** With shortcuts (default) or the plain network of the same layers. */
  residual?: boolean;
  /** A normalization layer after each convolution, or null for none. Default: BN. */
  normalize?: ((width: number) => Layer[]) | null;
  /**
   * Fixup-style initialization of a norm-free residual network (see the module comment): needs
   * `residual: true` and `normalize: null`, and replaces `kernelInitializer` inside the branches
   * and in the classifier. Default false.
   */
  fixup?: boolean;
  kernelInitializer?: string | Initializer;
  activation?: string;
  inputShape?: number[];
  classes?: number;
  name?: string;
}

/** A CIFAR-style ResNet (or its plain counterpart) as a functional model; see the module comment. */
export function buildResnet(args: ResnetArgs = {}): LayersModel {
  const {
    blocksPerStage = 3, widths = [16, 32, 64], inputPooling = 1, residual = true, normalize = () => [layers.batchNormalization()], kernelInitializer = 'glorotUniform',
    activation = 'relu', inputShape = [28, 28], classes = 10, name, fixup = false,
  } = args;
  if (fixup && (!residual || normalize)) {
    throw new ValueError(
      `buildResnet: fixup initializes a norm-free residual network, received residual: ${residual} and ` +
        `${normalize ? 'a normalization' : 'no normalization'}. Pass residual: true and normalize: null with fixup: true.`,
    );
  }
  const branches = 3 * blocksPerStage;
  const branchFirst = fixup ? varianceScaling({ scale: 2 / branches, mode: 'fanIn', distribution: 'truncatedNormal' }) : kernelInitializer;
  const branchLast = fixup ? 'zeros' : kernelInitializer;
  const x = input({ shape: inputShape });
  let h: SymbolicTensor = inputShape.length === 2 ? layers.reshape({ targetShape: [...inputShape, 1] }).apply(x) : x;
  if (inputPooling > 1) h = layers.averagePooling2d({ poolSize: inputPooling }).apply(h);
  // Convolution, then normalization (if any), then the activation unless `act` is false.
  const convUnit = (t: SymbolicTensor, filters: number, kernelSize: number, strides: number, act: boolean,
    init: string | Initializer = kernelInitializer): SymbolicTensor => {
    const norms = normalize ? normalize(filters) : [];
    let y = layers.conv2d({ filters, kernelSize, strides, padding: 'same', useBias: norms.length === 0, kernelInitializer: init }).apply(t);
    for (const n of norms) y = n.apply(y);
    return act ? layers.activation({ activation }).apply(y) : y;
  };
  h = convUnit(h, widths[0], 3, 1, true);
  widths.forEach((filters, stage) => {
    for (let b = 0; b < blocksPerStage; b++) {
      const strides = stage > 0 && b === 0 ? 2 : 1;
      const y = convUnit(convUnit(h, filters, 3, strides, true, branchFirst), filters, 3, 1, false, branchLast);
      if (residual) {
        const shortcut = strides === 1 ? h : convUnit(h, filters, 1, strides, false);
        h = layers.add().apply([y, shortcut]);
        h = layers.activation({ activation }).apply(h);
      } else {
        h = layers.activation({ activation }).apply(y);
      }
    }
  });
  h = layers.globalAveragePooling2d().apply(h);
  const out = layers.dense({ units: classes, activation: 'softmax', kernelInitializer: fixup ? 'zeros' : kernelInitializer }).apply(h);
  return new LayersModel({ inputs: x, outputs: out, ...(name ? { name } : {}) });
}
