/**
 * `keel.callbacks`: objects that `fit` calls at the start and end of training, epochs and batches,
 * as TF.js's `tf.callbacks` and Keras's `keras.callbacks`. The per-layer diagnostics recorder is a
 * callback too, so it is here as well as under `keel.diagnostics`.
 *
 * earlyStopping, modelCheckpoint and reduceLROnPlateau follow Keras 3 (TF.js has only the first,
 * with an older rule); see each file under models/ for the exact rule and where Keel differs.
 */
export { History, CustomCallback, type Callback, type CustomCallbackArgs, type Logs, type FitParams } from './models/callbacks.js';
export { diagnostics, Diagnostics, type DiagnosticsArgs, type LayerRecord, type Distribution } from './diagnostics/index.js';
export { learningRateScheduler, LearningRateScheduler, cosineDecaySchedule, type LearningRateSchedule } from './models/learningRateScheduler.js';
export { earlyStopping, EarlyStopping, type EarlyStoppingArgs } from './models/earlyStopping.js';
export { modelCheckpoint, ModelCheckpoint, type ModelCheckpointArgs } from './models/modelCheckpoint.js';
export { reduceLROnPlateau, ReduceLROnPlateau, type ReduceLROnPlateauArgs } from './models/reduceLROnPlateau.js';
export type { MonitorMode } from './models/monitor.js';
export { renormClippingSchedule, RenormClippingScheduler, batchRenormRamp, type RenormClippingScheduleFunctions, type BatchRenormRampArgs, type ClippingFunction } from './models/renormSchedule.js';
