/**
 * `keel.callbacks`: objects that `fit` calls at the start and end of training, epochs and batches,
 * as TF.js's `tf.callbacks` and Keras's `keras.callbacks`. The per-layer diagnostics recorder is a
 * callback too, so it is here as well as under `keel.diagnostics`.
 */
export { History, CustomCallback, type Callback, type CustomCallbackArgs, type Logs, type FitParams } from './models/callbacks.js';
export { diagnostics, Diagnostics, type DiagnosticsArgs, type LayerRecord, type Distribution } from './diagnostics/index.js';
export { learningRateScheduler, LearningRateScheduler, cosineDecaySchedule, type LearningRateSchedule } from './models/learningRateScheduler.js';
