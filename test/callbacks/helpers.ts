/** What the callback tests share: a small compiled model, its data, and scripted validation losses. */
import * as keel from 'keel';

export function smallModel(learningRate = 0.1): keel.Sequential {
  keel.setRandomSeed(2);
  const model = keel.sequential({ layers: [
    keel.layers.dense({ units: 4, inputShape: [3], activation: 'relu' }),
    keel.layers.batchNormalization(),
    keel.layers.dense({ units: 2, activation: 'softmax' }),
  ] });
  model.compile({ optimizer: keel.optimizers.sgd({ learningRate }), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  return model;
}

export const x = keel.tensor([[0, 1, 2], [1, 0, 1], [2, 2, 0], [0, 0, 1]]);
export const y = keel.tensor([0, 1, 1, 0]);

/** A callback, placed before the one under test, that makes the epoch's val_loss follow a script. */
export function scriptedValLoss(values: number[]): keel.callbacks.Callback {
  return { onEpochEnd: (epoch, logs) => { logs!.val_loss = values[epoch]; } };
}

export const weightsOf = (model: keel.Sequential): number[][] => model.getWeights().map((w) => Array.from(w.dataSync()));
