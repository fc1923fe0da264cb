// AssemblyScript entry point: every kernel the wasm backend calls (see ../kernels.ts).
export { gemm, gemmStrided, gemmScratchFloats } from './gemm';
export { addBias, addVectors, addBiasActivation, columnSums, fillValue, findNonFinite, unary, unaryGrad, softmax, softmaxGrad } from './elementwise';
export {
  batchNormTrain, batchNormTrainStrided, batchNormGrad, batchNormGradStrided, batchNormInfer,
  batchNormRowsSums, batchNormRowsSquares, batchNormRowsNormalize, batchNormRowsGradSums, batchNormRowsGradApply,
} from './batchNorm';
export { sgdUpdate, adamUpdate, rmspropUpdate, nadamUpdate } from './optimizers';
export { im2col, col2im, maxPool, maxPoolGrad, avgPool, avgPoolGrad, depthwiseConv2d, depthwiseConv2dBackpropInput, depthwiseConv2dBackpropFilter } from './conv';
export { groupNorm, groupNormGrad, groupNormGradPartial, groupNormGradReduce } from './normalization';
