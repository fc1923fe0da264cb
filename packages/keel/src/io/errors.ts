/**
 * io's errors. ModelFormatError is defined in core/errors.ts, because layers (which io sits above)
 * throw it too when they read a layer config; it is re-exported here for io's readers.
 */
export { ModelFormatError } from '../core/errors.js';
