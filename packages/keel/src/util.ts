/**
 * `keel.util`: small helpers that Keel's own packages and applications share with the library, as
 * TF.js's `tf.util`: checking option objects and suggesting the name a typo meant.
 */
export { checkOptions, closest as closestName, formatShape } from './core/errors.js';
