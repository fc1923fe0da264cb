/**
 * Sequential: a stack of layers trained by backpropagation, with TF.js's Layers API
 * (compile, fit, evaluate, predict, trainOnBatch, summary, getWeights/setWeights).
 *
 * Each training step: forward in training mode, loss, backward, optimizer update, then layer state
 * (BN moving statistics). A step that fails (bad batch, non-finite loss) changes nothing.
 */
import { Tensor, sameShape, type DType, type NestedArray } from '../core/tensor.js';
import { NonFiniteLossError, ShapeError, StateError, ValueError, checkOptions, describeValue, formatShape } from '../core/errors.js';
import { defaultRandom, Random } from '../core/random.js';
import { Layer, uniqueName } from '../layers/layer.js';
import { assignWeights, type LayerVariable } from '../layers/variable.js';
import { Dense } from '../layers/dense.js';
import { Activation } from '../layers/simple.js';
import { getLoss, type Loss } from '../losses/index.js';
import { getMetric, type Metric } from '../metrics/index.js';
import { getOptimizer, type Optimizer } from '../optimizers/index.js';
import { checkFinite, empty, fillInPlace, slice, toBatch, type TypedArray } from '../ops/tensor.js';
import type { Callback, History } from './callbacks.js';
import { runTraining, type StepResult, type TrainBatch } from './trainingLoop.js';
import type { DatasetLike } from './datasetSource.js';
import {
  datasetPlan, evaluateOver, withDatasetHint, type DatasetModel, type EvaluateDatasetArgs, type FitDatasetArgs,
} from './datasetTraining.js';
import { formatSummary, summaryRows } from './summary.js';
import { registeredModelSaver, type IOHandler, type SaveConfig, type SaveResult, type TrainingConfig } from './saving.js';

export interface SequentialArgs {
  layers?: Layer[];
  name?: string;
}

export interface CompileArgs {
  optimizer: string | Optimizer;
  loss: string;
  metrics?: string[];
}

/**
 * Inputs, as `fit`, `evaluate`, `predict` and `trainOnBatch` take them: a Tensor, or nested arrays
 * with the batch axis first (converted by `keel.tensor`). A flat typed array has no shape and is
 * refused with the shape to give: `keel.tensor(pixels, [n, 28, 28])`.
 */
export type InputData = Tensor | NestedArray[];

/**
 * Labels: a Tensor, nested arrays, or a flat array or typed array read as one label per example
 * (shape [n], e.g. an Int32Array of class indices).
 */
export type LabelData = Tensor | NestedArray[] | TypedArray;

/**
 * What `evaluate` returns, as in TF.js: the loss alone when compiled without metrics, else
 * `[loss, ...metrics]` in compile order; scalar tensors either way. The loss alone also
 * destructures, as `[loss]`, so that `const [loss, accuracy] = model.evaluate(x, y)` type-checks.
 */
export type EvaluateOutput = (Tensor & Iterable<Tensor>) | [loss: Tensor, ...metrics: Tensor[]];

export interface FitArgs {
  epochs?: number;
  /** Default 32. A final batch of one example is merged into the one before (BN cannot train on 1). */
  batchSize?: number;
  validationData?: [InputData, LabelData];
  /** Fraction of the data, taken from the end before shuffling (as Keras), held out for validation. */
  validationSplit?: number;
  shuffle?: boolean;
  /** 0: silent; 1 (default): one line per epoch. */
  verbose?: number;
  callbacks?: Callback[] | Callback;
  /**
   * Epoch to start at (counted from 0), to resume a run: with `seed`, the shuffles of the epochs
   * before it are replayed first, so that epoch `initialEpoch` sees the order it had in the run.
   */
  initialEpoch?: number;
  /**
   * Seed of the shuffles (default: the global generator). Epoch e's order is the e-th shuffle of
   * this generator, whatever `initialEpoch` is, so that a run resumed at an epoch boundary (same
   * seed, `initialEpoch`) trains on the same batches as one that did not stop.
   */
  seed?: number;
}

/** One element of the datasets `fitDataset` and `evaluateDataset` read: a batch of inputs and labels. */
export interface DatasetBatch {
  xs: InputData;
  ys: LabelData;
}

export type { DatasetLike, FitDatasetArgs, EvaluateDatasetArgs };

