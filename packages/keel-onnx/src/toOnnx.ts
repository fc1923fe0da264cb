/**
 * `toOnnx(model, {foldBatchNorm, opset})`: a Keel model (Sequential or functional) as the bytes of
 * an ONNX ModelProto, for ONNX Runtime and the tools that read ONNX.
 *
 * The ONNX model takes exactly Keel's input (channels-last NHWC images, or whatever the first
 * layer takes) with a dynamic batch dimension named `batch`, and returns Keel's output; inside,
 * runs of convolution, pooling and normalization layers work on NCHW tensors, with one Transpose
 * into and one out of each run (see builder.ts). Everything is checked before any node is made: a
 * layer the exporter cannot write throws an OnnxExportError that names it.
 */
import * as keel from 'keel';
import onnxProto from 'onnx-proto';
import { GraphBuilder, TensorValue } from './builder.js';
import { converterFor, exportedClassNames, knownAncestor } from './converters.js';
import { OnnxExportError } from './errors.js';
import { graphOf, type ModelGraph } from './graph.js';

const { onnx } = onnxProto;

/** The opsets toOnnx writes: 13 (Softmax over one axis) to 21 (GroupNormalization per channel). */
export const MIN_OPSET = 13;
export const MAX_OPSET = 21;
/** The default: 17, the first with LayerNormalization, read by ONNX Runtime 1.14 and later. */
export const DEFAULT_OPSET = 17;

export interface ToOnnxOptions {
  /**
   * Fold every BatchNormalization that can be folded into its neighbouring Dense or convolution first
   * (`keel.foldBatchNorm`); the others are written as BatchNormalization nodes. Default false.
   */
  foldBatchNorm?: boolean;
  /** The ONNX opset, MIN_OPSET to MAX_OPSET. Default DEFAULT_OPSET (17). */
  opset?: number;
}

/** The IR version of the ONNX release that introduced `opset` (ONNX's versioning table). */
function irVersionFor(opset: number): number {
  if (opset <= 18) return 8; // ONNX 1.10 to 1.13
  if (opset <= 20) return 9; // ONNX 1.14, 1.15
  return 10; // ONNX 1.16
}

const VERSION = '0.1.0';

/** Throws OnnxExportError for the first layer of `graph` that cannot be written at `opset`. */
function checkLayers(graph: ModelGraph, opset: number, where: string): void {
  for (const { layer } of graph.nodes) {
    const className = typeof layer.getClassName === 'function' ? layer.getClassName() : layer.constructor.name;
    const converter = converterFor(layer);
    if (!converter) {
      const ancestor = knownAncestor(layer);
      throw new OnnxExportError(
        `${where}: layer '${layer.name}' (class ${className}${ancestor ? `, a subclass of ${ancestor}` : ''}) has no ONNX conversion: ` +
          (ancestor ? `a subclass may compute something other than ${ancestor}, so it is not written as one. ` : '') +
          `The exporter writes ${exportedClassNames().join(', ')}. Replace the layer by those, or export the part of the model without it.`,
        layer.name, className,
      );
    }
    if (layer.dtype !== 'float32') {
      throw new OnnxExportError(
        `${where}: layer '${layer.name}' (class ${className}) is ${layer.dtype}; the exporter writes float32 models. ` +
          `Build the model with float32 layers (the default) and copy the weights over.`,
        layer.name, className,
      );
    }
    const why = converter.refuse?.(layer as never, opset);
    if (why) throw new OnnxExportError(`${where}: layer '${layer.name}' (class ${className}) cannot be exported: ${why}.`, layer.name, className);
  }
}

function checkOptions(options: ToOnnxOptions): { foldBatchNorm: boolean; opset: number } {
  if (options === null || typeof options !== 'object') {
    throw new OnnxExportError(`toOnnx: expected options {foldBatchNorm?, opset?}, received ${options === null ? 'null' : typeof options}.`);
  }
  keel.util.checkOptions('toOnnx', options, ['foldBatchNorm', 'opset']);
  const { foldBatchNorm = false, opset = DEFAULT_OPSET } = options;
  if (typeof foldBatchNorm !== 'boolean') {
    throw new OnnxExportError(`toOnnx: expected foldBatchNorm to be true or false, received ${typeof foldBatchNorm} ${String(foldBatchNorm).slice(0, 40)}.`);
  }
  if (!Number.isInteger(opset) || opset < MIN_OPSET || opset > MAX_OPSET) {
    throw new OnnxExportError(
      `toOnnx: expected opset to be an integer from ${MIN_OPSET} to ${MAX_OPSET}, received ${String(opset).slice(0, 40)}; ` +
        `leave it out for ${DEFAULT_OPSET}.`,
    );
  }
  return { foldBatchNorm, opset };
}

function valueInfo(name: string, shape: readonly number[]) {
  const dims = [{ dimParam: 'batch' }, ...shape.map((d) => ({ dimValue: d }))];
  return { name, type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: dims } } } };
}

/** The ONNX ModelProto bytes of `model` (see the module comment). */
export function toOnnx(model: keel.LayersModel, options: ToOnnxOptions = {}): Uint8Array {
  const { foldBatchNorm, opset } = checkOptions(options);
  let graph = graphOf(model);
  checkLayers(graph, opset, 'toOnnx');
  if (foldBatchNorm) {
    graph = graphOf(keel.foldBatchNorm(model).model);
    checkLayers(graph, opset, 'toOnnx (after folding)');
  }

  const builder = new GraphBuilder(opset);
  const values = new Map<number, TensorValue>();
  for (const input of graph.inputs) {
    values.set(input.id, builder.value(input.shape, builder.uniqueName(input.name), 'channelsLast'));
  }
  // Reserved before any node is named, so the graph's outputs get exactly these names.
  const outputNames = graph.outputs.map((output) => builder.uniqueName(output.name));
  for (const node of graph.nodes) {
    const inputs = node.inputs.map((id) => values.get(id)!);
    const converter = converterFor(node.layer)!;
    values.set(node.output, converter.emit({ builder, layer: node.layer as never, inputs, outputShape: node.outputShape }));
  }
  const inputNames = new Set(graph.inputs.map((input) => values.get(input.id)!.names.channelsLast!));
  const renamed = new Map<string, string>();
  const outputs = graph.outputs.map((output, i) => {
    const produced = builder.read(values.get(output.id)!, 'channelsLast');
    // A graph input (a model of Dropouts only) or a tensor already output under another name is copied.
    const name = inputNames.has(produced) || renamed.has(produced)
      ? builder.nodeNamed('Identity', [renamed.get(produced) ?? produced], outputNames[i])
      : builder.renameOutput(produced, outputNames[i]);
    if (!renamed.has(produced)) renamed.set(produced, name);
    return valueInfo(name, output.shape);
  });

  const proto = onnx.ModelProto.create({
    irVersion: irVersionFor(opset),
    opsetImport: [{ domain: '', version: opset }],
    producerName: 'keel-onnx',
    producerVersion: VERSION,
    docString: `Exported from the Keel model '${model.name}'. Input and output as in Keel (channels last).`,
    graph: {
      name: model.name,
      node: builder.nodes,
      initializer: builder.initializers,
      input: graph.inputs.map((input) => valueInfo(values.get(input.id)!.names.channelsLast!, input.shape)),
      output: outputs,
    },
  });
  return onnx.ModelProto.encode(proto).finish();
}
