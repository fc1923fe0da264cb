/**
 * An ONNX graph under construction: nodes, initializers (the weights) and the tensors flowing
 * between them, each known in one or both layouts.
 *
 * Keel's images are channels-last (NHWC), ONNX's convolutions, pooling and normalizations want
 * channels first (NCHW). A `TensorValue` remembers the ONNX name of each layout it has been made in,
 * and `read(value, layout)` adds a Transpose only the first time a layout is asked for, so a run of
 * NCHW layers (conv → BN → relu → pool → conv ...) is transposed once on the way in and once on the
 * way out, and a tensor read in both layouts is transposed once.
 */
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;
type INodeProto = onnxProto.onnx.INodeProto;
type ITensorProto = onnxProto.onnx.ITensorProto;
type IAttributeProto = onnxProto.onnx.IAttributeProto;

/** Where the channels are: last (Keel's NHWC, and every rank-2 tensor) or at axis 1 (ONNX's NCHW). */
export type Layout = 'channelsLast' | 'channelsFirst';

/**
 * A tensor of the Keel model: its shape per example as Keel sees it (channels last, batch axis
 * excluded) and its ONNX name in each layout made so far.
 */
export class TensorValue {
  constructor(readonly shape: readonly number[], readonly names: Partial<Record<Layout, string>>) {}

  /** Rank with the batch axis. Up to 2 the two layouts are the same tensor. */
  get rank(): number {
    return this.shape.length + 1;
  }
}

/** The permutation that moves the channels of a channels-last tensor of `rank` to axis 1. */
export function toChannelsFirst(rank: number): number[] {
  return [0, rank - 1, ...Array.from({ length: rank - 2 }, (_, i) => i + 1)];
}

/** The inverse of `toChannelsFirst`. */
export function toChannelsLast(rank: number): number[] {
  return [0, ...Array.from({ length: rank - 2 }, (_, i) => i + 2), 1];
}

export const attr = {
  int: (name: string, i: number): IAttributeProto => ({ name, type: onnx.AttributeProto.AttributeType.INT, i }),
  float: (name: string, f: number): IAttributeProto => ({ name, type: onnx.AttributeProto.AttributeType.FLOAT, f }),
  ints: (name: string, ints: readonly number[]): IAttributeProto => ({ name, type: onnx.AttributeProto.AttributeType.INTS, ints: [...ints] }),
};

const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT64 = onnx.TensorProto.DataType.INT64;

/** Little-endian bytes, as ONNX's raw_data holds them whatever the machine. */
function float32Bytes(values: ArrayLike<number>): Uint8Array {
  const bytes = new Uint8Array(values.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i], true);
  return bytes;
}

function int64Bytes(values: readonly number[]): Uint8Array {
  const bytes = new Uint8Array(values.length * 8);
  const view = new DataView(bytes.buffer);
  values.forEach((v, i) => view.setBigInt64(i * 8, BigInt(v), true));
  return bytes;
}

export class GraphBuilder {
  readonly nodes: INodeProto[] = [];
  readonly initializers: ITensorProto[] = [];
  private readonly names = new Set<string>();
  private readonly int64Constants = new Map<string, string>();

  constructor(readonly opset: number) {}

  /** `base`, or `base_1`, `base_2`... the first that is not taken; reserved from then on. */
  uniqueName(base: string): string {
    const clean = base.replace(/[^A-Za-z0-9_./:-]/g, '_') || 'tensor';
    let name = clean;
    for (let n = 1; this.names.has(name); n++) name = `${clean}_${n}`;
    this.names.add(name);
    return name;
  }

  /** Adds a node of `opType` on `inputs`; returns the name of its (first) output, `hint` based. */
  node(opType: string, inputs: readonly string[], hint: string, attributes: IAttributeProto[] = []): string {
    return this.nodeNamed(opType, inputs, this.uniqueName(hint), attributes);
  }

  /** A node whose output is `output`, a name already reserved with `uniqueName`. */
  nodeNamed(opType: string, inputs: readonly string[], output: string, attributes: IAttributeProto[] = []): string {
    this.nodes.push({ opType, input: [...inputs], output: [output], name: output, attribute: attributes });
    return output;
  }

  /**
   * Gives the tensor `from`, made by a node, the reserved name `to` (a graph output's), in the node
   * that makes it and in those that read it.
   */
  renameOutput(from: string, to: string): string {
    for (const node of this.nodes) {
      node.output = node.output!.map((name) => (name === from ? to : name));
      node.input = node.input!.map((name) => (name === from ? to : name));
      if (node.name === from) node.name = to;
    }
    return to;
  }

  /** A float32 weight of shape `dims`. */
  weight(hint: string, values: ArrayLike<number>, dims: readonly number[]): string {
    const name = this.uniqueName(hint);
    this.initializers.push({ name, dataType: FLOAT, dims: [...dims], rawData: float32Bytes(values) });
    return name;
  }

  /** A constant int64 vector (shapes, axes), shared between nodes that use the same values. */
  int64(values: readonly number[]): string {
    const key = values.join(',');
    let name = this.int64Constants.get(key);
    if (!name) {
      name = this.uniqueName(`const_i64_${values.map((v) => (v < 0 ? `m${-v}` : v)).join('_')}`);
      this.initializers.push({ name, dataType: INT64, dims: [values.length], rawData: int64Bytes(values) });
      this.int64Constants.set(key, name);
    }
    return name;
  }

  /** A float32 scalar constant (ε of a decomposition, for example). */
  scalar(hint: string, value: number): string {
    return this.weight(hint, [value], []);
  }

  /** The ONNX name of `value` in `layout`, transposing (once) from the layout it exists in. */
  read(value: TensorValue, layout: Layout): string {
    const have = value.names[layout];
    if (have) return have;
    const [other] = Object.entries(value.names) as [Layout, string][];
    const perm = layout === 'channelsFirst' ? toChannelsFirst(value.rank) : toChannelsLast(value.rank);
    const name = this.node('Transpose', [other[1]], `${other[1]}_${layout === 'channelsFirst' ? 'nchw' : 'nhwc'}`, [attr.ints('perm', perm)]);
    value.names[layout] = name;
    return name;
  }

  /** The value of a tensor named `name` in `layout` (both layouts at once when rank ≤ 2). */
  value(shape: readonly number[], name: string, layout: Layout): TensorValue {
    return new TensorValue(shape, shape.length + 1 <= 2 ? { channelsLast: name, channelsFirst: name } : { [layout]: name });
  }

  /** ReduceMean over `axes` keeping them: its axes are an attribute until opset 17, an input from 18. */
  reduceMean(input: string, axes: readonly number[], hint: string): string {
    return this.opset >= 18
      ? this.node('ReduceMean', [input, this.int64(axes)], hint, [attr.int('keepdims', 1)])
      : this.node('ReduceMean', [input], hint, [attr.ints('axes', axes), attr.int('keepdims', 1)]);
  }
}