export interface EvaluateArgs {
  batchSize?: number;
  verbose?: number;
}

export interface PredictArgs {
  batchSize?: number;
}

/** dL/d(logits) can be fed straight to layers whose activation the loss fuses with. */
interface FusableLayer {
  activation: string;
  backwardFromPreActivation(dPre: Tensor, needInputGrad: boolean): Tensor | null;
}

export class Sequential {
  readonly name: string;
  private readonly stack: Layer[] = [];
  private outputShapes: number[][] = [];
  private compiled: { optimizer: Optimizer; loss: Loss; metrics: Metric[]; parameters: LayerVariable[] } | null = null;
  private readonly workspace = new Map<string, Tensor>();
  /** Set to true (from a callback) to end `fit` after the current batch. */
  stopTraining = false;
  private userDefinedMetadata: Record<string, unknown> | undefined;

  constructor(args: SequentialArgs = {}) {
    checkOptions('sequential', args, ['layers', 'name']);
    // The model's name starts many messages; one that is not a string would be printed whole there.
    if (args.name !== undefined && args.name !== null && typeof args.name !== 'string') {
      throw new ValueError(`sequential: expected name to be a string such as 'classifier', received ${describeValue(args.name)}.`);
    }
    this.name = args.name ?? uniqueName('sequential');
    for (const layer of args.layers ?? []) this.add(layer);
  }

  /** Appends a layer. The first layer must declare its `inputShape`. */
  add(layer: Layer): void {
    if (!(layer instanceof Layer)) {
      throw new ValueError(`${this.name}.add: expected a layer (e.g. keel.layers.dense({units: 10})), received ${describeValue(layer)}.`);
    }
    if (this.stack.includes(layer)) {
      throw new ValueError(`${this.name}.add: layer '${layer.name}' is already in this model; create a new layer instead.`);
    }
    if (this.stack.length === 0) {
      if (!layer.declaredInputShape && !layer.isBuilt) {
        throw new ShapeError(
          `${this.name}: the first layer ('${layer.name}') needs an input shape, e.g. ` +
            `keel.layers.flatten({inputShape: [28, 28]}) or keel.layers.dense({units: 10, inputShape: [784]}).`,
        );
      }
      const inputShape = layer.isBuilt ? layer.inputShape : layer.declaredInputShape!;
      this.connect(layer, inputShape);
    } else {
      this.connect(layer, this.outputShapes[this.outputShapes.length - 1]);
    }
    this.stack.push(layer);
    this.compiled = null;
  }

  private connect(layer: Layer, inputShape: number[]): void {
    if (layer.isBuilt) {
      if (!sameShape(layer.inputShape, inputShape)) {
        throw new ShapeError(
          `${this.name}: layer '${layer.name}' was built for inputs ${formatShape([null as unknown as number, ...layer.inputShape])}, ` +
            `but the model feeds it ${formatShape([null as unknown as number, ...inputShape])}.`,
        );
      }
    } else {
      layer.build(inputShape);
    }
    this.outputShapes.push(layer.computeOutputShape(inputShape));
  }

  /** The layers, in order. */
  get layers(): Layer[] {
    return [...this.stack];
  }

  /** Shape of one input example. */
  get inputShape(): number[] {
    this.assertHasLayers('inputShape');
    return this.stack[0].inputShape;
  }

  /** Shape of one output example. */
  get outputShape(): number[] {
    this.assertHasLayers('outputShape');
    return [...this.outputShapes[this.outputShapes.length - 1]];
  }

  private get dtype(): DType {
    return this.stack[0]?.dtype ?? 'float32';
  }

  // ---- weights ------------------------------------------------------------------------------

  get trainableWeights(): LayerVariable[] {
    return this.stack.flatMap((l) => l.trainableWeights);
  }

  get nonTrainableWeights(): LayerVariable[] {
    return this.stack.flatMap((l) => l.nonTrainableWeights);
  }

  /** All trainable weights in layer order, then all non-trainable ones (TF.js's order). */
  get weights(): LayerVariable[] {
    return [...this.trainableWeights, ...this.nonTrainableWeights];
  }

  getWeights(): Tensor[] {
    return this.weights.map((v) => v.read());
  }

  /** Sets every weight in `getWeights()` order; checks them all first, so a bad call changes nothing. */
  setWeights(weights: Tensor[]): void {
    assignWeights(this.name, this.weights, weights, 'in getWeights() order (trainable weights of every layer, then non-trainable ones)');
  }

