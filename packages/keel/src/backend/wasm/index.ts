/**
 * The wasm backend: the kernels of assembly/*.as (SIMD, compiled by AssemblyScript) behind the
 * `Backend` interface. Tensors it allocates live in the kernels' memory (see heap.ts), so kernels
 * work on them in place; arrays from elsewhere (the js backend, `new Float32Array`) are staged:
 * copied into scratch memory, and copied back if the kernel writes them. float64 arrays run on the
 * reference kernels, as the Backend contract expects of float64.
 */
import type { Backend, UnaryKind } from '../backend.js';
import type { DType, FloatArray } from '../../core/tensor.js';
import { createJsBackend } from '../js/index.js';
import { GEOMETRY_FIELDS, loadKernels, UNARY_CODES, wasmSupported, type KernelExports } from './kernels.js';
import type { Conv2DGeometry } from '../convGeometry.js';
import { WasmHeap, type HeapOptions } from './heap.js';
import { chooseGemmSplit, registeredPoolStarter, splitColumns, splitGemm, type KernelPool, type PoolKernel, type PoolStarter } from './threads.js';
import { createWebKernelPool } from './web-pool.js';

export { wasmSupported };

/** The normalization kernels' exports (assembly/normalization.as); pointers and sizes as in KernelExports. */
interface NormalizationKernelExports {
  groupNorm(x: number, gamma: number, beta: number, epsilon: number, batch: number, positions: number, channels: number,
    groups: number, y: number, mean: number, invStd: number, scratch: number): void;
  groupNormGrad(x: number, dy: number, gamma: number, mean: number, invStd: number, batch: number, positions: number,
    channels: number, groups: number, dx: number, dgamma: number, dbeta: number, scratch: number): void;
  groupNormGradPartial(x: number, dy: number, gamma: number, mean: number, invStd: number, batch: number, positions: number,
    channels: number, groups: number, dx: number, partials: number, scratch: number): void;
  groupNormGradReduce(partials: number, batch: number, channels: number, dgamma: number, dbeta: number): void;
}

/** How a kernel uses an argument: read it, write it, or both. */
type Use = 'in' | 'out' | 'inout';

/**
 * Resolves the arrays of one kernel call to pointers. Arrays in the heap are used in place; others
 * are copied into a staging arena (one slot per distinct array, so aliased arguments stay aliased),
 * and `finish` copies written ones back. The arena is reused by every call and grows to the
 * largest call seen, so staging costs two copies and no allocation.
 */
class Call {
  private staged: { array: Float32Array; ptr: number; n: number; written: boolean }[] = [];
  private arena = -1;
  private arenaBytes = 0;
  private top = 0;
  /** Blocks malloc'd for a call that outgrew the arena, freed when it finishes. */
  private overflow: number[] = [];
  constructor(private readonly heap: WasmHeap) {}

  ptr(array: Float32Array, n: number, use: Use): number {
    if (this.heap.owns(array)) return array.byteOffset;
    for (const s of this.staged) {
      if (s.array === array) {
        s.written ||= use !== 'in';
        return s.ptr;
      }
    }
    const bytes = Math.ceil((Math.max(n, 1) * 4) / 64) * 64;
    let ptr: number;
    if (this.top + bytes <= this.arenaBytes) {
      ptr = this.arena + this.top;
    } else {
      ptr = this.heap.malloc(bytes, false); // every value is copied in or written by the kernel
      if (ptr < 0) throw new Error(`wasm backend: out of WebAssembly memory staging ${n} values.`);
      this.overflow.push(ptr);
    }
    this.top += bytes;
    if (use !== 'out') this.heap.heapF32.set(array.subarray(0, n), ptr / 4);
    this.staged.push({ array, ptr, n, written: use !== 'in' });
    return ptr;
  }

  finish(): void {
    if (this.staged.length === 0) return;
    const f32 = this.heap.heapF32;
    for (const s of this.staged) {
      if (s.written) s.array.set(f32.subarray(s.ptr / 4, s.ptr / 4 + s.n));
    }
    this.staged.length = 0;
    if (this.overflow.length > 0) {
      for (const ptr of this.overflow) this.heap.free(ptr);
      this.overflow.length = 0;
      // Grow the arena to this call's needs, so the next one stages without allocating.
      if (this.arena >= 0) this.heap.free(this.arena);
      this.arenaBytes = Math.ceil((this.top * 1.25) / 64) * 64;
      this.arena = this.heap.malloc(this.arenaBytes, false);
      if (this.arena < 0) this.arenaBytes = 0;
    }
    this.top = 0;
  }
}

function allFloat32(...arrays: FloatArray[]): boolean {
  for (const a of arrays) if (!(a instanceof Float32Array)) return false;
  return true;
}

export interface WasmBackendOptions extends HeapOptions {
  /**
   * Parts that large GEMMs and batch norms are split into, and threads that run them, the calling
   * one included (default 2). The split depends only on this number, never on how many workers are
   * up yet: the same seed gives bit-identical results whether the parts run on workers (Node, once
   * they listen) or one after the other on the calling thread (before that, and in browsers that
   * are not cross-origin isolated). Workers need a shared memory: worker_threads on Node, Web
   * Workers on cross-origin-isolated pages.
   */
  threads?: number;
  /** GEMMs of fewer floating-point operations run on one thread (default THREADED_GEMM_MIN_FLOPS). */
  threadedGemmMinFlops?: number;
  /** Use fused multiply-adds where the engine has relaxed SIMD (default true). */
  relaxedSimd?: boolean;
  /**
   * Whether the calling thread takes over a block its worker has not started yet (default true,
   * so that a descheduled worker never holds a step up). False makes every block wait for its
   * worker: for tests that must see the workers' side run.
   */
  workStealing?: boolean;
}

