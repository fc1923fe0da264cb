/**
 * Splitting kernels across threads that share the kernels' memory. The pool itself is platform
 * code (node/pool.ts on Node); this file holds the browser-safe part: the job layout in shared
 * control memory and the split of the work into blocks (of C for a GEMM, of columns for BN).
 *
 * Protocol (one Int32Array over a SharedArrayBuffer): [0] job generation, bumped by the calling
 * thread to start a job; [1] how many workers are ready; from [4], JOB_SLOTS values per worker:
 * its block's claim state (CLAIM), the kernel to run (KERNEL, an index into POOL_KERNELS) and its
 * arguments (1..13; those listed in FLOAT_ARGS are written as float32, the rest as uint32). The caller writes the
 * arguments, marks the block FREE (an atomic store, so the arguments are visible to whoever claims
 * it) and bumps the generation. A worker claims its block FREE → RUNNING with compareExchange, runs
 * it and marks it DONE. After its own block the caller claims every block still FREE and runs it
 * itself, then waits only for blocks that are RUNNING: a worker the OS has not scheduled yet
 * (another process busy on the other core) costs nothing but its share of the speed-up.
 */

export const CLAIM = 14;
export const KERNEL = 15;
/** The kernels a pool runs, by index; each takes at most 13 arguments. */
export const POOL_KERNELS = ['gemmStrided', 'batchNormTrainStrided', 'batchNormGradStrided'] as const;
export type PoolKernel = (typeof POOL_KERNELS)[number];
/** Argument positions holding a float (batchNormTrainStrided's epsilon, its last argument). */
export const FLOAT_ARGS: Record<PoolKernel, number[]> = { gemmStrided: [], batchNormTrainStrided: [11], batchNormGradStrided: [] };
export const NO_BLOCK = 0;
export const FREE = 1;
export const RUNNING = 2;
export const DONE = 3;
export const JOB_SLOTS = 16;
export const CONTROL_HEADER = 4;

/** A pool of threads that run blocks of a kernel; the calling thread takes block 0 itself. */
export interface KernelPool {
  /** Worker threads (not counting the calling thread). */
  readonly workers: number;
  /** Whether every worker has started and listens for jobs. */
  readonly ready: boolean;
  /**
   * Runs `kernel` on `blocks[i + 1]` on worker i, or on the calling thread when that worker is
   * late, and on `blocks[0]` on the calling thread (`local` is the kernel there); returns when
   * all are done. Each block is an argument list (pointers as byte offsets).
   */
  run(kernel: PoolKernel, blocks: number[][], local: (...args: number[]) => void): void;
}

/**
 * Splits C = op(A)·op(B) into `parts` blocks of whole NR-column panels (or MR-row panels when C is
 * narrow), returning gemmStrided arguments for each, scratch pointers filled in by `scratchFor`.
 */
export function splitGemm(
  a: number, b: number, c: number, m: number, n: number, k: number,
  transA: boolean, transB: boolean, accumulate: boolean, parts: number,
  scratchFor: (part: number, m: number, n: number) => number,
): number[][] {
  const lda = transA ? m : k, ldb = transB ? k : n, ldc = n;
  const blocks: number[][] = [];
  const NR = 8, MR = 6;
  // Columns when there are enough: each thread then packs only its own part of B.
  if (n >= parts * 2 * NR) {
    const panels = Math.ceil(n / NR);
    for (let t = 0, start = 0; t < parts; t++) {
      const end = t === parts - 1 ? n : Math.min(n, Math.round((panels * (t + 1)) / parts) * NR);
      const cols = end - start;
      const bj = transB ? b + start * ldb * 4 : b + start * 4;
      blocks.push([a, bj, c + start * 4, m, cols, k, lda, ldb, ldc, +transA, +transB, +accumulate, scratchFor(t, m, cols)]);
      start = end;
    }
  } else {
    const panels = Math.ceil(m / MR);
    for (let t = 0, start = 0; t < parts; t++) {
      const end = t === parts - 1 ? m : Math.min(m, Math.round((panels * (t + 1)) / parts) * MR);
      const rows = end - start;
      const ai = transA ? a + start * 4 : a + start * lda * 4;
      blocks.push([ai, b, c + start * ldc * 4, rows, n, k, lda, ldb, ldc, +transA, +transB, +accumulate, scratchFor(t, rows, n)]);
      start = end;
    }
  }
  return blocks;
}

/**
 * Splits `cols` columns into `parts` ranges [start, end) of whole 16-column groups (64 bytes, so
 * that no two threads write the same cache line of the per-column outputs).
 */
export function splitColumns(cols: number, parts: number): [number, number][] {
  const groups = Math.ceil(cols / 16);
  const ranges: [number, number][] = [];
  for (let t = 0, start = 0; t < parts; t++) {
    const end = t === parts - 1 ? cols : Math.min(cols, Math.round((groups * (t + 1)) / parts) * 16);
    ranges.push([start, end]);
    start = end;
  }
  return ranges;
}
