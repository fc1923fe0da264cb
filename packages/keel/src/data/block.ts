/**
 * Examples held as columns: for each key of the elements, the rows of `length` examples in one
 * typed array (an IDX file's bytes, as read). The IDX source gives chunks of these, and `shuffle`
 * and `batch` work on them row by row, so that no example becomes an object of its own on the way
 * from the file to a batch: no allocation and no garbage per example. Any step that shows elements
 * to user code (`map`, iteration, `toArray`) materializes them, with the values and order the
 * columns stand for, so that results never depend on which form a chunk had.
 */
import { Tensor } from '../core/tensor.js';

export type ColumnData = Uint8Array | Float32Array;

/** One key of the elements: row i is `data[i·rowSize, (i+1)·rowSize)`, times `scale`. */
export interface Column {
  key: string;
  data: ColumnData;
  /** Shape of one row; [] for a number (a label). */
  rowShape: readonly number[];
  rowSize: number;
  /** Factor applied to the stored values when they become floats (1/255 for scaled pixels). */
  scale: number;
}

export class Block {
  constructor(readonly length: number, readonly columns: readonly Column[]) {}

  /** Rows [start, end) as views (no copy). */
  slice(start: number, end: number): Block {
    return new Block(end - start, this.columns.map((c) => ({ ...c, data: c.data.subarray(start * c.rowSize, end * c.rowSize) })));
  }

  /** An empty block of `length` rows with the columns of this one, for a step to fill. */
  emptyLike(length: number): Block {
    return new Block(length, this.columns.map((c) => ({
      ...c, data: c.data instanceof Float32Array ? new Float32Array(length * c.rowSize) : new Uint8Array(length * c.rowSize),
    })));
  }

  /** Copies row `from` of `source` (a block of the same columns) into row `to` of this one. */
  copyRow(to: number, source: Block, from: number): void {
    for (let k = 0; k < this.columns.length; k++) {
      const size = this.columns[k].rowSize;
      const src = source.columns[k].data;
      if (size === 1) this.columns[k].data[to] = src[from];
      else this.columns[k].data.set(src.subarray(from * size, (from + 1) * size), to * size);
    }
  }

  /** The elements: `{key: Tensor of rowShape, or a number}` per row, as a source of elements would give them. */
  materialize(): Record<string, Tensor | number>[] {
    const out = new Array<Record<string, Tensor | number>>(this.length);
    for (let i = 0; i < this.length; i++) {
      const element: Record<string, Tensor | number> = {};
      for (const c of this.columns) {
        if (c.rowShape.length === 0) {
          element[c.key] = c.data[i] * c.scale;
        } else {
          element[c.key] = new Tensor(toFloats(c.data, i * c.rowSize, c.rowSize, c.scale), c.rowShape);
        }
      }
      out[i] = element;
    }
    return out;
  }

  /** Rows [start, end) stacked as a batch: `{key: Tensor [n, ...rowShape]}`, as stack() makes of the elements. */
  batch(start: number, end: number): Record<string, Tensor> {
    const out: Record<string, Tensor> = {};
    for (const c of this.columns) {
      out[c.key] = new Tensor(toFloats(c.data, start * c.rowSize, (end - start) * c.rowSize, c.scale), [end - start, ...c.rowShape]);
    }
    return out;
  }
}

/** `length` values of `data` from `offset`, times `scale`, as float32 (the arithmetic of the element path). */
function toFloats(data: ColumnData, offset: number, length: number, scale: number): Float32Array {
  const out = new Float32Array(length);
  if (scale === 1) {
    out.set(data.subarray(offset, offset + length));
  } else {
    for (let i = 0; i < length; i++) out[i] = data[offset + i] * scale;
  }
  return out;
}
