/**
 * Checks for untrusted values read from a model file's JSON. Each returns the value with its type
 * narrowed, or throws ModelFormatError naming where the value was (`where`), what was expected and
 * what was received (shortened, so that a hostile file cannot flood the message).
 */
import { ModelFormatError, describeValue } from '../core/errors.js';

/** The longest rendering `describe` returns. */
const DESCRIBE_LENGTH = 80;
/** How deep `describe` follows nested arrays and objects (a cyclic value stops here too). */
const DESCRIBE_DEPTH = 16;

/**
 * A short, safe rendering of an untrusted value for an error message: its JSON, cut at 80
 * characters. The JSON is written piece by piece and stops once it is long enough, so that a
 * weights array of a million numbers costs as little as a single number.
 */
export function describe(v: unknown): string {
  if (v === undefined || typeof v === 'function' || typeof v === 'symbol' || typeof v === 'bigint') return describeValue(v);
  const out = { text: '' };
  try {
    writeJson(v, 0, out);
  } catch {
    return describeValue(v); // a getter or a proxy that throws
  }
  if (out.text.length <= DESCRIBE_LENGTH) return out.text;
  // An array too long to show says its shape instead: `a nested array of shape [5000,28,28] ...`.
  return Array.isArray(v) ? describeValue(v) : `${out.text.slice(0, DESCRIBE_LENGTH - 3)}...`;
}

/** Appends JSON.stringify(v) to `out.text`, stopping as soon as the text is longer than needed. */
function writeJson(v: unknown, depth: number, out: { text: string }): void {
  if (out.text.length > DESCRIBE_LENGTH) return;
  if (v === null || typeof v === 'boolean') { out.text += String(v); return; }
  if (typeof v === 'number') { out.text += Number.isFinite(v) ? String(v) : 'null'; return; }
  if (typeof v === 'string') { out.text += JSON.stringify(v.slice(0, DESCRIBE_LENGTH)); return; }
  if (typeof v !== 'object') { out.text += describeValue(v); return; }
  if (depth >= DESCRIBE_DEPTH) { out.text += Array.isArray(v) ? '[...' : '{...'; return; }
  if (Array.isArray(v)) {
    out.text += '[';
    for (let i = 0; i < v.length && out.text.length <= DESCRIBE_LENGTH; i++) {
      if (i > 0) out.text += ',';
      const e: unknown = v[i];
      // As JSON.stringify: what JSON cannot hold becomes null inside an array.
      if (e === undefined || typeof e === 'function' || typeof e === 'symbol') out.text += 'null';
      else writeJson(e, depth + 1, out);
    }
    out.text += ']';
    return;
  }
  const isPlain = Object.getPrototypeOf(v) === Object.prototype || Object.getPrototypeOf(v) === null;
  if (!isPlain) { out.text += describeValue(v); return; } // a typed array or a tensor is not dumped value by value
  out.text += '{';
  let first = true;
  for (const key in v) {
    if (out.text.length > DESCRIBE_LENGTH) break;
    if (!Object.prototype.hasOwnProperty.call(v, key)) continue;
    const e = (v as Record<string, unknown>)[key];
    if (e === undefined || typeof e === 'function' || typeof e === 'symbol') continue;
    out.text += `${first ? '' : ','}${JSON.stringify(key.slice(0, DESCRIBE_LENGTH))}:`;
    first = false;
    writeJson(e, depth + 1, out);
  }
  out.text += '}';
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
