/**
 * Every zoo model, exported with and without folding, predicts in ONNX Runtime what Keel predicts,
 * on one image and on a batch, with trained-looking weights (helpers.ts). Checked on the softmax
 * output and on the features before the last Dense (not squashed by the softmax); the image runs
 * the nodes as written, the batch with ONNX Runtime's default graph optimizations.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as keel from 'keel';
import { toOnnx } from 'keel-onnx';
import { images, relativeDifference, runOnnx, trainedLookingWeights } from './helpers.js';

const TOLERANCE = 1e-5;

const MODELS: { name: string; norm?: keel.zoo.Normalization }[] = [
  { name: 'plain' }, { name: 'cnn-plain' },
  ...(['seed', 'seed-before', 'cnn'] as const).flatMap((name) => keel.zoo.NORMALIZATIONS.map((norm) => ({ name, norm }))),
];

/** The model without its last layer, sharing its layers (and weights). */
function features(model: keel.Sequential): keel.Sequential {
  return keel.sequential({ layers: model.layers.slice(0, -1) });
}

async function check(model: keel.Sequential, opset: number | undefined, label: string): Promise<void> {
  const x = images(5, model.inputShape);
  const one = keel.slice(x, 0, 1);
  for (const [which, m] of [['output', model], ['features', features(model)]] as const) {
    for (const foldBatchNorm of [false, true]) {
      const bytes = toOnnx(m, { foldBatchNorm, ...(opset ? { opset } : {}) });
      for (const input of [one, x]) {
        const expected = m.predict(input);
        const got = await runOnnx(bytes, input, input === one ? 'disabled' : 'all');
        assert.deepEqual(got.shape, expected.shape, `${label} ${which}`);
        const diff = relativeDifference(got.values, expected.dataSync());
        assert.ok(diff <= TOLERANCE, `${label} ${which}${foldBatchNorm ? ' folded' : ''} batch ${input.shape[0]}: ${diff}`);
      }
    }
  }
}

for (const { name, norm } of MODELS) {
  const label = `${name}${norm ? ` norm ${norm}` : ''}`;
  test(`zoo ${label}: ONNX Runtime predicts what Keel predicts, folded or not`, async () => {
    keel.setRandomSeed(11);
    const model = keel.zoo.buildModel(name, norm ? { norm } : {});
    trainedLookingWeights(model);
    await check(model, undefined, label);
  });
}

for (const opset of [13, 18, 21]) {
  for (const norm of ['batch', 'layer', 'group'] as const) {
    for (const name of ['seed', 'cnn']) {
      test(`zoo ${name} norm ${norm} at opset ${opset}`, async () => {
        keel.setRandomSeed(12);
        const model = keel.zoo.buildModel(name, { norm });
        trainedLookingWeights(model, 8);
        await check(model, opset, `${name} norm ${norm} opset ${opset}`);
      });
    }
  }
}
