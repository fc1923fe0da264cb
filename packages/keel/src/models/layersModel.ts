/**
 * LayersModel: a graph of layers trained by backpropagation, with TF.js's Layers API (compile,
 * fit, evaluate, predict, trainOnBatch, summary, getWeights/setWeights, save, getLayer). The one
 * implementation of training behind both kinds of model: `keel.model({inputs, outputs})` builds
 * one from symbolic tensors, and a Sequential is one whose graph is a single path.
 *
 * Each training step: forward in training mode, loss, backward (gradients summed where a tensor is
 * read in several places), optimizer update, then layer state (BN moving statistics). A step that
 * fails (bad batch, non-finite loss) changes nothing.
 */
import { Tensor, type DType } from '../core/tensor.js';
import { NonFiniteLossError, ShapeError, StateError, ValueError, checkOptions, describeValue } from '../core/errors.js';
import { defaultRandom, Random } from '../core/random.js';
import { Layer, SymbolicTensor, uniqueName } from '../layers/layer.js';
import { assignWeights, type LayerVariable } from '../layers/variable.js';
import { Dense } from '../layers/dense.js';
import { Activation } from '../layers/simple.js';
import { getLoss, type Loss } from '../losses/index.js';
import { getMetric, type Metric } from '../metrics/index.js';
import { getOptimizer, type Optimizer } from '../optimizers/index.js';
import { empty, fillInPlace, slice } from '../ops/tensor.js';
import type { Callback, History } from './callbacks.js';
import { runTraining, type StepResult, type TrainBatch } from './trainingLoop.js';
import type { DatasetLike } from './datasetSource.js';
import {
  datasetPlan, evaluateOver, withDatasetHint, type DatasetModel, type EvaluateDatasetArgs, type FitDatasetArgs,
} from './datasetTraining.js';
import { formatSummary, formatGraphSummary, summaryRows, graphSummaryRows } from './summary.js';
import { registeredModelSaver, type IOHandler, type SaveConfig, type SaveResult, type TrainingConfig } from './saving.js';
import { symbolicGraph, type Graph } from './graph.js';
import { backwardGraph, forwardGraph } from './graphExecution.js';
import {
  LossScalar, Workspace, batchBounds, checkData, checkInputs, positiveInteger, type DataSpec, type InputData, type LabelData,
} from './modelData.js';

export type { InputData, LabelData } from './modelData.js';

export interface ModelArgs {
  /** The model's input(s), from `keel.input`. */
  inputs: SymbolicTensor | SymbolicTensor[];
  /** Its output: a symbolic tensor the layers computed from the inputs. */
  outputs: SymbolicTensor | SymbolicTensor[];
  name?: string;
}

export interface CompileArgs {
  optimizer: string | Optimizer;
  loss: string;
  metrics?: string[];
}

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

interface Compiled {
  optimizer: Optimizer;
  loss: Loss;
  metrics: Metric[];
  parameters: LayerVariable[];
}

export class LayersModel {
  readonly name: string;
  /** @internal The graph; null only for a Sequential without layers. */
  protected graph: Graph | null = null;
  /** @internal */
  protected compiled: Compiled | null = null;
  /** @internal */
  protected readonly workspace = new Workspace();
  /** Set to true (from a callback) to end `fit` after the current batch. */
  stopTraining = false;
  private userDefinedMetadata: Record<string, unknown> | undefined;