/**
 * GEMMs below this many floating-point operations (2·m·n·k) stay on the calling thread. Measured
 * on 2 cores (bench/run.ts's break-even, FMA kernels, 22:15-22:46 UTC on 2026-11-23): splitting
 * loses at 0.07 MFLOP (31-39 vs 35-42 GFLOP/s), is a toss-up at 0.41 MFLOP (25-80 vs about 53:
 * that shape splits by k and must add partial products), and wins from 1.9 MFLOP (86-88 vs 53-55).
 * One-instance prediction (0.47 MFLOP per call, called back to back so the worker is spinning)
 * gains from the split: 19 µs against 27 on one thread. Hence 0.2 MFLOP.
 */
export const THREADED_GEMM_MIN_FLOPS = 2e5;

/**
 * Batch normalizations of at least this many values split their columns across threads (measured
 * at 256×1024 on 2 cores; at 32×300 one thread is faster than the hand-off). Group and layer
 * normalizations of this many values split their samples (the same passes over the values; not
 * measured separately).
 */
export const THREADED_BN_MIN_VALUES = 65536;

/**
 * Passes over at least this many values split across threads: optimizer updates and fills in the
 * halves of W the GEMMs give each thread (the seed model's 784×300 kernel, not its 300×100 one),
 * bias + activation and BN inference by rows (batches of 256 and up through the 300-unit layer).
 */
export const THREADED_PASS_MIN_VALUES = 65536;

/** Default number of parts (and threads) for large kernels: the 2 cores Keel is measured on. */
export const DEFAULT_PARTS = 2;

export type WasmBackend = Backend & {
  readonly heap: WasmHeap;
  /** Whether the GEMM kernels use fused multiply-adds (relaxed SIMD). */
  readonly relaxedSimd: boolean;
  /**
   * Resolves to the number of worker threads once they listen (0 when running single-threaded).
   * Nothing has to wait for it: workers take kernels as soon as they listen (see ready()).
   */
  readonly threadsReady: Promise<number>;
  /** Blocks of split kernels that worker threads have run so far (a diagnostic). */
  readonly workerBlocks: number;
  /**
   * Why the worker threads are no longer used, once they are not (one died, was stuck, its kernel
   * threw, or they did not start): kernels run on the calling thread from then on. Undefined while
   * the pool works, and when there never was one (single-threaded by choice or by platform).
   */
  readonly threadsFailure: string | undefined;
};

