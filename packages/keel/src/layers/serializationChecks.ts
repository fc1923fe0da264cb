/**
 * Checks for untrusted values read from a model file's JSON. Each returns the value with its type
 * narrowed, or throws ModelFormatError naming where the value was (`where`), what was expected and
 * what was received (shortened, so that a hostile file cannot flood the message).
 */
import { ModelFormatError } from '../core/errors.js';

/** A short, safe rendering of an untrusted value for an error message. */
export function describe(v: unknown): string {
  let s: string | undefined;
  try {
    s = JSON.stringify(v);
  } catch {
    return `a ${Array.isArray(v) ? 'nested array' : typeof v} too deep to print`;
  }
  return s === undefined ? String(v) : s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

export function object(v: unknown, where: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new ModelFormatError(`${where}: expected an object, received ${describe(v)}.`);
  }
  return v as Record<string, unknown>;
}

export function string(v: unknown, where: string): string {
  if (typeof v !== 'string') throw new ModelFormatError(`${where}: expected a string, received ${describe(v)}.`);
  return v;
}

export function boolean(v: unknown, where: string): boolean {
  if (typeof v !== 'boolean') throw new ModelFormatError(`${where}: expected true or false, received ${describe(v)}.`);
  return v;
}

export function number(v: unknown, where: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ModelFormatError(`${where}: expected a finite number, received ${describe(v)}.`);
  return v;
}

export function integer(v: unknown, where: string): number {
  if (!Number.isSafeInteger(v)) throw new ModelFormatError(`${where}: expected an integer, received ${describe(v)}.`);
  return v as number;
}

/** Dimensions are capped at 2^31 − 1 (as TF.js's int32 shapes); anything larger cannot be real. */
export function positiveInteger(v: unknown, where: string): number {
  if (!Number.isSafeInteger(v) || (v as number) <= 0 || (v as number) > 0x7fffffff) {
    throw new ModelFormatError(`${where}: expected a positive integer, received ${describe(v)}.`);
  }
  return v as number;
}

/** `[null, d1, ...]` (batch axis first, at most 8 axes) to `[d1, ...]`. */
export function batchShape(v: unknown, where: string): number[] {
  if (!Array.isArray(v) || v.length < 2 || v.length > 8 || (v[0] !== null && !Number.isSafeInteger(v[0]))) {
    throw new ModelFormatError(`${where}: expected [null, d1, ...] (batch axis first, at most 8 axes), received ${describe(v)}.`);
  }
  return v.slice(1).map((d, i) => positiveInteger(d, `${where}[${i + 1}]`));
}

export function parseDtype(v: unknown, where: string): 'float32' | 'float64' | undefined {
  if (v === undefined || v === null) return undefined;
  // Keras 3 writes a DTypePolicy object: {class_name: 'DTypePolicy', config: {name: 'float32'}}.
  const name = typeof v === 'object' && !Array.isArray(v) ? (v as { config?: { name?: unknown } }).config?.name : v;
  if (name === 'float32' || name === 'float64') return name;
  throw new ModelFormatError(`${where}: expected 'float32' (or 'float64'), received ${describe(v)}.`);
}