  /**
   * A model from `inputs` to `outputs` (TF.js's `tf.model`). Keel trains models of one output;
   * several inputs are fine. @param graph internal: the graph of a subclass (Sequential).
   */
  constructor(args: ModelArgs, graph?: Graph | null) {
    const where = graph === undefined ? 'model' : 'sequential';
    if (typeof args !== 'object' || args === null) {
      throw new ValueError(`model: expected {inputs, outputs}, e.g. keel.model({inputs: x, outputs: y}), received ${describeValue(args)}.`);
    }
    // The model's name starts many messages; one that is not a string would be printed whole there.
    if (args.name !== undefined && args.name !== null && typeof args.name !== 'string') {
      throw new ValueError(`${where}: expected name to be a string such as 'classifier', received ${describeValue(args.name)}.`);
    }
    if (graph !== undefined) {
      this.name = args.name ?? uniqueName('sequential');
      this.graph = graph;
      return;
    }
    checkOptions('model', args, ['inputs', 'outputs', 'name']);
    const inputs = symbolicList('inputs', args.inputs);
    const outputs = symbolicList('outputs', args.outputs);
    if (outputs.length !== 1) {
      throw new ValueError(
        `model: Keel builds models of one output, received ${outputs.length} (${outputs.map((o) => `'${o.name}'`).join(', ')}). ` +
          `Build one model per output (they may share the layers up to there: keel.model({inputs, outputs: out1})).`,
      );
    }
    this.name = args.name ?? uniqueName('model');
    this.graph = symbolicGraph('model', inputs, outputs);
  }

  /** @internal Replaces the graph (Sequential.add); the model must be compiled again. */
  protected setGraph(graph: Graph): void {
    this.graph = graph;
    this.compiled = null;
  }

  /**
   * Appends a layer: Sequential models only (TF.js has `add` on Sequential alone). Present on every
   * model so that code written for a Sequential takes any model.
   * Differs from TF.js: LayersModel has no `add` there; here it refuses with this message.
   */
  add(layer: Layer): void {
    throw new StateError(
      `${this.name}.add: only a Sequential takes layers one by one; a functional model is fixed by its inputs and outputs. ` +
        `Apply '${(layer as Layer | undefined)?.name ?? 'the layer'}' to the output symbolically and build a new keel.model({inputs, outputs}).`,
    );
  }

  /** The layers, in TF.js's order (a functional model's InputLayers included, as in TF.js). */
  get layers(): Layer[] {
    return [...(this.graph?.layers ?? [])];
  }

  /**
   * The layer named `name`, or at position `index` of `layers` (TF.js's `getLayer(name?, index?)`;
   * `getLayer(3)` works too).
   */
  getLayer(name?: string | number, index?: number): Layer {
    const layers = this.layers;
    if (typeof name === 'number' && index === undefined) [name, index] = [undefined, name];
    if (typeof name === 'string') {
      const found = layers.find((l) => l.name === name);
      if (!found) {
        throw new ValueError(`getLayer: ${this.name} has no layer named '${name}'; its layers are ${layers.map((l) => `'${l.name}'`).join(', ')}.`);
      }
      return found;
    }
    if (name === undefined && Number.isInteger(index) && index! >= 0 && index! < layers.length) return layers[index!];
    throw new ValueError(
      `getLayer: expected a layer name or an index in [0, ${layers.length - 1}], received ${describeValue(name ?? index)}.`,
    );
  }

  /** Shape of one example of the (first) input. */
  get inputShape(): number[] {
    const g = this.graphOrThrow('inputShape');
    return [...g.shapes[g.inputs[0]]];
  }

  /** Shapes of one example of each input, in order. */
  get inputShapes(): number[][] {
    const g = this.graphOrThrow('inputShapes');
    return g.inputs.map((id) => [...g.shapes[id]]);
  }

  /** Shape of one output example. */
  get outputShape(): number[] {
    const g = this.graphOrThrow('outputShape');
    return [...g.shapes[g.outputs[0]]];
  }

  /**
   * The model's graph of layers, read-only: its nodes in an order where each layer runs after the
   * layers it reads, each tensor's shape and reader count, and TF.js's `layers` order. A Sequential
   * is a graph of one path. Folding, population statistics, saving and the ONNX and Keras
   * exporters walk it; do not change it (build a new model instead).
   */
  getGraph(): Graph {
    return this.graphOrThrow('getGraph');
  }

