/**
 * `model.weights.h5` in Keras 3's layout, through h5wasm (the HDF5 C library compiled to
 * WebAssembly, on its in-memory file system, so that this runs in a browser too):
 *
 * ```
 * /layers/<key>/vars          group, attribute name = the layer's name
 * /layers/<key>/vars/0, 1...  float32 datasets, the layer's variables in Keras's order
 * /vars                       group, attribute name = the model's name (a Sequential has no variables of its own)
 * /optimizer/vars/0, 1...     the optimizer's variables, when Keras saved a compiled model (not read: see docs/keras.md)
 * ```
 * Keras writes a `vars` group for every layer, with or without weights; so does Keel.
 */
import * as h5wasm from 'h5wasm';
import { KeelError, ModelFormatError } from 'keel';

export interface LayerVars {
  /** The layer's h5 key (`dense_1`). */
  key: string;
  /** The layer's own name, stored as the `vars` group's `name` attribute. */
  layerName: string;
  values: { shape: number[]; data: Float32Array }[];
}

/** A dataset found in the file, read only once its shape has been checked. */
export interface StoredVar {
  shape: number[];
  dtype: string;
  read(): Float32Array;
}

let fileCounter = 0;

async function withFile<T>(bytes: Uint8Array | null, fn: (path: string) => T): Promise<T> {
  await h5wasm.ready;
  const fs = h5wasm.FS!;
  const path = `/keel-keras-${++fileCounter}-${Math.random().toString(36).slice(2)}.h5`;
  if (bytes) fs.writeFile(path, bytes);
  try {
    return fn(path);
  } finally {
    try {
      fs.unlink(path);
    } catch {
      // the file was never created (h5wasm refused to open it)
    }
  }
}

/** The bytes of a weights file for these layers. */
export async function writeWeightsFile(modelName: string, layers: readonly LayerVars[]): Promise<Uint8Array> {
  return withFile(null, (path) => {
    const file = new h5wasm.File(path, 'w');
    try {
      const root = file.create_group('layers');
      for (const layer of layers) {
        const vars = root.create_group(layer.key).create_group('vars');
        vars.create_attribute('name', layer.layerName);
        layer.values.forEach((v, i) => {
          vars.create_dataset({ name: String(i), data: v.data, shape: v.shape, dtype: '<f' });
        });
      }
      file.create_group('vars').create_attribute('name', modelName);
    } finally {
      file.close();
    }
    return h5wasm.FS!.readFile(path);
  });
}

const FIX = 'Save the model again with Keras (model.save("model.keras")) and load that file.';

/**
 * The variables of each layer group of a weights file, by h5 key, their values not yet read.
 * `read` calls `fn` with them while the file is open. ModelFormatError if the bytes are not HDF5 or
 * the file holds anything but Keras 3's groups.
 */
export async function readWeightsFile<T>(bytes: Uint8Array, fn: (layers: Map<string, StoredVar[]>) => T): Promise<T> {
  return withFile(bytes, (path) => {
    const notHdf5 = (e: unknown) =>
      new ModelFormatError(`model.weights.h5: not an HDF5 file that can be opened (${String((e as Error)?.message ?? e).slice(0, 200)}). ${FIX}`);
    let file: h5wasm.File;
    try {
      file = new h5wasm.File(path, 'r');
    } catch (e) {
      throw notHdf5(e);
    }
    let layers: Map<string, StoredVar[]>;
    try {
      // h5wasm opens some damaged files without complaint and fails on the first read instead.
      layers = listLayers(file);
    } catch (e) {
      try {
        file.close();
      } catch {
        // a file that did not open has nothing to close
      }
      throw e instanceof ModelFormatError ? e : notHdf5(e);
    }
    try {
      return fn(layers);
    } catch (e) {
      throw e instanceof KeelError ? e : notHdf5(e);
    } finally {
      file.close();
    }
  });
}

