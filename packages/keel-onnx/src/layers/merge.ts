/**
 * The merge layers of functional models: Add (ONNX Add, or Sum for more than two inputs), Multiply
 * (Mul), Average (Mean) and Concatenate (Concat). Elementwise merges read every input in one
 * layout: channels-first when most inputs already exist that way (the branches of a CNN), so a
 * residual connection between convolutions adds no transpose. Concatenate maps its axis to the
 * layout: Keel's channels axis (the last) is axis 1 of a channels-first tensor.
 */
import type * as keel from 'keel';
import { attr, type Layout, type TensorValue } from '../builder.js';
import type { LayerConverter } from './context.js';

/** The layout most of `inputs` already have (channels-last on a tie). */
function commonLayout(inputs: readonly TensorValue[]): Layout {
  const first = inputs.filter((x) => x.names.channelsFirst && !x.names.channelsLast).length;
  return first * 2 > inputs.length ? 'channelsFirst' : 'channelsLast';
}

function elementwise(binary: 'Add' | 'Mul', variadic: 'Sum' | 'Mean' | null, average = false): LayerConverter<keel.layers.Merge> {
  return {
    emit({ builder, layer, inputs, outputShape }) {
      const layout = commonLayout(inputs);
      const names = inputs.map((x) => builder.read(x, layout));
      let y: string;
      if (average) {
        y = builder.node('Mean', names, layer.name);
      } else if (names.length > 2 && variadic) {
        y = builder.node(variadic, names, layer.name);
      } else {
        // Left to right, as Keel adds and multiplies.
        y = names.slice(1).reduce((acc, name, i) => builder.node(binary, [acc, name], i === names.length - 2 ? layer.name : `${layer.name}/${i}`), names[0]);
      }
      return builder.value(outputShape, y, layout);
    },
  };
}

export const addConverter = elementwise('Add', 'Sum');
export const multiplyConverter = elementwise('Mul', null);
export const averageConverter = elementwise('Add', 'Mean', true);

export const concatenateConverter: LayerConverter<keel.layers.Concatenate> = {
  emit({ builder, layer, inputs, outputShape }) {
    const rank = inputs[0].rank;
    const axis = layer.axis < 0 ? rank + layer.axis : layer.axis; // with the batch axis, 1 to rank − 1
    const layout = rank <= 2 ? 'channelsLast' : commonLayout(inputs);
    const onnxAxis = layout === 'channelsLast' ? axis : axis === rank - 1 ? 1 : axis + 1;
    const y = builder.node('Concat', inputs.map((x) => builder.read(x, layout)), layer.name, [attr.int('axis', onnxAxis)]);
    return builder.value(outputShape, y, layout);
  },
};