  countParams(): number {
    return this.stack.reduce((n, l) => n + l.countParams(), 0);
  }

  /** Prints the Keras-style table of layers, output shapes and parameter counts. */
  summary(lineLength?: number, positions?: number[], printFn: (line: string) => void = console.log): void {
    this.assertHasLayers('summary');
    const count = (vs: LayerVariable[]) => vs.reduce((n, v) => n + v.value.size, 0);
    const lines = formatSummary(
      this.name, summaryRows(this.stack, this.outputShapes),
      count(this.trainableWeights), count(this.nonTrainableWeights), lineLength, positions,
    );
    for (const l of lines) printFn(l);
  }

  // ---- training -----------------------------------------------------------------------------

  /**
   * Chooses optimizer, loss and metrics, and fixes the set of parameters the optimizer may update.
   * Differs from Keras: setting `layer.trainable = false` after compile also stops that layer's
   * updates at once (Keras waits for the next compile); unfreezing a layer still needs a compile.
   */
  compile(args: CompileArgs): void {
    checkOptions('compile', args, ['optimizer', 'loss', 'metrics']);
    this.assertHasLayers('compile');
    if (!args || args.optimizer === undefined || args.loss === undefined) {
      throw new ValueError(`compile: expected {optimizer, loss}, e.g. compile({optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy'}).`);
    }
    const optimizer = getOptimizer(args.optimizer);
    const loss = getLoss(args.loss);
    const units = this.outputShape[this.outputShape.length - 1];
    const metrics = (args.metrics ?? []).map((m) => getMetric(m, loss.name, units));
    this.compiled = { optimizer, loss, metrics, parameters: this.trainableWeights };
  }

  get optimizer(): Optimizer | null {
    return this.compiled?.optimizer ?? null;
  }

  /**
   * How the model was compiled, as TF.js's `getTrainingConfig` (what `save` writes with
   * `includeOptimizer`): the loss and metric names and the optimizer's class and settings.
   */
  getTrainingConfig(): TrainingConfig {
    const compiled = this.assertCompiled('getTrainingConfig');
    return {
      loss: compiled.loss.name,
      metrics: compiled.metrics.map((m) => m.name),
      optimizer_config: { class_name: compiled.optimizer.getClassName(), config: compiled.optimizer.getConfig() },
    };
  }

