/**
 * Sequential: a stack of layers, TF.js's `tf.sequential`. It is a LayersModel whose graph is one
 * path (models/graph.ts `chainGraph`), so it trains, evaluates, predicts and saves through the
 * same code as a functional model. Its `layers` are the stack (no InputLayer, as in TF.js).
 */
import { sameShape } from '../core/tensor.js';
import { ShapeError, ValueError, checkOptions, describeValue, formatShape } from '../core/errors.js';
import { Layer } from '../layers/layer.js';
import { chainGraph } from './graph.js';
import { LayersModel } from './layersModel.js';

export type {
  CompileArgs, DatasetBatch, DatasetLike, EvaluateArgs, EvaluateDatasetArgs, EvaluateOutput, FitArgs, FitDatasetArgs,
  InputData, LabelData, PredictArgs,
} from './layersModel.js';
export { batchBounds } from './modelData.js';

export interface SequentialArgs {
  layers?: Layer[];
  name?: string;
}

// Differs from TF.js: Sequential declares no member of its own, only overrides, so that the type
// `Sequential` (which code written before functional models names) accepts any LayersModel.
export class Sequential extends LayersModel {
  constructor(args: SequentialArgs = {}) {
    if (typeof args !== 'object' || args === null) {
      throw new ValueError(`sequential: expected {layers, name}, received ${describeValue(args)}.`);
    }
    checkOptions('sequential', args, ['layers', 'name']);
    super({ name: args.name } as never, null);
    for (const layer of args.layers ?? []) this.add(layer);
  }

  /** Appends a layer. The first layer must declare its `inputShape`. */
  override add(layer: Layer): void {
    if (!(layer instanceof Layer)) {
      throw new ValueError(`${this.name}.add: expected a layer (e.g. keel.layers.dense({units: 10})), received ${describeValue(layer)}.`);
    }
    const stack = this.graph?.layers ?? [];
    if (stack.includes(layer)) {
      throw new ValueError(`${this.name}.add: layer '${layer.name}' is already in this model; create a new layer instead.`);
    }
    if (layer.takesManyInputs) {
      throw new ValueError(`${this.name}.add: a ${layer.getClassName()} layer merges several inputs, and a Sequential has one path; build the model with keel.model({inputs, outputs}).`);
    }
    let inputShape: number[];
    if (stack.length === 0) {
      if (!layer.declaredInputShape && !layer.isBuilt) {
        throw new ShapeError(
          `${this.name}: the first layer ('${layer.name}') needs an input shape, e.g. ` +
            `keel.layers.flatten({inputShape: [28, 28]}) or keel.layers.dense({units: 10, inputShape: [784]}).`,
        );
      }
      inputShape = layer.isBuilt ? layer.inputShape : layer.declaredInputShape!;
    } else {
      inputShape = this.outputShape;
    }
    if (layer.isBuilt) {
      if (!sameShape(layer.inputShape, inputShape)) {
        throw new ShapeError(
          `${this.name}: layer '${layer.name}' was built for inputs ${formatShape([null, ...layer.inputShape])}, ` +
            `but the model feeds it ${formatShape([null, ...inputShape])}.`,
        );
      }
    } else {
      layer.build(inputShape);
    }
    const first = stack.length === 0 ? inputShape : this.inputShape;
    this.setGraph(chainGraph([...stack, layer], first));
  }
}

/** TF.js's factory: `keel.sequential({layers: [...]})`. */
export function sequential(args?: SequentialArgs): Sequential {
  return new Sequential(args);
}
