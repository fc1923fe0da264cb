/**
 * Short renderings of values for error messages. An error names what it received, but what it
 * received may be 55,000 images: `String(x)` of those is 170 MB. `describeValue` says what a value
 * is (type, length, the shape its first elements suggest) in about a hundred characters, whatever
 * its size, and looks at no more than one path down a nested array.
 *
 * This file imports nothing, so that every other file in core may use it.
 */

/** The longest description `describeValue` returns. */
const MAX_LENGTH = 200;
/** How deep a nested array is followed (a cyclic array stops here too). */
const MAX_DEPTH = 32;

/** Formats a shape the way Keras prints it: `[32,784]`. A shape a user got wrong is described instead. */
export function formatShape(shape: readonly (number | null)[]): string {
  if (!Array.isArray(shape) || shape.length > MAX_DEPTH) return describeValue(shape);
  return `[${shape.map((d) => (d === null ? 'null' : typeof d === 'number' ? String(d) : describe(d, 3))).join(',')}]`;
}

/** Where flat index `i` of a row-major array of `shape` is, as nested-array indexing: `[1][0][5]`. */
export function formatIndex(i: number, shape: readonly number[]): string {
  const index: number[] = new Array(shape.length);
  for (let a = shape.length - 1; a >= 0; a--) {
    index[a] = i % shape[a];
    i = Math.floor(i / shape[a]);
  }
  return index.map((k) => `[${k}]`).join('');
}

/**
 * What a value is, for an error message, never longer than about 200 characters:
 * `a nested array of shape [55000,28,28] (inferred from its first elements) holding numbers`,
 * `a Float32Array of 784 values`, `Tensor(shape=[8,4], dtype=float32)`, `'relu'`, `undefined`.
 */
export function describeValue(v: unknown): string {
  const s = describe(v, 0);
  return s.length > MAX_LENGTH ? `${s.slice(0, MAX_LENGTH - 1)}…` : s;
}

/** A string as a quoted name, cut short when long: `'relu'`, `'aaaa…' (a string of 10000 characters)`. */
export function quoteString(s: string, max = 60): string {
  const escaped = JSON.stringify(s.length > max ? s.slice(0, max) : s).slice(1, -1);
  return s.length > max ? `'${escaped}…' (a string of ${s.length} characters)` : `'${escaped}'`;
}

function describe(v: unknown, depth: number): string {
  if (depth > 4) return Array.isArray(v) ? 'an array' : typeof v;
  switch (typeof v) {
    case 'undefined': return 'undefined';
    case 'number': case 'boolean': return String(v);
    case 'bigint': return `${v}n`;
    case 'string': return quoteString(v);
    case 'symbol': return quoteString(v.toString(), 40).slice(1, -1);
    case 'function': return describeFunction(v as (...args: unknown[]) => unknown);
  }
  if (v === null) return 'null';
  if (Array.isArray(v)) return describeArray(v, depth);
  if (ArrayBuffer.isView(v)) {
    if (v instanceof DataView) return `a DataView of ${v.byteLength} bytes`;
    return `${article(className(v))} ${className(v)} of ${(v as unknown as ArrayLike<unknown>).length} values`;
  }
  if (v instanceof ArrayBuffer) return `an ArrayBuffer of ${v.byteLength} bytes`;
  if (isTensorLike(v)) {
    const t = v as { shape: number[]; dtype: string; isDisposed?: boolean };
    return `${className(v)}(shape=${formatShape(t.shape)}, dtype=${String(t.dtype)}${t.isDisposed === true ? ', disposed' : ''})`;
  }
  if (typeof (v as { then?: unknown }).then === 'function') return `a Promise (did you forget await?)`;
  if (v instanceof Map || v instanceof Set) return `${article(className(v))} ${className(v)} of ${v.size} entries`;
  const name = className(v);
  if (name !== 'Object' && name !== '') return `an object of class ${name}`;
  const keys = Object.keys(v as object);
  if (keys.length === 0) return 'an empty object {}';
  const shown = keys.slice(0, 5).map((k) => (k.length > 30 ? `${k.slice(0, 30)}…` : k));
  return `an object with keys {${shown.join(', ')}${keys.length > 5 ? `, … (${keys.length} keys)` : ''}}`;
}

function describeArray(v: unknown[], depth: number): string {
  if (v.length === 0) return 'an empty array []';
  // The shape the first elements suggest: [v.length, v[0].length, v[0][0].length, ...].
  const shape: number[] = [];
  let leaf: unknown = v;
  while (Array.isArray(leaf) && leaf.length > 0 && shape.length < MAX_DEPTH) {
    shape.push(leaf.length);
    leaf = leaf[0];
  }
  if (shape.length === 1) {
    // A few elements that are not arrays are worth showing one by one (validationData: [x]).
    if (v.length <= 4 && depth < 2) {
      const shown = `[${v.map((e) => describe(e, depth + 1)).join(', ')}]`;
      if (shown.length <= 120) return shown;
    }
    if (typeof leaf === 'number') return `an array of ${v.length} numbers`;
    return `an array of ${v.length} elements, the first ${describe(leaf, depth + 2)}`;
  }
  const holding = typeof leaf === 'number' ? 'numbers'
    : Array.isArray(leaf) ? `arrays deeper than ${MAX_DEPTH} levels (a cyclic array?)`
    : `${describe(leaf, depth + 2)} first`;
  return `a nested array of shape ${formatShape(shape)} (inferred from its first elements) holding ${holding}`;
}

function describeFunction(f: (...args: unknown[]) => unknown): string {
  const name = f.name ? ` ${f.name.length > 40 ? `${f.name.slice(0, 40)}…` : f.name}` : '';
  let isClass = false;
  try {
    isClass = /^class\b/.test(Function.prototype.toString.call(f));
  } catch {
    // Some proxies refuse to be printed; they are then described as functions.
  }
  return isClass ? `the class${name}, not an instance of it` : `a function${name}`;
}

/** Keel's and TF.js's tensors alike: an object with a numeric `shape` array and a `dtype` string. */
export function isTensorLike(v: unknown): boolean {
  if (typeof v !== 'object' || v === null) return false;
  const t = v as { shape?: unknown; dtype?: unknown };
  return Array.isArray(t.shape) && t.shape.length <= MAX_DEPTH && t.shape.every((d) => typeof d === 'number') && typeof t.dtype === 'string';
}

function className(v: unknown): string {
  try {
    const name = (v as { constructor?: { name?: unknown } }).constructor?.name;
    return typeof name === 'string' ? (name.length > 40 ? `${name.slice(0, 40)}…` : name) : '';
  } catch {
    return '';
  }
}

function article(word: string): string {
  return /^(?:[aeio]|u(?!int))/i.test(word) ? 'an' : 'a'; // a Uint8Array, an Int32Array
}