  /**
   * Data of your own saved with the model (model.json's `userDefinedMetadata`), as TF.js's
   * `setUserDefinedMetadata`: a plain object that JSON can hold. Differs from TF.js: undefined
   * removes it. Stored as a copy, as JSON would give it back.
   */
  setUserDefinedMetadata(metadata: Record<string, unknown> | undefined): void {
    if (metadata === undefined) {
      this.userDefinedMetadata = undefined;
      return;
    }
    if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) {
      throw new ValueError(`setUserDefinedMetadata: expected a plain object such as {run: 3}, received ${describeValue(metadata)}.`);
    }
    let copy: unknown;
    try {
      copy = JSON.parse(JSON.stringify(metadata));
    } catch (e) {
      throw new ValueError(`setUserDefinedMetadata: the metadata cannot be written as JSON (${(e as Error).message}); keep to numbers, strings, booleans, arrays and objects.`);
    }
    this.userDefinedMetadata = copy as Record<string, unknown>;
  }

  /** The data given to setUserDefinedMetadata or loaded with the model; undefined if none. */
  getUserDefinedMetadata(): Record<string, unknown> | undefined {
    return this.userDefinedMetadata === undefined ? undefined : JSON.parse(JSON.stringify(this.userDefinedMetadata));
  }

  /**
   * Trains for `epochs` passes over (x, y). Returns a History of the per-epoch figures.
   * Throws, with the model as it was before the failing step, on bad input or a non-finite loss.
   */
  async fit(xData: InputData, yData: LabelData, args: FitArgs = {}): Promise<History> {
    checkOptions('fit', args, [
      'epochs', 'batchSize', 'validationData', 'validationSplit', 'shuffle', 'verbose', 'callbacks', 'initialEpoch', 'seed',
    ]);
    const compiled = this.assertCompiled('fit');
    const {
      epochs = 1, batchSize = 32, validationData, validationSplit = 0, shuffle = true, verbose = 1, initialEpoch = 0, seed,
    } = args;
    positiveInteger('fit', 'epochs', epochs);
    positiveInteger('fit', 'batchSize', batchSize);
    if (!Number.isInteger(initialEpoch) || initialEpoch < 0) {
      throw new ValueError(`fit: expected initialEpoch to be an integer >= 0 (the epoch to resume at, from 0), received ${describeValue(initialEpoch)}.`);
    }
    if (!(validationSplit >= 0 && validationSplit < 1)) {
      throw new ValueError(`fit: expected validationSplit in [0, 1), received ${describeValue(validationSplit)}.`);
    }
    if (validationData && validationSplit > 0) {
      throw new ValueError(`fit: give validationData or validationSplit, not both.`);
    }
    if (seed !== undefined && !Number.isFinite(seed)) {
      throw new ValueError(`fit: expected seed to be a finite number, e.g. 42, received ${describeValue(seed)}.`);
    }
    const [x, y] = this.checkData('fit', xData, yData);
    let [xTrain, yTrain] = [x, y];
    let validation: [Tensor, Tensor] | undefined;
    if (validationData) {
      if (!Array.isArray(validationData) || validationData.length !== 2) {
        throw new ValueError(`fit: expected validationData as [x, y], received ${describeValue(validationData)}.`);
      }
      validation = this.checkData('fit (validationData)', validationData[0], validationData[1]);
    } else if (validationSplit > 0) {
      const split = Math.floor(x.shape[0] * (1 - validationSplit));
      if (split < 1 || split >= x.shape[0]) {
        throw new ValueError(`fit: validationSplit ${validationSplit} of ${x.shape[0]} examples leaves no training or no validation data.`);
      }
      xTrain = slice(x, 0, split);
      yTrain = slice(y, 0, split);
      validation = [slice(x, split), slice(y, split)];
    }

    const n = xTrain.shape[0];
    const batches = batchBounds(n, batchSize);
    const random = seed === undefined ? defaultRandom() : new Random(seed);
    const metricNames = compiled.metrics.map((m) => m.name);
    const order = new Int32Array(n).map((_, i) => i);
    // Each epoch shuffles the previous order in place: replaying the shuffles of the epochs before
    // initialEpoch gives the order the run had there. The global generator has no known past: no replay.
    if (shuffle && seed !== undefined && initialEpoch < epochs) for (let e = 0; e < initialEpoch; e++) random.shuffle(order);
    return runTraining(this, (xb, yb) => this.trainStep(xb, yb), {
      where: 'fit', epochs, initialEpoch, verbose, metricNames,
      callbacks: ([] as Callback[]).concat(args.callbacks ?? []),
      params: {
        epochs, initialEpoch, samples: n, steps: batches.length, batchSize,
        validationSamples: validation ? validation[0].shape[0] : 0,
        metrics: ['loss', ...metricNames, ...(validation ? ['val_loss', ...metricNames.map((m) => `val_${m}`)] : [])],
      },
      // The in-memory source of batches: rows of (xTrain, yTrain) in this epoch's order, gathered
      // into reused buffers. The shuffle waits for the first batch, after onEpochBegin.
      openEpoch: () => {
        let b = 0;
        return {
          next: () => {
            if (b === 0 && shuffle) random.shuffle(order);
            if (b === batches.length) return null;
            const [start, end] = batches[b++];
            return { x: this.gather('xb', xTrain, order, start, end), y: this.gather('yb', yTrain, order, start, end) };
          },
        };
      },
      validate: validation && (() => this.evaluateInternal(validation[0], validation[1], Math.max(batchSize, 256))),
    });
  }

  /** One training step on one batch; returns the loss (and metrics, when compiled with some). */
  async trainOnBatch(xData: InputData, yData: LabelData): Promise<number | number[]> {
    const compiled = this.assertCompiled('trainOnBatch');
    const [x, y] = this.checkData('trainOnBatch', xData, yData);
    const xb = this.toModelDtype('xb1', x);
    const r = this.trainStep(xb, y);
    const rows = x.shape[0];
    return compiled.metrics.length ? [r.loss, ...r.correct.map((c) => c / rows)] : r.loss;
  }

  /**
   * Forward (training mode) and backward on one batch, leaving dL/dw in each trainable parameter's
   * `grad`, without updating anything (layer state updates are discarded). For gradient checks
   * and diagnostics. @internal
   */
  computeGradients(x: Tensor, y: Tensor): number {
    this.assertCompiled('computeGradients');
    this.checkData('computeGradients', x, y);
    try {
      return this.forwardBackward(this.toModelDtype('xb1', x), y).loss;
    } finally {
      for (const l of this.stack) l.discardState();
    }
  }

  private trainStep(x: Tensor, y: Tensor): StepResult {
    const compiled = this.compiled!;
    let result: StepResult;
    try {
      result = this.forwardBackward(x, y);
    } catch (e) {
      for (const l of this.stack) l.discardState();
      throw e;
    }
    const trainableNow = new Set(this.trainableWeights);
    compiled.optimizer.applyGradients(compiled.parameters.filter((p) => trainableNow.has(p)));
    for (const l of this.stack) l.commitState();
    return result;
  }

  private forwardBackward(x: Tensor, y: Tensor): StepResult {
    const compiled = this.compiled!;
    // On the backend, so that a threaded one zeroes each part where it will be accumulated.
    for (const p of compiled.parameters) fillInPlace(p.grad!, 0);
    let out = x;
    for (const layer of this.stack) out = layer.forward(out, true);

    const last = this.stack[this.stack.length - 1];
    const fusable = compiled.loss.fusesWith !== null && isFusable(last) && last.activation === compiled.loss.fusesWith;
    const grad = this.buffer('dloss', out.shape, out.dtype);
    const loss = fusable
      ? compiled.loss.fromLogits(preActivation(last), out, y, grad)
      : compiled.loss.fromOutputs(out, y, grad);
    // A loss beyond float32's range counts as infinite in a float32 model, as it would in Keras,
    // which computes it in float32: the step it drives would overflow the weights.
    const asStored = out.dtype === 'float32' ? Math.fround(loss) : loss;
    if (!Number.isFinite(asStored)) throw new NonFiniteLossError(String(asStored));

    // Layers before the first one with something to learn (a Reshape or Flatten in front, frozen
    // layers) need no gradient: the backward stops there, and the layer there computes no dL/dx.
    let first = this.stack.findIndex((layer) => layer.trainableWeights.length > 0);
    if (first < 0) first = this.stack.length;
    const lastIndex = this.stack.length - 1;
    let dy: Tensor | null = fusable ? (last as unknown as FusableLayer).backwardFromPreActivation(grad, lastIndex > first) : grad;
    for (let i = lastIndex - (fusable ? 1 : 0); i >= first && dy; i--) {
      dy = this.stack[i].backward(dy, i > first);
    }
    const correct = compiled.metrics.map((m) => m.correct(out, y));
    return { loss, correct };
  }

  /**
   * Saves topology and weights, e.g. `await model.save('file://./my-model')`, with the saver that
   * Keel's entry point registers (models/saving.ts): the TF.js Layers format of src/io.
   * With `{includeOptimizer: true}` (TF.js's option), also how it was compiled and the optimizer's
   * state, so that the loaded model resumes training exactly (see io/modelArtifacts.ts).
   */
  async save(destination: string | IOHandler, config?: SaveConfig): Promise<SaveResult> {
    if (config !== undefined && (typeof config !== 'object' || config === null || Array.isArray(config))) {
      throw new ValueError(`save: expected options such as {includeOptimizer: true}, received ${describeValue(config)}.`);
    }
    checkOptions('save', config, ['includeOptimizer']);
    if (config?.includeOptimizer !== undefined && typeof config.includeOptimizer !== 'boolean') {
      throw new ValueError(`save: expected includeOptimizer to be true or false, received ${describeValue(config.includeOptimizer)}.`);
    }
    const saver = registeredModelSaver('save');
    return saver(this, destination, config);
  }

  // ---- inference ----------------------------------------------------------------------------

  /** Runs the model in inference mode on `x` (any number of examples, one included). */
  predict(xData: InputData, args: PredictArgs = {}): Tensor {
    checkOptions('predict', args, ['batchSize']);
    const { batchSize = 32 } = args;
    positiveInteger('predict', 'batchSize', batchSize);
    this.assertHasLayers('predict');
    const x = this.checkInputs('predict', xData);
    const n = x.shape[0];
    const result = empty([n, ...this.outputShape], 'float32');
    const rowSize = result.size / Math.max(n, 1);
    for (let start = 0; start < n; start += batchSize) {
      const end = Math.min(n, start + batchSize);
      // One batch of the whole input (a float32 x for a float32 model) needs no copy: layers never write their input.
      const whole = start === 0 && end === n && x.dtype === this.dtype;
      const out = this.forwardInference(whole ? x : this.sliceInto('xp', x, start, end));
      result.values.set(out.values, start * rowSize);
    }
    return result;
  }

  /**
   * Loss and metrics in inference mode, as scalar tensors: `[loss, ...metrics]` when compiled with
   * metrics, else the loss alone (TF.js's `Scalar | Scalar[]`), which destructures too.
   * Differs from Keras: TF.js returns a plain Scalar without metrics; Keel's also iterates as
   * `[loss]`, so that `const [loss, accuracy] = model.evaluate(x, y)` type-checks under strict
   * TypeScript whatever was compiled (accuracy is then undefined, as past the end of any array).
   *
   * @example const [loss, accuracy] = model.evaluate(xTest, yTest); loss.dataSync()[0];
   */
  evaluate(xData: InputData, yData: LabelData, args: EvaluateArgs = {}): EvaluateOutput {
    checkOptions('evaluate', args, ['batchSize', 'verbose']);
    const { batchSize = 32 } = args;
    positiveInteger('evaluate', 'batchSize', batchSize);
    const compiled = this.assertCompiled('evaluate');
    const [x, y] = this.checkData('evaluate', xData, yData);
    return this.evaluateOutput(this.evaluateInternal(x, y, batchSize));
  }

  private evaluateOutput(r: { loss: number; metrics: number[] }): EvaluateOutput {
    const scalar = (v: number) => new Tensor(Float32Array.of(v), []);
    return this.compiled!.metrics.length ? [scalar(r.loss), ...r.metrics.map(scalar)] : new LossScalar(Float32Array.of(r.loss), []);
  }

  // ---- datasets -----------------------------------------------------------------------------

  /**
   * Trains on a dataset of batches `{xs, ys}` that need not fit in memory, through the same loop
   * as `fit` (callbacks, History, stopTraining, logs). `dataset`: a `keel.data` dataset (e.g.
   * `keel.data.idx({images, labels}).shuffle(10000, 42).batch(32)`), a TF.js-style object with
   * `iterator()`, an async generator function, or an iterable of batches. See
   * models/datasetTraining.ts for the semantics and where they differ from TF.js.
   *
   * @example await model.fitDataset(keel.data.fromTensorSlices({xs, ys}).shuffle(1000, 1).batch(32), {epochs: 5});
   */
  async fitDataset(
    dataset: DatasetLike<DatasetBatch>, args: FitDatasetArgs<DatasetLike<DatasetBatch> | [InputData, LabelData]> = {},
  ): Promise<History> {
    const compiled = this.assertCompiled('fitDataset');
    const plan = await datasetPlan(this.datasetModel(compiled), dataset, args);
    return runTraining(this, (x, y) => this.trainStep(x, y), plan);
  }

  /**
   * Loss and metrics over a dataset of batches `{xs, ys}` (all of one pass, or `batches` of it), as
   * `evaluate` returns them. As TF.js's, and also refuses an empty dataset.
   */
  async evaluateDataset(dataset: DatasetLike<DatasetBatch>, args: EvaluateDatasetArgs = {}): Promise<EvaluateOutput> {
    checkOptions('evaluateDataset', args, ['batches', 'verbose']);
    const compiled = this.assertCompiled('evaluateDataset');
    if (args.batches !== undefined) positiveInteger('evaluateDataset', 'batches', args.batches);
    return this.evaluateOutput(await evaluateOver(this.datasetModel(compiled), 'evaluateDataset', dataset, args.batches));
  }

  private datasetModel(compiled: NonNullable<Sequential['compiled']>): DatasetModel {
    return {
      metricNames: compiled.metrics.map((m) => m.name),
      prepare: (raw, where): TrainBatch => {
        const [x, y] = this.checkBatch(where, raw);
        const n = x.shape[0];
        return { x: this.sliceInto('xb', x, 0, n), y: this.sliceInto('yb', y, 0, n, y.dtype) };
      },
      evaluateBatch: (raw, where) => {
        const [x, y] = this.checkBatch(where, raw);
        return { ...this.evaluateInternal(x, y, x.shape[0]), size: x.shape[0] };
      },
      tensorValidation: (data, batchSize) => {
        const where = 'fitDataset (validationData)';
        if (!Array.isArray(data) || data.length !== 2) {
          throw new ValueError(`${where}: expected validationData as [x, y] or a dataset of {xs, ys} batches, received ${describeValue(data)}.`);
        }
        const [x, y] = this.checkData(where, data[0], data[1]);
        return () => this.evaluateInternal(x, y, batchSize);
      },
    };
  }

  /** Checks one element of a dataset: a batch {xs, ys} the model can take. */
  private checkBatch(where: string, raw: unknown): [Tensor, Tensor] {
    const shape = `[batch, ${this.inputShape.join(', ')}]`;
    if (typeof raw !== 'object' || raw === null || !('xs' in raw) || !('ys' in raw)) {
      throw new ValueError(
        `${where}: expected each element of the dataset to be a batch {xs, ys} (xs: inputs of shape ${shape}, ys: their labels), ` +
          `received ${describeValue(raw)}. With keel.data, make elements {xs, ys} (map) and group them with .batch(n).`,
      );
    }
    try {
      return this.checkData(where, (raw as DatasetBatch).xs, (raw as DatasetBatch).ys);
    } catch (e) {
      throw withDatasetHint(e, where, e instanceof ShapeError ? `(The dataset's batches must be {xs, ys} with xs of shape ${shape}; fix the step that makes them.)` : '');
    }
  }

  private evaluateInternal(x: Tensor, y: Tensor, batchSize: number): { loss: number; metrics: number[] } {
    const compiled = this.compiled!;
    const n = x.shape[0];
    let lossSum = 0;
    const correct = compiled.metrics.map(() => 0);
    for (let start = 0; start < n; start += batchSize) {
      const end = Math.min(n, start + batchSize);
      const out = this.forwardInference(this.sliceInto('xe', x, start, end));
      const yb = this.sliceInto('ye', y, start, end);
      lossSum += compiled.loss.fromOutputs(out, yb, null) * (end - start);
      compiled.metrics.forEach((m, i) => (correct[i] += m.correct(out, yb)));
    }
    return { loss: lossSum / n, metrics: correct.map((c) => c / n) };
  }

  private forwardInference(x: Tensor): Tensor {
    let out = x;
    for (const layer of this.stack) out = layer.forward(out, false);
    return out;
  }

  // ---- input checks and buffers -------------------------------------------------------------

  /** Converts `data` (see InputData) and checks it fits the model; returns it as a Tensor. */
  private checkInputs(where: string, data: unknown): Tensor {
    const expected = this.inputShape;
    const x = toBatch(where, 'x', data, expected, (shape) => {
      if (shape.length !== expected.length + 1 || !sameShape(shape.slice(1), expected)) {
        throw new ShapeError(
          `${where}: expected x of shape ${formatShape([null, ...expected])} (a batch of inputs of shape ` +
            `${formatShape(expected)}), received ${formatShape(shape)}.` +
            (shape.length === expected.length ? ` For one example, add a batch axis: shape [1, ${expected.join(',')}].` : ''),
        );
      }
    });
    if (x.isDisposed) throw new StateError(`${where}: x was disposed; pass a tensor that is still alive.`);
    if (x.shape[0] === 0) throw new ShapeError(`${where}: x holds no examples (shape ${formatShape(x.shape)}).`);
    checkFinite(where, 'x', x, `Replace or drop the examples with missing or infinite values (impute them, or check the ` +
      `preprocessing that produced them) before ${activity(where)}.`);
    return x;
  }

  /** Converts and checks inputs and labels (see InputData, LabelData); returns them as Tensors. */
  private checkData(where: string, xData: unknown, yData: unknown): [Tensor, Tensor] {
    const x = this.checkInputs(where, xData);
    const y = toBatch(where, 'y', yData, null);
    if (y.isDisposed) throw new StateError(`${where}: y was disposed; pass a tensor that is still alive.`);
    const n = x.shape[0];
    if (y.rank === 0 || y.shape[0] !== n) {
      const perExample = y.size / n;
      throw new ShapeError(
        `${where}: x holds ${n} examples but y holds ${y.rank === 0 ? 'a single number' : `${y.shape[0]} labels`}; they must match.` +
          (y.rank === 1 && Number.isInteger(perExample) && perExample > 1
            ? ` A flat array of labels is read as one label per example; for ${perExample} values per example ` +
              `pass keel.tensor(y, [${n}, ${perExample}]).`
            : ''),
      );
    }
    checkFinite(where, 'y', y, `Fix or drop the examples whose labels are missing or infinite before ${activity(where)}.`);
    this.compiled!.loss.checkLabels(y, [n, ...this.outputShape]);
    return [x, y];
  }

  private assertCompiled(where: string) {
    if (!this.compiled) {
      throw new StateError(
        `${where}: the model is not compiled. Call model.compile({optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy']}) first` +
          ` (compile again after adding layers).`,
      );
    }
    return this.compiled;
  }

  private assertHasLayers(where: string): void {
    if (this.stack.length === 0) {
      throw new StateError(`${where}: the model has no layers; add some with model.add(layer) or sequential({layers: [...]}).`);
    }
  }

  private buffer(key: string, shape: readonly number[], dtype: DType): Tensor {
    const slot = `${key}:${shape.join('x')}:${dtype}`;
    let t = this.workspace.get(slot);
    if (!t) {
      if (this.workspace.size >= 32) this.workspace.clear();
      t = empty(shape, dtype);
      this.workspace.set(slot, t);
    }
    return t;
  }

  /** Rows order[start..end) of `t`, converted to the model's dtype, in a reused buffer. */
  private gather(key: string, t: Tensor, order: Int32Array, start: number, end: number): Tensor {
    const rowSize = t.size / t.shape[0];
    const out = this.buffer(key, [end - start, ...t.shape.slice(1)], key === 'yb' ? t.dtype : this.dtype);
    for (let i = start; i < end; i++) {
      const src = order[i] * rowSize;
      out.values.set(t.values.subarray(src, src + rowSize), (i - start) * rowSize);
    }
    return out;
  }

  private sliceInto(key: string, t: Tensor, start: number, end: number, dtype: DType = key === 'ye' ? t.dtype : this.dtype): Tensor {
    const rowSize = t.size / t.shape[0];
    const out = this.buffer(key, [end - start, ...t.shape.slice(1)], dtype);
    out.values.set(t.values.subarray(start * rowSize, end * rowSize));
    return out;
  }

  private toModelDtype(key: string, x: Tensor): Tensor {
    return x.dtype === this.dtype ? x : this.sliceInto(key, x, 0, x.shape[0]);
  }
}

