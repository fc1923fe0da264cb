import { ValueError } from '../core/errors.js';

/**
 * A model file that cannot be read: malformed JSON, a manifest that disagrees with the topology,
 * truncated or oversized weights, unknown layer classes, paths leaving the model's folder...
 * Loading never returns a half-built model: it throws this (or another KeelError) instead.
 */
export class ModelFormatError extends ValueError {}
