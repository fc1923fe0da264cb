/**
 * keel-onnx: export Keel models to ONNX. It lives outside the `keel` library, which has no runtime
 * dependency; this package depends on `onnx-proto` (the ONNX schema as protobufjs code) and uses
 * only Keel's public API.
 */
export { toOnnx, DEFAULT_OPSET, MIN_OPSET, MAX_OPSET, type ToOnnxOptions } from './toOnnx.js';
export { OnnxExportError } from './errors.js';