/** Creates the wasm backend. Throws when WebAssembly SIMD is missing (check `wasmSupported()`). */
export function createWasmBackend(options: WasmBackendOptions = {}): WasmBackend {
  const kernels = loadKernels(undefined, options.relaxedSimd ?? true);
  const k = kernels.exports as KernelExports & NormalizationKernelExports;
  const heap = new WasmHeap(kernels, options);
  const js = createJsBackend();
  const call = new Call(heap);

  // Workers start here, synchronously, and take the parts of split kernels from the moment they
  // say in shared memory that they listen (the pool checks before each kernel), with no event-loop
  // turn needed; until then the parts run one after the other on the calling thread, so results
  // never depend on when the workers came up. On Node the pool comes from the starter that the Node
  // entry registers (node/relaxed-simd.ts); without it (this module imported on its own) it comes
  // through a lazy import, so that browsers never see worker_threads, and only after an event-loop turn.
  let pool: KernelPool | null = null;
  /** Why the pool was dropped (it failed to start, or threw a ThreadPoolError); see threadsFailure. */
  let droppedBecause: string | undefined;
  const parts = Math.max(1, Math.floor(options.threads ?? DEFAULT_PARTS));
  const workStealing = options.workStealing ?? true;
  const isNode = typeof process === 'object' && typeof process.versions?.node === 'string';
  const startPool = (start: PoolStarter): Promise<number> => {
    const p = start(kernels.module, kernels.memory, parts);
    if (!p) return Promise.resolve(0);
    pool = p;
    return p.started.then(() => p.workers, (e: unknown) => {
      if (pool === p) {
        pool = null; // a worker failed to start: stay on this thread for good
        droppedBecause ??= e instanceof Error ? e.message : String(e);
      }
      return 0;
    });
  };
  const starter = registeredPoolStarter() ?? (isNode ? undefined : createWebKernelPool);
  const threadsReady: Promise<number> = !kernels.shared || parts < 2 ? Promise.resolve(0)
    : starter ? startPool(starter)
    : import('./node/pool.js').then((m) => startPool(m.createKernelPool), () => 0);
  const minThreadedFlops = options.threadedGemmMinFlops ?? THREADED_GEMM_MIN_FLOPS;
  const workerScratch: { ptr: number; bytes: number }[] = [];
  const scratchOf = (part: number, m: number, n: number, kk: number): number => {
    const floats = k.gemmScratchFloats(m, n, kk);
    if (part === 0) return scratch(floats);
    const s = (workerScratch[part] ??= { ptr: -1, bytes: 0 });
    if (floats * 4 > s.bytes) {
      if (s.ptr >= 0) heap.free(s.ptr);
      s.bytes = Math.ceil(floats * 4 * 1.25);
      s.ptr = heap.malloc(s.bytes, false);
      if (s.ptr < 0) throw new Error(`wasm backend: out of WebAssembly memory for ${floats} floats of scratch.`);
    }
    return s.ptr;
  };

  // Partial products of k-split GEMMs, one m×n buffer per part beyond the first, grown and kept.
  const partials: { ptr: number; bytes: number }[] = [];
  const partialOf = (part: number, floats: number): number => {
    const p = (partials[part] ??= { ptr: -1, bytes: 0 });
    if (floats * 4 > p.bytes) {
      if (p.ptr >= 0) heap.free(p.ptr);
      p.bytes = Math.ceil(floats * 4 * 1.25);
      p.ptr = heap.malloc(p.bytes, false); // every value is written by its block (accumulate off)
      if (p.ptr < 0) throw new Error(`wasm backend: out of WebAssembly memory for ${floats} floats of partial products.`);
    }
    return p.ptr;
  };

  /** `parts` ranges [start, end) of [0, total), as even as whole units allow (rows, images, samples). */
  function evenRanges(total: number): [number, number][] {
    const ranges: [number, number][] = [];
    for (let t = 0, start = 0; t < parts; t++) {
      const end = Math.round((total * (t + 1)) / parts);
      ranges.push([start, end]);
      start = end;
    }
    return ranges;
  }

  /**
   * Runs an optimizer update (or a fill) over n values: `parts` contiguous ranges across the pool when n is
   * large enough, matching the halves of W that the GEMMs give each thread (see chooseGemmSplit),
   * so that each thread updates the values it reads and writes anyway. `block(offsetBytes, length)`
   * gives a range's arguments.
   */
  function byRanges(n: number, name: 'sgdUpdate' | 'adamUpdate' | 'rmspropUpdate' | 'nadamUpdate' | 'fillValue' | 'addBias' | 'addVectors' | 'unary' | 'unaryGrad', kernel: unknown,
    block: (offsetBytes: number, length: number) => number[]): void {
    if (parts < 2 || n < THREADED_PASS_MIN_VALUES) {
      (kernel as (...args: number[]) => void)(...block(0, n));
      return;
    }
    runBlocks(name, splitColumns(n, parts).map(([i0, i1]) => block(i0 * 4, i1 - i0)), kernel as (...args: number[]) => void);
  }

  /**
   * Runs a row-wise kernel over a rows×cols matrix: `parts` ranges of rows across the pool when
   * it holds THREADED_PASS_MIN_VALUES values or more (a GEMM split by rows left each thread's
   * rows of C in its cache), else one call. `block(offsetBytes, rows)` gives a range's arguments.
   */
  function byRows(rows: number, cols: number, name: 'addBiasActivation' | 'batchNormInfer' | 'addBias', kernel: unknown,
    block: (offsetBytes: number, rows: number) => number[]): void {
    if (parts < 2 || rows * cols < THREADED_PASS_MIN_VALUES || rows < parts) {
      (kernel as (...args: number[]) => void)(...block(0, rows));
      return;
    }
    const ranges = evenRanges(rows).map(([start, end]) => block(start * cols * 4, end - start));
    runBlocks(name, ranges, kernel as (...args: number[]) => void);
  }

  /**
   * Runs a column-wise BN kernel: split into column ranges across the thread pool when the work is
   * large enough to pay, else `single()` on this thread. `block(byteOffset, width)` gives a range's
   * arguments, byteOffset being the range's first column × 4.
   */
  function byColumns(
    n: number, cols: number, name: 'batchNormTrainStrided' | 'batchNormGradStrided', strided: unknown,
    block: (byteOffset: number, width: number) => number[], single: () => void,
  ): void {
    if (parts < 2 || n < THREADED_BN_MIN_VALUES || cols < 32) return single();
    const blocks = splitColumns(cols, parts).map(([c0, c1]) => block(c0 * 4, c1 - c0));
    runBlocks(name, blocks, strided as (...args: number[]) => void);
  }

  /**
   * Runs blocks on the pool (which runs them here until its workers listen), or one after the other
   * here when there is none: the same arithmetic. A pool that fails (a worker stuck, a kernel trap)
   * is dropped: later kernels run here.
   */
  function runBlocks(name: Parameters<KernelPool['run']>[0], blocks: number[][], local: (...args: number[]) => void): void {
    if (!pool) {
      for (const block of blocks) local(...block);
      return;
    }
    const p = pool;
    try {
      p.run(name, blocks, local, workStealing);
    } catch (e) {
      pool = null;
      droppedBecause ??= p.failure ?? (e instanceof Error ? e.message : String(e));
      throw e;
    }
  }

  // The window kernels read their geometry from 15 i32 in the heap (GEOMETRY_FIELDS), written
  // before each call: a call runs to completion before the next starts, so one block serves all.
  let geometryPtr = -1;
  const geometry = (g: Conv2DGeometry, multiplier: number): number => {
    if (geometryPtr < 0) geometryPtr = heap.malloc(64, true);
    if (geometryPtr < 0) throw new Error('wasm backend: out of WebAssembly memory for a window geometry.');
    const view = new Int32Array(heap.memory.buffer, geometryPtr, GEOMETRY_FIELDS.length);
    GEOMETRY_FIELDS.forEach((field, i) => { view[i] = field === 'multiplier' ? multiplier : g[field]; });
    return geometryPtr;
  };
  const windowSizes = (g: Conv2DGeometry, multiplier: number): [number, number, number] => [
    g.batch * g.inHeight * g.inWidth * g.inChannels,
    g.batch * g.outHeight * g.outWidth * g.inChannels * multiplier,
    g.filterHeight * g.filterWidth,
  ];

  /**
   * Runs `kernel` over [0, total) of its outer index: in one call when the work (values touched,
   * roughly) is small or there is too little to split, else in `parts` ranges on the pool.
   */
  function byRange(name: PoolKernel, kernel: unknown, total: number, work: number, block: (start: number, end: number) => number[]): void {
    if (parts < 2 || work < THREADED_PASS_MIN_VALUES || total < parts) {
      (kernel as (...args: number[]) => void)(...block(0, total));
      return;
    }
    const ranges = evenRanges(total).map(([start, end]) => block(start, end));
    runBlocks(name, ranges, kernel as (...args: number[]) => void);
  }

  /**
   * The sample ranges [n0, n1) that a group normalization of `batch` samples and `values` values
   * is split into: one range when it is small (THREADED_BN_MIN_VALUES) or has fewer samples than
   * parts, else `parts` ranges. Depends only on the sizes and `parts`.
   */
  function sampleRanges(batch: number, values: number): [number, number][] {
    if (parts < 2 || values < THREADED_BN_MIN_VALUES || batch < parts) return [[0, batch]];
    return evenRanges(batch);
  }
  /** Floats of scratch for each part of a split kernel: `floats` rounded up to whole 64-byte lines. */
  const perPart = (floats: number): number => Math.ceil(floats / 16) * 16;

  /**
   * Whether a BN over rows×cols splits by rows (partial sums per part) rather than by columns:
   * when it is narrower than the 32 columns a column split needs (two 16-column groups: with fewer,
   * the threads' columns would share cache lines), or tall, four rows or more per column (the
   * activations of a convolution: positions × channels). A column split then has each thread read
   * every row for a part of it, and the adjacent-line prefetcher loads the other part too. Measured
   * on 2 threads (2026-12-02, forward + backward, medians of 9): 12544×32 in 374 µs by rows
   * against 547 by columns, 3136×64 in 170 against 222, 6272×128 in 657 against 1100, 1024×100 in
   * 71-102 against 105; wide ones are level or favour columns (512×300 107-116 against 115,
   * 256×1024 223-241 against 216).
   */
  const bnByRows = (rows: number, cols: number): boolean =>
    parts > 1 && rows * cols >= THREADED_BN_MIN_VALUES && rows >= 4 * parts && (cols < 32 || rows >= 4 * cols);
  /**
   * Sums the `parts` partial sums of `cols` values at byte offsets `at(t)`, in part order, each
   * addition rounded to float32 as a kernel's would be: column c of the result is total(c).
   */
  const partialTotals = (f32: Float32Array, cols: number, at: (t: number) => number): Float32Array => {
    const totals = new Float32Array(cols);
    for (let t = 0; t < parts; t++) {
      const base = at(t) / 4;
      for (let c = 0; c < cols; c++) totals[c] += f32[base + c];
    }
    return totals;
  };

  /**
   * BN training forward split by rows (pointers into the heap): each part sums its rows (pass 1,
   * then the squared deviations of pass 2); this thread adds the parts and computes the
   * coefficients; each part normalizes its rows.
   */
  function bnTrainByRows(px: number, pg: number, pb: number, epsilon: number, rows: number, cols: number,
    py: number, pm: number, pv: number, pi: number): void {
    const per = perPart(cols);
    const base = scratch(per * (parts + 1));
    const partial = (t: number) => base + t * per * 4;
    const coef = partial(parts);
    const ranges = evenRanges(rows);
    const eps = Math.fround(epsilon);
    const f32 = heap.heapF32; // nothing is allocated from here on
    runBlocks('batchNormRowsSums', ranges.map(([r0, r1], t) => [px + r0 * cols * 4, r1 - r0, cols, partial(t)]), k.batchNormRowsSums);
    const sums = partialTotals(f32, cols, partial);
    for (let c = 0; c < cols; c++) f32[pm / 4 + c] = sums[c] / rows;
    runBlocks('batchNormRowsSquares', ranges.map(([r0, r1], t) => [px + r0 * cols * 4, pm, r1 - r0, cols, partial(t)]), k.batchNormRowsSquares);
    const squares = partialTotals(f32, cols, partial);
    for (let c = 0; c < cols; c++) {
      const v = Math.fround(squares[c] / rows);
      const inv = Math.fround(1 / Math.sqrt(v + eps));
      f32[pv / 4 + c] = v;
      f32[pi / 4 + c] = inv;
      f32[coef / 4 + c] = f32[pg / 4 + c] * inv;
    }
    runBlocks('batchNormRowsNormalize', ranges.map(([r0, r1]) => [px + r0 * cols * 4, pm, coef, pb, r1 - r0, cols, py + r0 * cols * 4]),
      k.batchNormRowsNormalize);
  }

  /**
   * BN backward split by rows: each part sums Σdy and Σdy·x̂ over its rows; this thread adds the
   * parts, accumulates dβ and dγ and computes the coefficients of dx; each part writes its rows of dx.
   */
  function bnGradByRows(px: number, pdy: number, pg: number, pm: number, pi: number, rows: number, cols: number,
    pdx: number, pdg: number, pdb: number): void {
    const per = perPart(cols);
    const base = scratch(per * (2 * parts + 3));
    const block = (i: number) => base + i * per * 4;
    const ranges = evenRanges(rows);
    runBlocks('batchNormRowsGradSums', ranges.map(([r0, r1], t) =>
      [px + r0 * cols * 4, pdy + r0 * cols * 4, pm, pi, r1 - r0, cols, block(2 * t), block(2 * t + 1)]), k.batchNormRowsGradSums);
    const f32 = heap.heapF32;
    const s1 = partialTotals(f32, cols, (t) => block(2 * t));
    const s2 = partialTotals(f32, cols, (t) => block(2 * t + 1));
    const [pa, pbb, pk] = [block(2 * parts), block(2 * parts + 1), block(2 * parts + 2)];
    for (let c = 0; c < cols; c++) {
      const inv = f32[pi / 4 + c];
      f32[pdb / 4 + c] += s1[c];
      f32[pdg / 4 + c] += s2[c];
      const a = Math.fround(f32[pg / 4 + c] * inv);
      f32[pa / 4 + c] = a;
      f32[pbb / 4 + c] = Math.fround(a * s1[c]) / rows;
      f32[pk / 4 + c] = Math.fround(Math.fround(a * inv) * s2[c]) / rows;
    }
    runBlocks('batchNormRowsGradApply', ranges.map(([r0, r1]) =>
      [px + r0 * cols * 4, pdy + r0 * cols * 4, pm, pa, pbb, pk, r1 - r0, cols, pdx + r0 * cols * 4]), k.batchNormRowsGradApply);
  }

  // Per-sample terms of group norm's dgamma and dbeta (2·channels floats a sample), grown and kept.
  let termsPtr = -1;
  let termsBytes = 0;
  const sampleTerms = (floats: number): number => {
    if (floats * 4 > termsBytes) {
      if (termsPtr >= 0) heap.free(termsPtr);
      termsBytes = Math.ceil(floats * 4 * 1.25);
      termsPtr = heap.malloc(termsBytes, false); // every value is written by its sample's block
      if (termsPtr < 0) throw new Error(`wasm backend: out of WebAssembly memory for ${floats} floats of group norm terms.`);
    }
    return termsPtr;
  };

  // One scratch block for packing and per-column coefficients, grown on demand and kept.
  let scratchPtr = -1;
  let scratchBytes = 0;
  const scratch = (floats: number): number => {
    const bytes = Math.max(floats, 16) * 4;
    if (bytes > scratchBytes) {
      if (scratchPtr >= 0) heap.free(scratchPtr);
      scratchPtr = heap.malloc(bytes * 1.25, false);
      if (scratchPtr < 0) throw new Error(`wasm backend: out of WebAssembly memory for ${floats} floats of scratch.`);
      scratchBytes = bytes * 1.25;
    }
    return scratchPtr;
  };

  return {
    name: 'wasm',
    heap,
    threadsReady,
    get workerBlocks() {
      return pool?.workerBlocks ?? 0;
    },
    get threadsFailure() {
      return pool?.failure ?? droppedBecause;
    },
    relaxedSimd: kernels.relaxed,
    alloc: (size: number, dtype: DType) => (dtype === 'float64' ? new Float64Array(size) : heap.alloc(size)),
    release(data) {
      if (data instanceof Float32Array) heap.release(data);
    },

    gemm(a, b, c, m, n, kk, transA, transB, accumulate) {
      if (!allFloat32(a, b, c)) return js.gemm(a, b, c, m, n, kk, transA, transB, accumulate);
      const pa = call.ptr(a as Float32Array, m * kk, 'in');
      const pb = call.ptr(b as Float32Array, kk * n, 'in');
      const pc = call.ptr(c as Float32Array, m * n, accumulate ? 'inout' : 'out');
      // C may not alias A or B (the kernel reads them while writing C); the interface never asks
      // for that, and staging keeps distinct arrays distinct.
      if (parts > 1 && 2 * m * n * kk >= minThreadedFlops) {
        const split = chooseGemmSplit(m, n, kk, transA, transB, parts);
        const blocks = splitGemm(pa, pb, pc, m, n, kk, transA, transB, accumulate, parts,
          (part, rows, cols) => scratchOf(part, rows, cols, kk), split, (part) => partialOf(part, m * n));
        runBlocks('gemmStrided', blocks, k.gemmStrided as (...args: number[]) => void);
        // A k split left partial products: add them in, in a fixed order (same bits every run).
        if (split === 'k') for (let t = 1; t < blocks.length; t++) k.addBias(pc, blocks[t][2], 1, m * n);
      } else {
        k.gemm(pa, pb, pc, m, n, kk, +transA, +transB, +accumulate, scratch(k.gemmScratchFloats(m, n, kk)));
      }
      call.finish();
    },

    addBias(x, bias, rows, cols) {
      if (!allFloat32(x, bias)) return js.addBias(x, bias, rows, cols);
      const px = call.ptr(x as Float32Array, rows * cols, 'inout');
      const pb = call.ptr(bias as Float32Array, cols, 'in');
      byRows(rows, cols, 'addBias', k.addBias, (o, r) => [px + o, pb, r, cols]);
      call.finish();
    },

    add(a, b, out, n) {
      if (!allFloat32(a, b, out)) return js.add(a, b, out, n);
      const pa = call.ptr(a as Float32Array, n, 'in');
      const pb = call.ptr(b as Float32Array, n, 'in');
      const po = call.ptr(out as Float32Array, n, 'out');
      byRanges(n, 'addVectors', k.addVectors, (o, len) => [pa + o, pb + o, po + o, len]);
      call.finish();
    },

    addBiasActivation(x, bias, y, rows, cols, kind, alpha) {
      if (!allFloat32(x, bias, y)) return js.addBiasActivation(x, bias, y, rows, cols, kind, alpha);
      const n = rows * cols;
      const px = call.ptr(x as Float32Array, n, 'inout');
      const pb = call.ptr(bias as Float32Array, cols, 'in');
      const py = call.ptr(y as Float32Array, n, 'out');
      byRows(rows, cols, 'addBiasActivation', k.addBiasActivation,
        (o, r) => [px + o, pb, py + o, r, cols, UNARY_CODES[kind], alpha]);
      call.finish();
    },

    sgdUpdate(w, g, velocity, n, lr, momentum, nesterov) {
      if (!allFloat32(w, g, ...(velocity ? [velocity] : []))) return js.sgdUpdate(w, g, velocity, n, lr, momentum, nesterov);
      const pw = call.ptr(w as Float32Array, n, 'inout');
      const pg = call.ptr(g as Float32Array, n, 'in');
      // 0 is never a valid array address (the heap starts at HEAP_BASE): it means "no velocity".
      const pv = velocity ? call.ptr(velocity as Float32Array, n, 'inout') : 0;
      byRanges(n, 'sgdUpdate', k.sgdUpdate, (o, len) => [pw + o, pg + o, pv && pv + o, len, lr, momentum, +nesterov]);
      call.finish();
    },

    adamUpdate(w, g, m, v, n, lrT, beta1, beta2, epsilon) {
      if (!allFloat32(w, g, m, v)) return js.adamUpdate(w, g, m, v, n, lrT, beta1, beta2, epsilon);
      const pw = call.ptr(w as Float32Array, n, 'inout');
      const pg = call.ptr(g as Float32Array, n, 'in');
      const pm = call.ptr(m as Float32Array, n, 'inout');
      const pv = call.ptr(v as Float32Array, n, 'inout');
      byRanges(n, 'adamUpdate', k.adamUpdate, (o, len) => [pw + o, pg + o, pm + o, pv + o, len, lrT, 1 - beta1, 1 - beta2, epsilon]);
      call.finish();
    },

    rmspropUpdate(w, g, s, mom, average, n, lr, rho, momentum, epsilon) {
      if (!allFloat32(w, g, s, mom ?? s, average ?? s)) {
        return js.rmspropUpdate(w, g, s, mom, average, n, lr, rho, momentum, epsilon);
      }
      const pw = call.ptr(w as Float32Array, n, 'inout');
      const pg = call.ptr(g as Float32Array, n, 'in');
      const ps = call.ptr(s as Float32Array, n, 'inout');
      // 0 means "absent" (no momentum; not centered), as sgdUpdate's velocity.
      const pmom = mom ? call.ptr(mom as Float32Array, n, 'inout') : 0;
      const pavg = average ? call.ptr(average as Float32Array, n, 'inout') : 0;
      byRanges(n, 'rmspropUpdate', k.rmspropUpdate,
        (o, len) => [pw + o, pg + o, ps + o, pmom && pmom + o, pavg && pavg + o, len, lr, rho, 1 - rho, momentum, epsilon]);
      call.finish();
    },

    nadamUpdate(w, g, m, v, n, lrM, lrG, vScale, beta1, beta2, epsilon) {
      if (!allFloat32(w, g, m, v)) return js.nadamUpdate(w, g, m, v, n, lrM, lrG, vScale, beta1, beta2, epsilon);
      const pw = call.ptr(w as Float32Array, n, 'inout');
      const pg = call.ptr(g as Float32Array, n, 'in');
      const pm = call.ptr(m as Float32Array, n, 'inout');
      const pv = call.ptr(v as Float32Array, n, 'inout');
      byRanges(n, 'nadamUpdate', k.nadamUpdate,
        (o, len) => [pw + o, pg + o, pm + o, pv + o, len, lrM, lrG, vScale, 1 - beta1, 1 - beta2, epsilon]);
      call.finish();
    },

    fill(a, n, value) {
      // Only arrays in the heap: staging a plain array in and out would cost more than filling it.
      if (!(a instanceof Float32Array) || !heap.owns(a)) return void a.fill(value, 0, n);
      const p = a.byteOffset;
      byRanges(n, 'fillValue', k.fillValue, (o, len) => [p + o, len, value]);
    },

    findNonFinite(a, n) {
      // Arrays outside the heap (a dataset made on the js backend, or past the heap's cap) are
      // scanned where they are: staging them would copy, and keep an arena of, the whole dataset.
      if (!(a instanceof Float32Array) || !heap.owns(a)) return js.findNonFinite(a, n);
      const index = k.findNonFinite(call.ptr(a, n, 'in'), n);
      call.finish();
      return index;
    },

    columnSums(x, rows, cols, out, accumulate) {
      if (!allFloat32(x, out)) return js.columnSums(x, rows, cols, out, accumulate);
      k.columnSums(call.ptr(x as Float32Array, rows * cols, 'in'), rows, cols,
        call.ptr(out as Float32Array, cols, accumulate ? 'inout' : 'out'), +accumulate);
      call.finish();
    },

    unary(kind: UnaryKind, x, y, n, alpha) {
      if (!allFloat32(x, y)) return js.unary(kind, x, y, n, alpha);
      const px = call.ptr(x as Float32Array, n, 'in');
      const py = call.ptr(y as Float32Array, n, 'out');
      const code = UNARY_CODES[kind];
      byRanges(n, 'unary', k.unary, (o, len) => [code, px + o, py + o, len, alpha]);
      call.finish();
    },

    unaryGrad(kind: UnaryKind, x, y, dy, dx, n, alpha) {
      if (!allFloat32(x, y, dy, dx)) return js.unaryGrad(kind, x, y, dy, dx, n, alpha);
      const px = call.ptr(x as Float32Array, n, 'in');
      const py = call.ptr(y as Float32Array, n, 'in');
      const pdy = call.ptr(dy as Float32Array, n, 'in');
      const pdx = call.ptr(dx as Float32Array, n, 'out');
      const code = UNARY_CODES[kind];
      byRanges(n, 'unaryGrad', k.unaryGrad, (o, len) => [code, px + o, py + o, pdy + o, pdx + o, len, alpha]);
      call.finish();
    },

    softmax(x, y, rows, cols) {
      if (!allFloat32(x, y)) return js.softmax(x, y, rows, cols);
      const px = call.ptr(x as Float32Array, rows * cols, 'in');
      k.softmax(px, call.ptr(y as Float32Array, rows * cols, 'out'), rows, cols);
      call.finish();
    },

    softmaxGrad(y, dy, dx, rows, cols) {
      if (!allFloat32(y, dy, dx)) return js.softmaxGrad(y, dy, dx, rows, cols);
      const py = call.ptr(y as Float32Array, rows * cols, 'in');
      const pdy = call.ptr(dy as Float32Array, rows * cols, 'in');
      k.softmaxGrad(py, pdy, call.ptr(dx as Float32Array, rows * cols, 'out'), rows, cols);
      call.finish();
    },

    batchNormTrain(x, gamma, beta, epsilon, rows, cols, y, mean, variance, invStd) {
      if (!allFloat32(x, gamma, beta, y, mean, variance, invStd)) {
        return js.batchNormTrain(x, gamma, beta, epsilon, rows, cols, y, mean, variance, invStd);
      }
      const n = rows * cols;
      const px = call.ptr(x as Float32Array, n, 'in');
      const pg = call.ptr(gamma as Float32Array, cols, 'in');
      const pb = call.ptr(beta as Float32Array, cols, 'in');
      const py = call.ptr(y as Float32Array, n, 'out');
      const pm = call.ptr(mean as Float32Array, cols, 'out');
      const pv = call.ptr(variance as Float32Array, cols, 'out');
      const pi = call.ptr(invStd as Float32Array, cols, 'out');
      if (bnByRows(rows, cols)) bnTrainByRows(px, pg, pb, epsilon, rows, cols, py, pm, pv, pi);
      else {
        // Columns are independent: each thread normalizes a range of them (scratch included).
        const s = scratch(cols);
        byColumns(n, cols, 'batchNormTrainStrided', k.batchNormTrainStrided,
          (o, width) => [px + o, pg + o, pb + o, rows, width, cols, py + o, pm + o, pv + o, pi + o, s + o, epsilon],
          () => k.batchNormTrain(px, pg, pb, epsilon, rows, cols, py, pm, pv, pi, s));
      }
      call.finish();
    },

    batchNormGrad(x, dy, gamma, mean, invStd, rows, cols, dx, dgamma, dbeta) {
      if (!allFloat32(x, dy, gamma, mean, invStd, dx, dgamma, dbeta)) {
        return js.batchNormGrad(x, dy, gamma, mean, invStd, rows, cols, dx, dgamma, dbeta);
      }
      const n = rows * cols;
      const px = call.ptr(x as Float32Array, n, 'in');
      const pdy = call.ptr(dy as Float32Array, n, 'in');
      const pg = call.ptr(gamma as Float32Array, cols, 'in');
      const pm = call.ptr(mean as Float32Array, cols, 'in');
      const pi = call.ptr(invStd as Float32Array, cols, 'in');
      const pdx = call.ptr(dx as Float32Array, n, 'out');
      const pdg = call.ptr(dgamma as Float32Array, cols, 'inout');
      const pdb = call.ptr(dbeta as Float32Array, cols, 'inout');
      if (bnByRows(rows, cols)) bnGradByRows(px, pdy, pg, pm, pi, rows, cols, pdx, pdg, pdb);
      else {
        // Per range of columns: 3 scratch values per column, so ranges get disjoint scratch.
        const s = scratch(3 * cols);
        byColumns(n, cols, 'batchNormGradStrided', k.batchNormGradStrided,
          (o, width) => [px + o, pdy + o, pg + o, pm + o, pi + o, rows, width, cols, pdx + o, pdg + o, pdb + o, s + 3 * o],
          () => k.batchNormGrad(px, pdy, pg, pm, pi, rows, cols, pdx, pdg, pdb, s));
      }
      call.finish();
    },

    batchNormInfer(x, mean, variance, gamma, beta, epsilon, rows, cols, y) {
      if (!allFloat32(x, mean, variance, gamma, beta, y)) {
        return js.batchNormInfer(x, mean, variance, gamma, beta, epsilon, rows, cols, y);
      }
      const s = scratch(2 * cols * parts); // 2·cols scale and shift values per part
      const n = rows * cols;
      const px = call.ptr(x as Float32Array, n, 'in');
      const pm = call.ptr(mean as Float32Array, cols, 'in');
      const pv = call.ptr(variance as Float32Array, cols, 'in');
      const pg = call.ptr(gamma as Float32Array, cols, 'in');
      const pb = call.ptr(beta as Float32Array, cols, 'in');
      const py = call.ptr(y as Float32Array, n, 'out');
      let part = 0;
      byRows(rows, cols, 'batchNormInfer', k.batchNormInfer,
        (o, r) => [px + o, pm, pv, pg, pb, epsilon, r, cols, py + o, s + 8 * cols * part++]);
      call.finish();
    },

    // Per-sample normalization (assembly/normalization.as). Samples are independent, so large
    // batches split into ranges of samples, each part with its own scratch. The backward's dgamma
    // and dbeta sum over samples: split, each part writes its samples' terms, and this thread then
    // adds them in sample order (groupNormGradReduce), which gives the bits of one unsplit call.
    groupNorm(x, gamma, beta, epsilon, batch, positions, channels, groups, y, mean, invStd) {
      if (!allFloat32(x, gamma, beta, y, mean, invStd)) {
        return js.groupNorm(x, gamma, beta, epsilon, batch, positions, channels, groups, y, mean, invStd);
      }
      const n = batch * positions * channels;
      const ranges = sampleRanges(batch, n);
      const per = perPart(3 * channels);
      const s = scratch(per * ranges.length);
      const px = call.ptr(x as Float32Array, n, 'in');
      const pg = call.ptr(gamma as Float32Array, channels, 'in');
      const pb = call.ptr(beta as Float32Array, channels, 'in');
      const py = call.ptr(y as Float32Array, n, 'out');
      const pm = call.ptr(mean as Float32Array, batch * groups, 'out');
      const pi = call.ptr(invStd as Float32Array, batch * groups, 'out');
      if (ranges.length === 1) {
        k.groupNorm(px, pg, pb, epsilon, batch, positions, channels, groups, py, pm, pi, s);
      } else {
        const sample = positions * channels * 4;
        runBlocks('groupNorm', ranges.map(([n0, n1], t) => [
          px + n0 * sample, pg, pb, epsilon, n1 - n0, positions, channels, groups, py + n0 * sample, pm + n0 * groups * 4, pi + n0 * groups * 4, s + t * per * 4,
        ]), k.groupNorm);
      }
      call.finish();
    },

    groupNormGrad(x, dy, gamma, mean, invStd, batch, positions, channels, groups, dx, dgamma, dbeta) {
      if (!allFloat32(x, dy, gamma, mean, invStd, dx, dgamma, dbeta)) {
        return js.groupNormGrad(x, dy, gamma, mean, invStd, batch, positions, channels, groups, dx, dgamma, dbeta);
      }
      const n = batch * positions * channels;
      const ranges = sampleRanges(batch, n);
      const per = perPart(4 * channels);
      const s = scratch(per * ranges.length);
      const terms = ranges.length === 1 ? -1 : sampleTerms(batch * 2 * channels);
      const px = call.ptr(x as Float32Array, n, 'in');
      const pdy = call.ptr(dy as Float32Array, n, 'in');
      const pg = call.ptr(gamma as Float32Array, channels, 'in');
      const pm = call.ptr(mean as Float32Array, batch * groups, 'in');
      const pi = call.ptr(invStd as Float32Array, batch * groups, 'in');
      const pdx = call.ptr(dx as Float32Array, n, 'out');
      const pdg = call.ptr(dgamma as Float32Array, channels, 'inout');
      const pdb = call.ptr(dbeta as Float32Array, channels, 'inout');
      if (ranges.length === 1) {
        k.groupNormGrad(px, pdy, pg, pm, pi, batch, positions, channels, groups, pdx, pdg, pdb, s);
      } else {
        const sample = positions * channels * 4;
        runBlocks('groupNormGradPartial', ranges.map(([n0, n1], t) => [
          px + n0 * sample, pdy + n0 * sample, pg, pm + n0 * groups * 4, pi + n0 * groups * 4, n1 - n0, positions, channels, groups,
          pdx + n0 * sample, terms + n0 * 2 * channels * 4, s + t * per * 4,
        ]), k.groupNormGradPartial);
        k.groupNormGradReduce(terms, batch, channels, pdg, pdb);
      }
      call.finish();
    },

    // Convolutions and pooling (assembly/conv.as). Each splits its outer index (rows of cols,
    // images, or channels) into `parts` ranges; within a range the order of every sum is fixed.
    im2col(x, cols, g) {
      if (!allFloat32(x, cols)) return js.im2col(x, cols, g);
      const rows = g.batch * g.outHeight * g.outWidth;
      const depth = g.filterHeight * g.filterWidth * g.inChannels;
      const px = call.ptr(x as Float32Array, g.batch * g.inHeight * g.inWidth * g.inChannels, 'in');
      const pc = call.ptr(cols as Float32Array, rows * depth, 'out');
      const pg = geometry(g, 1);
      byRange('im2col', k.im2col, rows, rows * depth, (start, end) => [px, pc, pg, start, end]);
      call.finish();
    },
    col2im(cols, dx, g) {
      if (!allFloat32(cols, dx)) return js.col2im(cols, dx, g);
      const rows = g.batch * g.outHeight * g.outWidth;
      const depth = g.filterHeight * g.filterWidth * g.inChannels;
      const pc = call.ptr(cols as Float32Array, rows * depth, 'in');
      const pd = call.ptr(dx as Float32Array, g.batch * g.inHeight * g.inWidth * g.inChannels, 'out');
      const pg = geometry(g, 1);
      byRange('col2im', k.col2im, g.batch, rows * depth, (start, end) => [pc, pd, pg, start, end]);
      call.finish();
    },
    depthwiseConv2d(x, kernel, y, g, multiplier) {
      if (!allFloat32(x, kernel, y)) return js.depthwiseConv2d(x, kernel, y, g, multiplier);
      const [inSize, outSize, taps] = windowSizes(g, multiplier);
      const px = call.ptr(x as Float32Array, inSize, 'in');
      const pk = call.ptr(kernel as Float32Array, taps * g.inChannels * multiplier, 'in');
      const py = call.ptr(y as Float32Array, outSize, 'out');
      const pg = geometry(g, multiplier);
      byRange('depthwiseConv2d', k.depthwiseConv2d, g.batch, outSize * taps, (start, end) => [px, pk, py, pg, start, end]);
      call.finish();
    },
    depthwiseConv2dBackpropInput(dy, kernel, dx, g, multiplier) {
      if (!allFloat32(dy, kernel, dx)) return js.depthwiseConv2dBackpropInput(dy, kernel, dx, g, multiplier);
      const [inSize, outSize, taps] = windowSizes(g, multiplier);
      const pdy = call.ptr(dy as Float32Array, outSize, 'in');
      const pk = call.ptr(kernel as Float32Array, taps * g.inChannels * multiplier, 'in');
      const pdx = call.ptr(dx as Float32Array, inSize, 'out');
      const pg = geometry(g, multiplier);
      byRange('depthwiseConv2dBackpropInput', k.depthwiseConv2dBackpropInput, g.batch, outSize * taps,
        (start, end) => [pdy, pk, pdx, pg, start, end]);
      call.finish();
    },
    depthwiseConv2dBackpropFilter(x, dy, dKernel, g, multiplier) {
      if (!allFloat32(x, dy, dKernel)) return js.depthwiseConv2dBackpropFilter(x, dy, dKernel, g, multiplier);
      const [inSize, outSize, taps] = windowSizes(g, multiplier);
      const px = call.ptr(x as Float32Array, inSize, 'in');
      const pdy = call.ptr(dy as Float32Array, outSize, 'in');
      const pdk = call.ptr(dKernel as Float32Array, taps * g.inChannels * multiplier, 'inout');
      const pg = geometry(g, multiplier);
      // By channels: each thread owns whole rows of dKernel's channel axis.
      byRange('depthwiseConv2dBackpropFilter', k.depthwiseConv2dBackpropFilter, g.inChannels, outSize * taps,
        (start, end) => [px, pdy, pdk, pg, start, end]);
      call.finish();
    },
    maxPool(x, y, g) {
      if (!allFloat32(x, y)) return js.maxPool(x, y, g);
      const [inSize, outSize, taps] = windowSizes(g, 1);
      const px = call.ptr(x as Float32Array, inSize, 'in');
      const py = call.ptr(y as Float32Array, outSize, 'out');
      const pg = geometry(g, 1);
      byRange('maxPool', k.maxPool, g.batch, outSize * taps, (start, end) => [px, py, pg, start, end]);
      call.finish();
    },
    maxPoolGrad(x, y, dy, dx, g) {
      if (!allFloat32(x, y, dy, dx)) return js.maxPoolGrad(x, y, dy, dx, g);
      const [inSize, outSize, taps] = windowSizes(g, 1);
      const px = call.ptr(x as Float32Array, inSize, 'in');
      const py = call.ptr(y as Float32Array, outSize, 'in');
      const pdy = call.ptr(dy as Float32Array, outSize, 'in');
      const pdx = call.ptr(dx as Float32Array, inSize, 'out');
      const pg = geometry(g, 1);
      byRange('maxPoolGrad', k.maxPoolGrad, g.batch, outSize * taps, (start, end) => [px, py, pdy, pdx, pg, start, end]);
      call.finish();
    },
    avgPool(x, y, g) {
      if (!allFloat32(x, y)) return js.avgPool(x, y, g);
      const [inSize, outSize, taps] = windowSizes(g, 1);
      const px = call.ptr(x as Float32Array, inSize, 'in');
      const py = call.ptr(y as Float32Array, outSize, 'out');
      const pg = geometry(g, 1);
      byRange('avgPool', k.avgPool, g.batch, outSize * taps, (start, end) => [px, py, pg, start, end]);
      call.finish();
    },
    avgPoolGrad(dy, dx, g) {
      if (!allFloat32(dy, dx)) return js.avgPoolGrad(dy, dx, g);
      const [inSize, outSize, taps] = windowSizes(g, 1);
      const pdy = call.ptr(dy as Float32Array, outSize, 'in');
      const pdx = call.ptr(dx as Float32Array, inSize, 'out');
      const pg = geometry(g, 1);
      byRange('avgPoolGrad', k.avgPoolGrad, g.batch, outSize * taps, (start, end) => [pdy, pdx, pg, start, end]);
      call.finish();
    },
  };
}