  private get dtype(): DType {
    return this.graph?.nodes[0]?.layer.dtype ?? 'float32';
  }

  private get spec(): DataSpec {
    return { inputShapes: this.inputShapes, outputShape: this.outputShape };
  }

  // ---- weights ------------------------------------------------------------------------------

  get trainableWeights(): LayerVariable[] {
    return this.layers.flatMap((l) => l.trainableWeights);
  }

  get nonTrainableWeights(): LayerVariable[] {
    return this.layers.flatMap((l) => l.nonTrainableWeights);
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
    return this.layers.reduce((n, l) => n + l.countParams(), 0);
  }

  /**
   * Prints the Keras-style table of layers, output shapes and parameter counts; for a functional
   * model also Keras's "Connected to" column (`layer[node][tensor]` of each input).
   */
  summary(lineLength?: number, positions?: number[], printFn: (line: string) => void = console.log): void {
    const g = this.graphOrThrow('summary');
    const count = (vs: LayerVariable[]) => vs.reduce((n, v) => n + v.value.size, 0);
    const [trainable, nonTrainable] = [count(this.trainableWeights), count(this.nonTrainableWeights)];
    const lines = g.inputLayers.length === 0
      ? formatSummary(this.name, summaryRows(g.nodes.map((n) => n.layer), g.nodes.map((n) => g.shapes[n.output])), trainable, nonTrainable, lineLength, positions)
      : formatGraphSummary(this.name, graphSummaryRows(g), trainable, nonTrainable, lineLength, positions);
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
    this.graphOrThrow('compile');
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
    const [xs, y] = this.checkData('fit', xData, yData);
    let [xTrain, yTrain] = [xs, y];
    let validation: [Tensor[], Tensor] | undefined;
    if (validationData) {
      if (!Array.isArray(validationData) || validationData.length !== 2) {
        throw new ValueError(`fit: expected validationData as [x, y], received ${describeValue(validationData)}.`);
      }
      validation = this.checkData('fit (validationData)', validationData[0], validationData[1]);
    } else if (validationSplit > 0) {
      const total = y.shape[0];
      const split = Math.floor(total * (1 - validationSplit));
      if (split < 1 || split >= total) {
        throw new ValueError(`fit: validationSplit ${validationSplit} of ${total} examples leaves no training or no validation data.`);
      }
      xTrain = xs.map((x) => slice(x, 0, split));
      yTrain = slice(y, 0, split);
      validation = [xs.map((x) => slice(x, split)), slice(y, split)];
    }

    const n = yTrain.shape[0];
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
        validationSamples: validation ? validation[1].shape[0] : 0,
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
            return {
              xs: xTrain.map((x, i) => this.workspace.gather(`xb${i}`, x, order, start, end, this.dtype)),
              y: this.workspace.gather('yb', yTrain, order, start, end, yTrain.dtype),
            };
          },
        };
      },
      validate: validation && (() => this.evaluateInternal(validation[0], validation[1], Math.max(batchSize, 256))),
    });
  }

  /** One training step on one batch; returns the loss (and metrics, when compiled with some). */
  async trainOnBatch(xData: InputData, yData: LabelData): Promise<number | number[]> {
    const compiled = this.assertCompiled('trainOnBatch');
    const [xs, y] = this.checkData('trainOnBatch', xData, yData);
    const r = this.trainStep(this.toModelDtype('xt', xs), y);
    const rows = y.shape[0];
    return compiled.metrics.length ? [r.loss, ...r.correct.map((c) => c / rows)] : r.loss;
  }

  /**
   * Forward (training mode) and backward on one batch, leaving dL/dw in each trainable parameter's
   * `grad`, without updating anything (layer state updates are discarded). For gradient checks
   * and diagnostics. @internal
   */
  computeGradients(x: InputData, y: Tensor): number {
    this.assertCompiled('computeGradients');
    const [xs, ys] = this.checkData('computeGradients', x, y);
    try {
      return this.forwardBackward(this.toModelDtype('xt', xs), ys).loss;
    } finally {
      for (const l of this.layers) l.discardState();
    }
  }

  private trainStep(xs: Tensor[], y: Tensor): StepResult {
    const compiled = this.compiled!;
    let result: StepResult;
    try {
      result = this.forwardBackward(xs, y);
    } catch (e) {
      for (const l of this.layers) l.discardState();
      throw e;
    }
    const trainableNow = new Set(this.trainableWeights);
    compiled.optimizer.applyGradients(compiled.parameters.filter((p) => trainableNow.has(p)));
    for (const l of this.layers) l.commitState();
    return result;
  }

  private forwardBackward(xs: Tensor[], y: Tensor): StepResult {
    const compiled = this.compiled!;
    const graph = this.graph!;
    // On the backend, so that a threaded one zeroes each part where it will be accumulated.
    for (const p of compiled.parameters) fillInPlace(p.grad!, 0);
    const out = forwardGraph(graph, xs, true)[0];

    // dL/d(logits) goes straight to the output layer when the loss fuses with its activation, and
    // nothing else reads the output.
    const outputNode = graph.nodes[graph.nodes.length - 1];
    const last = outputNode?.layer;
    const fusable = compiled.loss.fusesWith !== null && last !== undefined && graph.uses[graph.outputs[0]] === 1 &&
      outputNode.output === graph.outputs[0] && isFusable(last) && last.activation === compiled.loss.fusesWith;
    const grad = this.workspace.buffer('dloss', out.shape, out.dtype);
    const loss = fusable
      ? compiled.loss.fromLogits(preActivation(last), out, y, grad)
      : compiled.loss.fromOutputs(out, y, grad);
    // A loss beyond float32's range counts as infinite in a float32 model, as it would in Keras,
    // which computes it in float32: the step it drives would overflow the weights.
    const asStored = out.dtype === 'float32' ? Math.fround(loss) : loss;
    if (!Number.isFinite(asStored)) throw new NonFiniteLossError(String(asStored));
    backwardGraph(graph, grad, fusable, (key, shape, dtype) => this.workspace.buffer(key, shape, dtype));
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
    const graph = this.graphOrThrow('predict');
    const xs = checkInputs('predict', this.spec, xData);
    const n = xs[0].shape[0];
    const result = empty([n, ...this.outputShape], 'float32');
    const rowSize = result.size / Math.max(n, 1);
    for (let start = 0; start < n; start += batchSize) {
      const end = Math.min(n, start + batchSize);
      // One batch of the whole input (a float32 x for a float32 model) needs no copy: layers never write their input.
      const batch = xs.map((x, i) => (start === 0 && end === n && x.dtype === this.dtype ? x : this.workspace.sliceInto(`xp${i}`, x, start, end, this.dtype)));
      const out = forwardGraph(graph, batch, false)[0];
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
    this.assertCompiled('evaluate');
    const [xs, y] = this.checkData('evaluate', xData, yData);
    return this.evaluateOutput(this.evaluateInternal(xs, y, batchSize));
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
    return runTraining(this, (xs, y) => this.trainStep(xs, y), plan);
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

  private datasetModel(compiled: Compiled): DatasetModel {
    return {
      metricNames: compiled.metrics.map((m) => m.name),
      prepare: (raw, where): TrainBatch => {
        const [xs, y] = this.checkBatch(where, raw);
        const n = y.shape[0];
        return {
          xs: xs.map((x, i) => this.workspace.sliceInto(`xb${i}`, x, 0, n, this.dtype)),
          y: this.workspace.sliceInto('yb', y, 0, n, y.dtype),
        };
      },
      evaluateBatch: (raw, where) => {
        const [xs, y] = this.checkBatch(where, raw);
        return { ...this.evaluateInternal(xs, y, y.shape[0]), size: y.shape[0] };
      },
      tensorValidation: (data, batchSize) => {
        const where = 'fitDataset (validationData)';
        if (!Array.isArray(data) || data.length !== 2) {
          throw new ValueError(`${where}: expected validationData as [x, y] or a dataset of {xs, ys} batches, received ${describeValue(data)}.`);
        }
        const [xs, y] = this.checkData(where, data[0], data[1]);
        return () => this.evaluateInternal(xs, y, batchSize);
      },
    };
  }

  /** Checks one element of a dataset: a batch {xs, ys} the model can take. */
  private checkBatch(where: string, raw: unknown): [Tensor[], Tensor] {
    const shapes = this.inputShapes.map((s) => `[batch, ${s.join(', ')}]`);
    const shape = shapes.length === 1 ? shapes[0] : `[${shapes.join(', ')}]`;
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

  private evaluateInternal(xs: Tensor[], y: Tensor, batchSize: number): { loss: number; metrics: number[] } {
    const compiled = this.compiled!;
    const n = y.shape[0];
    let lossSum = 0;
    const correct = compiled.metrics.map(() => 0);
    for (let start = 0; start < n; start += batchSize) {
      const end = Math.min(n, start + batchSize);
      const batch = xs.map((x, i) => this.workspace.sliceInto(`xe${i}`, x, start, end, this.dtype));
      const out = forwardGraph(this.graph!, batch, false)[0];
      const yb = this.workspace.sliceInto('ye', y, start, end, y.dtype);
      lossSum += compiled.loss.fromOutputs(out, yb, null) * (end - start);
      compiled.metrics.forEach((m, i) => (correct[i] += m.correct(out, yb)));
    }
    return { loss: lossSum / n, metrics: correct.map((c) => c / n) };
  }

  // ---- checks and buffers -------------------------------------------------------------------

  private checkData(where: string, xData: unknown, yData: unknown): [Tensor[], Tensor] {
    return checkData(where, this.spec, this.compiled!.loss, xData, yData);
  }

  private assertCompiled(where: string): Compiled {
    if (!this.compiled) {
      throw new StateError(
        `${where}: the model is not compiled. Call model.compile({optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy']}) first` +
          ` (compile again after adding layers).`,
      );
    }
    return this.compiled;
  }

  /** @internal */
  protected graphOrThrow(where: string): Graph {
    if (!this.graph) {
      throw new StateError(`${where}: the model has no layers; add some with model.add(layer) or sequential({layers: [...]}).`);
    }
    return this.graph;
  }

  private toModelDtype(key: string, xs: Tensor[]): Tensor[] {
    return xs.map((x, i) => (x.dtype === this.dtype ? x : this.workspace.sliceInto(`${key}${i}`, x, 0, x.shape[0], this.dtype)));
  }
}

/** TF.js's factory: `keel.model({inputs, outputs})` for a graph of layers. */
export function model(args: ModelArgs): LayersModel {
  return new LayersModel(args);
}

function symbolicList(name: string, v: unknown): SymbolicTensor[] {
  const list = Array.isArray(v) ? v : [v];
  if (list.length === 0 || list.some((t) => !(t instanceof SymbolicTensor))) {
    throw new ValueError(
      `model: expected ${name} to be a SymbolicTensor (from keel.input or layer.apply on one) or an array of them, received ${describeValue(v)}.`,
    );
  }
  return list as SymbolicTensor[];
}

/** dL/d(logits) can be fed straight to layers whose activation the loss fuses with. */
interface FusableLayer {
  activation: string;
  backwardFromPreActivation(dPre: Tensor, needInputGrad: boolean): Tensor | null;
}

function isFusable(layer: Layer): layer is Layer & FusableLayer {
  return layer instanceof Dense || layer instanceof Activation;
}

function preActivation(layer: Layer): Tensor {
  return (layer as unknown as { preActivation(): Tensor }).preActivation();
}
