/**
 * Keel: a TypeScript neural-network library in which batch normalization is a first-class citizen,
 * with TensorFlow.js's Layers API. This file re-exports the public API; it holds no logic.
 */
import { registerBackend, setBackend } from './backend/backend.js';
import { createJsBackend } from './backend/js/index.js';
import { createWasmBackend, wasmSupported } from './backend/wasm/index.js';
import { registerModelSaver } from './models/saving.js';
import { registerIOScheme, saveModel } from './io/router.js';
import { fileSystemScheme } from './io/fileScheme.js';

registerBackend('js', createJsBackend);
// WebAssembly SIMD kernels are the default wherever they run; 'js' stays the reference and fallback.
if (wasmSupported()) { registerBackend('wasm', () => createWasmBackend()); setBackend('wasm'); }

// model.save writes the TF.js Layers format (models sit below io, so the saver is registered here),
// and file:// URLs resolve to the file system on Node (its code is imported only when one is used).
registerModelSaver(saveModel);
registerIOScheme('file://', fileSystemScheme);

export { Tensor, type DType, type NestedArray } from './core/tensor.js';
export { KeelError, ValueError, ShapeError, StateError, NonFiniteLossError, SaveError, ThreadPoolError } from './core/errors.js';
export { DataError } from './data/errors.js';
export { ModelFormatError } from './io/errors.js';
export { setRandomSeed, Random } from './core/random.js';
export { setBackend, getBackend, listBackends, registerBackend, ready, type Backend, type BackendInfo } from './backend/backend.js';
export { tensor, zeros, ones, fill, slice, type TensorLike } from './ops/tensor.js';
export * as layers from './layers/index.js';
export * as initializers from './initializers/index.js';
export * as optimizers from './optimizers/index.js';
export { Sequential, sequential, type SequentialArgs } from './models/sequential.js';
export { LayersModel, model, type ModelArgs, type CompileArgs, type FitArgs, type EvaluateArgs, type PredictArgs } from './models/layersModel.js';
export type { FitDatasetArgs, EvaluateDatasetArgs, DatasetLike, DatasetBatch, InputData, LabelData, EvaluateOutput } from './models/layersModel.js';
export { input, InputLayer, type InputArgs } from './models/inputLayer.js';
export { SymbolicTensor } from './layers/layer.js';
export type { Graph, GraphNode } from './models/graph.js';
export { History, CustomCallback, type Callback, type CustomCallbackArgs, type Logs, type FitParams } from './models/callbacks.js';
export * as callbacks from './callbacks.js';
export { LOSSES, type LossName } from './losses/index.js';
export { ACTIVATIONS, type ActivationName } from './ops/activations.js';
export * as zoo from './models/zoo.js';
export { recomputeBatchNormStatistics, foldBatchNorm, type FoldResult, type RecomputeBatchNormStatisticsArgs, type RecomputedStatistics } from './inference/index.js';
export * as inference from './inference/index.js';
export * as diagnostics from './diagnostics/index.js';
export * as data from './data/index.js';
export * as io from './io/index.js';
export * as util from './util.js';
export { loadLayersModel } from './io/index.js';