/** TF.js's factory: `keel.sequential({layers: [...]})`. */
export function sequential(args?: SequentialArgs): Sequential {
  return new Sequential(args);
}

function isFusable(layer: Layer): layer is Layer & FusableLayer {
  return layer instanceof Dense || layer instanceof Activation;
}

function preActivation(layer: Layer): Tensor {
  return (layer as unknown as { preActivation(): Tensor }).preActivation();
}

/**
 * Batch boundaries. Differs from Keras: a last batch of a single example is merged into the one
 * before it, because BatchNormalization cannot train on one example.
 */
export function batchBounds(n: number, batchSize: number): [number, number][] {
  const bounds: [number, number][] = [];
  for (let start = 0; start < n; start += batchSize) bounds.push([start, Math.min(n, start + batchSize)]);
  if (bounds.length > 1 && bounds[bounds.length - 1][1] - bounds[bounds.length - 1][0] === 1) {
    bounds.pop();
    bounds[bounds.length - 1][1] = n;
  }
  return bounds;
}

function positiveInteger(where: string, name: string, v: number): void {
  if (!Number.isInteger(v) || v <= 0) throw new ValueError(`${where}: expected ${name} to be a positive integer, received ${describeValue(v)}.`);
}

/** What the caller of `where` is doing, for the end of a message: "before predicting". */
function activity(where: string): string {
  if (where.startsWith('predict')) return 'predicting';
  if (where.startsWith('evaluate')) return 'evaluating';
  return 'training';
}

/** The loss alone, as `evaluate` returns it without metrics: a scalar that destructures as `[loss]`. */
class LossScalar extends Tensor {
  *[Symbol.iterator](): Iterator<Tensor> {
    yield this;
  }
}
