/**
 * Finite-difference gradient checks in float64 for the convolution and pooling layers: strides,
 * dilation, both paddings, odd sizes, a window larger than the input under 'same'.
 */
import { test } from 'node:test';
import { Conv2D } from '../../packages/keel/src/layers/conv2d.js';
import { DepthwiseConv2D } from '../../packages/keel/src/layers/depthwiseConv2d.js';
import { AveragePooling2D, GlobalAveragePooling2D, GlobalMaxPooling2D, MaxPooling2D } from '../../packages/keel/src/layers/pooling.js';
import { Reshape } from '../../packages/keel/src/layers/reshape.js';
import { checkLayerGradients } from '../gradcheck.js';

const F64 = { dtype: 'float64' as const, biasInitializer: 'glorotUniform' as const };

const convCases: { what: string; args: Record<string, unknown>; input: number[] }[] = [
  { what: '3×3 same', args: { filters: 4, kernelSize: 3, padding: 'same' }, input: [2, 5, 6, 3] },
  { what: '3×3 valid, stride 2', args: { filters: 3, kernelSize: 3, strides: 2 }, input: [2, 7, 6, 2] },
  { what: '2×2 same, stride 2 (uneven padding)', args: { filters: 2, kernelSize: 2, strides: 2, padding: 'same' }, input: [1, 5, 5, 2] },
  { what: '3×2 same, strides [2, 3], odd sizes', args: { filters: 3, kernelSize: [3, 2], strides: [2, 3], padding: 'same' }, input: [2, 7, 5, 1] },
  { what: 'dilation 2, same', args: { filters: 2, kernelSize: 3, dilationRate: 2, padding: 'same' }, input: [1, 6, 7, 2] },
  { what: 'dilation [2, 1], valid', args: { filters: 2, kernelSize: 2, dilationRate: [2, 1] }, input: [2, 5, 4, 3] },
  { what: '7×7 window on a 3×3 image, same', args: { filters: 2, kernelSize: 7, padding: 'same' }, input: [2, 3, 3, 2] },
  { what: '1×1 (no im2col), relu', args: { filters: 5, kernelSize: 1, activation: 'tanh' }, input: [2, 3, 4, 3] },
  { what: '1×1 stride 2', args: { filters: 2, kernelSize: 1, strides: 2 }, input: [2, 5, 5, 3] },
  { what: '3×3 same, elu, no bias', args: { filters: 3, kernelSize: 3, padding: 'same', activation: 'elu', useBias: false }, input: [2, 4, 4, 2] },
];

for (const c of convCases) {
  test(`gradient: Conv2D ${c.what}`, () => {
    checkLayerGradients(new Conv2D({ ...F64, ...(c.args as { filters: number; kernelSize: number }) }), c.input, `conv2d ${c.what}`);
  });
}

const depthwiseCases: { what: string; args: Record<string, unknown>; input: number[] }[] = [
  { what: '3×3 same', args: { kernelSize: 3, padding: 'same' }, input: [2, 5, 4, 3] },
  { what: 'multiplier 2, stride 2, valid', args: { kernelSize: 3, depthMultiplier: 2, strides: 2 }, input: [2, 7, 6, 2] },
  { what: 'dilation 2, same, tanh', args: { kernelSize: 3, dilationRate: 2, padding: 'same', activation: 'tanh' }, input: [1, 6, 5, 3] },
  { what: '5×5 window on a 2×3 image, same', args: { kernelSize: 5, padding: 'same', depthMultiplier: 3 }, input: [2, 2, 3, 1] },
];

for (const c of depthwiseCases) {
  test(`gradient: DepthwiseConv2D ${c.what}`, () => {
    checkLayerGradients(new DepthwiseConv2D({ ...F64, ...(c.args as { kernelSize: number }) }), c.input, `depthwise ${c.what}`);
  });
}

const poolCases: { what: string; args: Record<string, unknown>; input: number[] }[] = [
  { what: '2×2', args: {}, input: [2, 4, 6, 3] },
  { what: '3×3 stride 2 same, odd sizes', args: { poolSize: 3, strides: 2, padding: 'same' }, input: [2, 5, 7, 2] },
  { what: '2×2 stride 1 (overlapping)', args: { poolSize: 2, strides: 1 }, input: [1, 4, 5, 2] },
  { what: '3×3 on 5×5 valid, stride 3', args: { poolSize: 3, strides: 3 }, input: [2, 5, 5, 1] },
  { what: '4×4 window on a 2×3 image, same', args: { poolSize: 4, strides: 1, padding: 'same' }, input: [1, 2, 3, 2] },
];

for (const c of poolCases) {
  test(`gradient: MaxPooling2D ${c.what}`, () => {
    checkLayerGradients(new MaxPooling2D({ dtype: 'float64', ...(c.args as object) }), c.input, `maxPool ${c.what}`);
  });
  test(`gradient: AveragePooling2D ${c.what}`, () => {
    checkLayerGradients(new AveragePooling2D({ dtype: 'float64', ...(c.args as object) }), c.input, `avgPool ${c.what}`);
  });
}

test('gradient: GlobalAveragePooling2D and GlobalMaxPooling2D', () => {
  checkLayerGradients(new GlobalAveragePooling2D({ dtype: 'float64' }), [3, 4, 5, 2], 'globalAvg');
  checkLayerGradients(new GlobalMaxPooling2D({ dtype: 'float64' }), [3, 4, 5, 2], 'globalMax');
});

test('gradient: Reshape', () => {
  checkLayerGradients(new Reshape({ dtype: 'float64', targetShape: [3, -1] }), [2, 2, 3, 2], 'reshape');
});
