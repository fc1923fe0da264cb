/** Errors raised while reading data sets. */
import { KeelError } from '../core/errors.js';

/**
 * A data file that is missing, unreadable or not in the expected format. The message names the
 * file, what was expected, what was found, and what to do.
 */
export class DataError extends KeelError {}
