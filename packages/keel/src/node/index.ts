/**
 * Keel's entry point on Node.js (package.json "exports" picks it under the "node" condition): the
 * same API as ../index.ts, after the Node-only set-up that must precede the backends. Imports are
 * evaluated in order, so the flag is set before ../index.ts compiles the kernels.
 */
import '../backend/wasm/node/relaxed-simd.js';

export * from '../index.js';