function group(entity: h5wasm.Entity | null, where: string): h5wasm.Group {
  if (!(entity instanceof h5wasm.Group)) {
    throw new ModelFormatError(`model.weights.h5: expected a group at '${where}', received ${entity ? entity.constructor.name : 'nothing'}. ${FIX}`);
  }
  return entity;
}

function listLayers(file: h5wasm.File): Map<string, StoredVar[]> {
  for (const key of file.keys()) {
    if (key !== 'layers' && key !== 'vars' && key !== 'optimizer') {
      throw new ModelFormatError(
        `model.weights.h5: unexpected top-level entry '${key.slice(0, 80)}'; expected only 'layers', 'vars' and 'optimizer', as Keras 3 writes for a Sequential. ${FIX}`,
      );
    }
  }
  const own = file.keys().includes('vars') ? group(file.get('vars'), '/vars') : undefined;
  if (own && own.keys().length > 0) {
    throw new ModelFormatError(`model.weights.h5: '/vars' holds ${own.keys().length} variables, but a Sequential model has none of its own; extra weights. ${FIX}`);
  }
  const out = new Map<string, StoredVar[]>();
  if (!file.keys().includes('layers')) return out;
  const layers = group(file.get('layers'), '/layers');
  for (const key of layers.keys()) {
    const layer = group(layers.get(key), `/layers/${key}`);
    const children = layer.keys();
    if (children.some((c) => c !== 'vars')) {
      throw new ModelFormatError(
        `model.weights.h5: '/layers/${key.slice(0, 80)}' holds ${children.filter((c) => c !== 'vars').map((c) => `'${c.slice(0, 40)}'`).join(', ')}; ` +
          `expected only 'vars' (the layer classes Keel reads have no sub-layers). ${FIX}`,
      );
    }
    if (!children.includes('vars')) {
      out.set(key, []);
      continue;
    }
    const vars = group(layer.get('vars'), `/layers/${key}/vars`);
    const names = vars.keys();
    // Keras names a layer's variables 0, 1, ... n-1; anything else is not its layout.
    const expected = names.map((_, i) => String(i));
    const sorted = [...names].sort((a, b) => Number(a) - Number(b));
    if (sorted.some((n, i) => n !== expected[i])) {
      throw new ModelFormatError(
        `model.weights.h5: '/layers/${key}/vars' holds ${names.slice(0, 10).map((n) => `'${n.slice(0, 40)}'`).join(', ')}; expected variables named 0 to ${names.length - 1}. ${FIX}`,
      );
    }
    out.set(key, sorted.map((name) => storedVar(vars.get(name), `/layers/${key}/vars/${name}`)));
  }
  return out;
}

function storedVar(entity: h5wasm.Entity | null, where: string): StoredVar {
  if (!(entity instanceof h5wasm.Dataset)) {
    throw new ModelFormatError(`model.weights.h5: expected a dataset at '${where}', received ${entity ? entity.constructor.name : 'nothing'}. ${FIX}`);
  }
  const shape = entity.shape ?? [];
  const dtype = typeof entity.dtype === 'string' ? entity.dtype : JSON.stringify(entity.dtype);
  return {
    shape,
    dtype,
    read() {
      if (dtype !== '<f') {
        throw new ModelFormatError(`model.weights.h5: '${where}' holds values of HDF5 type ${dtype.slice(0, 40)}; expected little-endian float32 ('<f'), as Keras writes a float32 model. ${FIX}`);
      }
      // Keras writes plain contiguous datasets; a compressed one could inflate far beyond the file's size.
      if (entity.filters.length > 0) {
        throw new ModelFormatError(`model.weights.h5: '${where}' is stored with HDF5 filters (${entity.filters.map((f) => f.name).join(', ').slice(0, 80)}); expected uncompressed data, as Keras writes. ${FIX}`);
      }
      const value = entity.value;
      const size = shape.reduce((a, b) => a * b, 1);
      if (!(value instanceof Float32Array) || value.length !== size) {
        throw new ModelFormatError(`model.weights.h5: '${where}' could not be read as ${size} float32 values. ${FIX}`);
      }
      return value;
    },
  };
}
