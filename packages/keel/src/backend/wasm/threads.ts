/**
 * Splitting kernels across threads that share the kernels' memory. This file is browser-safe: the
 * job protocol, the worker's loop (as source text, for Node's worker_threads and the browser's Web
 * Workers alike), the calling thread's side of a pool, and the split of the work into blocks (of C
 * for a GEMM, of columns for BN, of samples for group norm). Starting the workers is platform
 * code: node/pool.ts, web-pool.ts.
 *
 * Protocol (one Int32Array over a SharedArrayBuffer): [0] job generation, bumped by the calling
 * thread to start a job; [1] how many workers are ready; [2] how many blocks workers have run
 * (a diagnostic, and what tests check); from [4], JOB_SLOTS values per worker:
 * its block's claim state (CLAIM), the kernel to run (KERNEL, an index into POOL_KERNELS) and its
 * arguments (1..13; those listed in FLOAT_ARGS are written as float32, the rest as uint32). The caller writes the
 * arguments, marks the block FREE (an atomic store, so the arguments are visible to whoever claims
 * it) and bumps the generation. A worker claims its block FREE → RUNNING with compareExchange, runs
 * it and marks it DONE. After its own block the caller claims every block still FREE and runs it
 * itself, then waits only for blocks that are RUNNING: a worker the OS has not scheduled yet
 * (another process busy on the other core) costs nothing but its share of the speed-up.
 *
 * The calling thread never sleeps (Atomics.wait is forbidden on a browser's main thread): it spins
 * while workers finish, which takes microseconds since a job is split evenly.
 *
 * A worker that dies says so in shared memory, where the spinning caller sees it at once: [3]
 * holds 1 + the index of the first worker that died (0 while all live), and the block it held is
 * marked ABANDONED (claimed, its kernel not started: the caller runs it, with the same result) or
 * FAILED (its kernel threw midway: the output is unknown, the call fails with a ThreadPoolError).
 * From then on the pool runs every block on the calling thread. A thread killed without a word
 * (terminate(), mid-kernel) is caught by the wait's time limit, and on Node by the worker's exit
 * event at the next event-loop turn. Slot 0 of each worker's record is a fault to inject (tests).
 *
 * A worker says it listens by bumping [1] itself, and `run` reads that count before each job, so
 * a worker takes jobs from the moment it is up; its message (`started`) only informs whoever awaits
 * it. A message is delivered when the calling thread's event loop turns, which a synchronous loop
 * of `predict` or `trainOnBatch` never lets happen: while the pool waited for messages, such a loop
 * ran on one thread (measured on 2 busy cores, seed model, batches of 64, 2 s right after import:
 * 21,800 samples/s, against 33,100 with the count; medians of 3 runs of each, interleaved).
 */

import { ThreadPoolError } from '../../core/errors.js';

export const FAULT = 0;
export const CLAIM = 14;
export const KERNEL = 15;
/** The kernels a pool runs, by index; each takes at most 13 arguments. */
export const POOL_KERNELS = [
  'gemmStrided', 'batchNormTrainStrided', 'batchNormGradStrided', 'sgdUpdate', 'adamUpdate', 'rmspropUpdate', 'nadamUpdate', 'fillValue',
  'addBiasActivation', 'batchNormInfer',
  'im2col', 'col2im', 'depthwiseConv2d', 'depthwiseConv2dBackpropInput', 'depthwiseConv2dBackpropFilter',
  'maxPool', 'maxPoolGrad', 'avgPool', 'avgPoolGrad',
  'groupNorm', 'groupNormGradPartial',
  'addBias', 'addVectors', 'unary', 'unaryGrad',
  'batchNormRowsSums', 'batchNormRowsSquares', 'batchNormRowsNormalize', 'batchNormRowsGradSums', 'batchNormRowsGradApply',
] as const;
export type PoolKernel = (typeof POOL_KERNELS)[number];
/** Argument positions holding a float (batchNormTrainStrided's and groupNorm's epsilon; the optimizers' rates and decays). */
export const FLOAT_ARGS: Record<PoolKernel, number[]> = {
  gemmStrided: [], batchNormTrainStrided: [11], batchNormGradStrided: [],
  sgdUpdate: [4, 5], adamUpdate: [5, 6, 7, 8], rmspropUpdate: [6, 7, 8, 9, 10], nadamUpdate: [5, 6, 7, 8, 9, 10], fillValue: [2],
  addBiasActivation: [6], batchNormInfer: [5],
  im2col: [], col2im: [], depthwiseConv2d: [], depthwiseConv2dBackpropInput: [], depthwiseConv2dBackpropFilter: [],
  maxPool: [], maxPoolGrad: [], avgPool: [], avgPoolGrad: [],
  groupNorm: [3], groupNormGradPartial: [],
  addBias: [], addVectors: [], unary: [4], unaryGrad: [6],
  batchNormRowsSums: [], batchNormRowsSquares: [], batchNormRowsNormalize: [], batchNormRowsGradSums: [], batchNormRowsGradApply: [],
};
export const NO_BLOCK = 0;
export const FREE = 1;
export const RUNNING = 2;
export const DONE = 3;
/** The worker's kernel threw while it ran this block: its output is unknown. */
export const FAILED = 4;
/** The worker claimed this block and died before its kernel started: the block is untouched. */
export const ABANDONED = 5;
/** Control word: 0 while every worker lives, else 1 + the index of the first that died. */
export const BROKEN = 3;

/** Faults a test can make a worker suffer on its next block (see KernelPool.injectFault). */
export const FAULTS = ['throw-before', 'throw-after', 'exit', 'hang', 'exit-idle', 'terminate'] as const;
export type Fault = (typeof FAULTS)[number];

export const JOB_SLOTS = 16;
export const CONTROL_HEADER = 4;

/** A pool of threads that run blocks of a kernel; the calling thread takes block 0 itself. */
export interface KernelPool {
  /** Worker threads (not counting the calling thread). */
  readonly workers: number;
  /** Whether every worker has started and listens for jobs (read from shared memory: no event-loop turn needed). */
  readonly ready: boolean;
  /** Settles when every worker listens; rejects when one fails to start. */
  readonly started: Promise<void>;
  /** Blocks run by workers so far (the rest ran on the calling thread). */
  readonly workerBlocks: number;
  /**
   * Runs `kernel` on `blocks[i + 1]` on worker i, or on the calling thread when that worker is
   * late, and on `blocks[0]` on the calling thread (`local` is the kernel there); returns when
   * all are done. Until every worker listens, every block runs on the calling thread, in order.
   * Each block is an argument list (pointers as byte offsets). With `steal` false the calling
   * thread never takes a listening worker's block, however late the worker (for tests).
   * A block whose worker died before starting it runs here (same result); once a worker has died,
   * every block runs here. Throws a ThreadPoolError when a worker's kernel threw midway, or when a
   * worker has not finished its block after the pool's time limit (TIMEOUT_MS by default); the pool
   * is shut down then (its workers are terminated: a late one must not write into the memory).
   */
  run(kernel: PoolKernel, blocks: number[][], local: (...args: number[]) => void, steal?: boolean): void;
  /**
   * Why the pool stopped using its workers, once it has (a worker died or was stuck), or once a
   * worker has said in shared memory that it died (the pool stops at its next job); else undefined.
   */
  readonly failure: string | undefined;
  /**
   * For tests: makes worker `index` suffer `fault` ('throw-before': throw on claiming its next
   * block; 'throw-after': throw after running it, before saying it is done; 'exit': exit the thread
   * there (Node); 'hang': stop there for good, without a word; 'exit-idle': exit while
   * idle; 'terminate': the thread is terminated from outside, at once). @internal
   */
  injectFault(index: number, fault: Fault): void;
}

/** What a worker receives: the kernels, their memory, the control block and its own index. */
export interface WorkerData {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  control: SharedArrayBuffer;
  index: number;
}

/** How long an idle worker spins before it sleeps in Atomics.wait. */
export const SPIN_MS = 2;

/**
 * How long the calling thread waits for a worker's block before giving up on the pool. Blocks are
 * halves of one kernel, so a worker that needs this much longer than the calling thread is stuck,
 * or its thread was killed without a word (a worker that throws or exits says so in shared memory,
 * and is not waited for). Generous, since a busy machine may deschedule a thread for a while.
 */
export const TIMEOUT_MS = 60_000;

/**
 * Source text of `startKernelWorker(data: WorkerData, ready: () => void, onExit?, exitNow?)`, the loop
 * a worker runs (`onExit(fn)` registers what to run when the thread exits, `exitNow()` ends it: the
 * platform's, Node only)
 * forever. Text, because a worker is started from source (Node: `eval`; browsers: a Blob URL) and
 * so needs no separate file that a bundler would have to find. Each platform appends the line that
 * calls it. Workers spin for SPIN_MS after each job, since training issues kernels a fraction of a
 * millisecond apart and waking from Atomics.wait costs tens of microseconds, then sleep.
 */
export function kernelWorkerSource(): string {
  return `
function startKernelWorker(data, ready, onExit, exitNow) {
  const { module, memory, control, index } = data;
  const kernels = new WebAssembly.Instance(module, { env: { memory } }).exports;
  const ctl = new Int32Array(control);
  const args = new Uint32Array(control);
  const floats = new Float32Array(control);
  const bytes = new Uint8Array(control);
  const base = ${CONTROL_HEADER} + index * ${JOB_SLOTS};
  const kernelNames = ${JSON.stringify(POOL_KERNELS)};
  const floatArgs = ${JSON.stringify(FLOAT_ARGS)};
  const faults = ${JSON.stringify(FAULTS)};
  const fns = kernelNames.map((name) => kernels[name]);
  const floatAt = kernelNames.map((name) => floatArgs[name]);
  const list = [];
  // 0: idle; 1: holds a block whose kernel has not started; 2: inside the kernel.
  let phase = 0;
  let dead = false;
  // Says in shared memory that this worker is gone, and what became of the block it held.
  const die = (error) => {
    if (dead) return;
    dead = true;
    Atomics.compareExchange(ctl, ${BROKEN}, 0, index + 1);
    if (phase !== 0) {
      if (error) {
        const text = String(error && error.name ? error.name + ': ' + error.message : error).slice(0, 51);
        for (let i = 0; i < 52; i++) bytes[(base + 1) * 4 + i] = i < text.length ? (text.charCodeAt(i) & 0x7f) || 63 : 0;
      }
      Atomics.store(ctl, base + ${CLAIM}, phase === 2 ? ${FAILED} : ${ABANDONED});
    }
  };
  if (onExit) onExit(() => die(null));
  const fault = (name) => faults[Atomics.load(ctl, base + ${FAULT}) - 1] === name;
  const suffer = (name) => {
    Atomics.store(ctl, base + ${FAULT}, 0);
    if ((name === 'exit' || name === 'exit-idle') && exitNow) exitNow();
    if (name === 'hang') for (;;) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
    throw new Error('injected fault ' + name);
  };
  try {
    let seen = Atomics.load(ctl, 0);
    Atomics.add(ctl, 1, 1); // ready: from here on no job generation can be missed
    ready();
    for (;;) {
      const spinUntil = performance.now() + ${SPIN_MS};
      for (let spins = 0; Atomics.load(ctl, 0) === seen; spins++) {
        if ((spins & 1023) === 1023) {
          if (fault('exit-idle')) suffer('exit-idle');
          if (performance.now() > spinUntil) Atomics.wait(ctl, 0, seen);
        }
      }
      seen = Atomics.load(ctl, 0);
      // Claim the block unless the calling thread already took it over (it does when we are late).
      if (Atomics.compareExchange(ctl, base + ${CLAIM}, ${FREE}, ${RUNNING}) === ${FREE}) {
        phase = 1;
        if (fault('throw-before') || fault('exit') || fault('hang')) suffer(faults[Atomics.load(ctl, base + ${FAULT}) - 1]);
        const kernel = args[base + ${KERNEL}];
        for (let i = 0; i < 13; i++) list[i] = args[base + 1 + i];
        for (const i of floatAt[kernel]) list[i] = floats[base + 1 + i];
        phase = 2;
        fns[kernel](...list);
        if (fault('throw-after')) suffer('throw-after');
        phase = 0;
        Atomics.add(ctl, 2, 1);
        Atomics.store(ctl, base + ${CLAIM}, ${DONE});
      }
    }
  } catch (error) {
    die(error);
    throw error;
  }
}
`;
}

/** What a pool needs from its platform (node/pool.ts, web-pool.ts). */
export interface PoolPlatform {
  /** Stops worker `index` at once (Worker.terminate), or every worker when index is undefined. */
  terminate(index?: number): void;
  /** Tells the user, once, that the pool went down and kernels go on on one thread. */
  report(message: string): void;
  /** How long the calling thread waits for a worker's block (default TIMEOUT_MS). */
  timeoutMs?: number;
}

/** The calling thread's side of a pool, for the platform code that starts its workers. */
export interface PoolController {
  /** The control block to hand each worker (as WorkerData.control). */
  control: SharedArrayBuffer;
  pool: KernelPool;
  /**
   * To call when a worker's message says it listens; `pool.started` resolves when all have. (The
   * pool itself uses workers from the moment they bump the count in the control block.)
   */
  workerReady(): void;
  /** To call when a worker fails to start; `pool.started` rejects. */
  workerFailed(error: Error): void;
  /**
   * To call when a worker that had started ends (its exit event): the pool stops using its workers,
   * terminates them and reports it, unless it already knew.
   */
  workerExited(index: number, how: string): void;
}

/** Starts a pool of `threads − 1` workers over the kernels' module and memory; null when it cannot. */
export type PoolStarter = (module: WebAssembly.Module, memory: WebAssembly.Memory, threads: number) => KernelPool | null;

let registeredStarter: PoolStarter | undefined;

/**
 * Hands the platform's pool starter to backends made from now on, so that they start their workers
 * at once. Node's (node/pool.ts) cannot be imported statically by browser-safe code, and a lazy
 * import would start the workers only after an event-loop turn; so Keel's Node entry registers it
 * before the default backend is made.
 */
export function registerPoolStarter(starter: PoolStarter): void {
  registeredStarter = starter;
}

/** The starter that registerPoolStarter was given, if any. */
export function registeredPoolStarter(): PoolStarter | undefined {
  return registeredStarter;
}

/** The calling thread's side of a pool of `workers` workers (see PoolController). */
export function createPoolController(workers: number, platform: PoolPlatform = { terminate: () => {}, report: () => {} }): PoolController {
  let settle!: { resolve: () => void; reject: (e: Error) => void };
  const started = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
  started.catch(() => {}); // whoever awaits `started` sees the failure; nobody has to
  let listening = 0;
  let failure: string | undefined;
  const timeoutMs = platform.timeoutMs ?? TIMEOUT_MS;
  const control = new SharedArrayBuffer((CONTROL_HEADER + workers * JOB_SLOTS) * 4);
  const ctl = new Int32Array(control);
  const args = new Uint32Array(control);
  const floats = new Float32Array(control);
  const bytes = new Uint8Array(control);
  for (let w = 0; w < workers; w++) Atomics.store(ctl, CONTROL_HEADER + w * JOB_SLOTS + CLAIM, NO_BLOCK);
  /** What worker `w`'s kernel threw, as it wrote it into its argument slots. */
  const errorOf = (w: number): string => {
    let text = '';
    for (let i = 0, at = (CONTROL_HEADER + w * JOB_SLOTS + 1) * 4; i < 52 && bytes[at + i] !== 0; i++) text += String.fromCharCode(bytes[at + i]);
    return text || 'no message';
  };
  /** Stops using the workers, for good: marks the pool broken, terminates them, reports it once. */
  const shutDown = (why: string, report: boolean) => {
    Atomics.compareExchange(ctl, BROKEN, 0, workers + 1);
    if (failure !== undefined) return;
    failure = why;
    platform.terminate();
    if (report) platform.report(`${why}; kernels run on the calling thread from now on (the same results, on one core).`);
  };
  const pool: KernelPool = {
    workers,
    started,
    get failure() {
      // A worker that died says so in shared memory at once; the pool acts on it at its next job.
      const broken = Atomics.load(ctl, BROKEN);
      return failure ?? (broken !== 0 && broken <= workers ? `wasm backend: worker thread ${broken} of ${workers} died` : undefined);
    },
    get ready() {
      return Atomics.load(ctl, 1) === workers && Atomics.load(ctl, BROKEN) === 0;
    },
    get workerBlocks() {
      return Atomics.load(ctl, 2);
    },
    injectFault(index, fault) {
      if (fault === 'terminate') return platform.terminate(index);
      Atomics.store(ctl, CONTROL_HEADER + index * JOB_SLOTS + FAULT, FAULTS.indexOf(fault) + 1);
      Atomics.notify(ctl, 0); // wakes a sleeping worker for 'exit-idle'
    },
    run(kernel, blocks, local, steal = true) {
      // Not all up yet, or one has died: the same blocks, one after the other here (a worker that
      // does not listen would miss the job, and without stealing its block would never run).
      if (Atomics.load(ctl, 1) < workers || Atomics.load(ctl, BROKEN) !== 0) {
        if (Atomics.load(ctl, BROKEN) !== 0 && failure === undefined) {
          shutDown(`wasm backend: worker thread ${Atomics.load(ctl, BROKEN)} of ${workers} died`, true);
        }
        for (const block of blocks) local(...block);
        return;
      }
      const kernelIndex = POOL_KERNELS.indexOf(kernel);
      const floatArgs = FLOAT_ARGS[kernel];
      for (let w = 0; w < workers; w++) {
        const base = CONTROL_HEADER + w * JOB_SLOTS;
        const block = blocks[w + 1];
        if (block) {
          for (let i = 0; i < block.length; i++) args[base + 1 + i] = block[i];
          for (const i of floatArgs) floats[base + 1 + i] = block[i];
          args[base + KERNEL] = kernelIndex;
        }
        // The store orders the argument writes before any claim of this block.
        Atomics.store(ctl, base + CLAIM, block ? FREE : NO_BLOCK);
      }
      Atomics.add(ctl, 0, 1);
      Atomics.notify(ctl, 0);
      local(...blocks[0]);
      // Blocks no worker has started yet are ours: a descheduled worker never holds us up.
      for (let w = 0; steal && w < workers; w++) {
        const base = CONTROL_HEADER + w * JOB_SLOTS;
        if (Atomics.compareExchange(ctl, base + CLAIM, FREE, RUNNING) === FREE) {
          local(...blocks[w + 1]);
          Atomics.store(ctl, base + CLAIM, DONE);
        }
      }
      // Then wait for the blocks workers run (or, without stealing, have yet to start). Every wait
      // is bounded: a worker that died says so at once; one that went silent, within timeoutMs.
      const begun = performance.now();
      const failed: string[] = [];
      for (let w = 0; w < workers; w++) {
        const at = CONTROL_HEADER + w * JOB_SLOTS + CLAIM;
        for (let spins = 0, state = Atomics.load(ctl, at); state !== DONE && state !== NO_BLOCK; state = Atomics.load(ctl, at), spins++) {
          if (state === ABANDONED || (state === FREE && Atomics.load(ctl, BROKEN) !== 0 && Atomics.compareExchange(ctl, at, FREE, RUNNING) === FREE)) {
            // Untouched: it runs here, and the result is the same.
            local(...blocks[w + 1]);
            Atomics.store(ctl, at, DONE);
          } else if (state === FAILED) {
            failed.push(`worker thread ${w + 1} failed while running its part of ${kernel} (${errorOf(w)})`);
            Atomics.store(ctl, at, NO_BLOCK);
          } else if ((spins & 4095) === 4095 && performance.now() - begun > timeoutMs) {
            const why = `wasm backend: worker thread ${w + 1} of ${workers} has not finished its part of ${kernel} after ${timeoutMs / 1000} s (stuck, or killed)`;
            shutDown(why, false);
            throw new ThreadPoolError(`${why}. This operation's result is lost; the thread pool is shut down and kernels run on the calling thread from now on. Run it again.`);
          }
        }
      }
      if (failed.length) {
        const why = `wasm backend: ${failed.join('; ')}`;
        shutDown(why, false);
        throw new ThreadPoolError(`${why}. Its output is incomplete, so this operation failed; the thread pool is shut down and kernels run on the calling thread from now on. Run it again; if it fails again, keel.setBackend('js') and report the error.`);
      }
      if (Atomics.load(ctl, BROKEN) !== 0) shutDown(`wasm backend: worker thread ${Atomics.load(ctl, BROKEN)} of ${workers} died`, true);
    },
  };
  return {
    control,
    pool,
    workerReady: () => {
      if (++listening === workers) settle.resolve();
    },
    workerFailed: (error) => settle.reject(error),
    workerExited: (index, how) => {
      if (failure !== undefined) return;
      shutDown(`wasm backend: worker thread ${index + 1} of ${workers} ended (${how})`, true);
    },
  };
}

const NR = 8, MR = 6;

/** How a threaded GEMM divides its work: rows of C, columns of C, or the summed dimension k. */
export type GemmSplit = 'rows' | 'cols' | 'k';

/**
 * The split that gives each thread one contiguous half (in memory) of the largest of A, B and C.
 * In training that operand is the weight matrix W: read by the forward (x·W: split k) and by the
 * input gradient (dy·Wᵀ: split C's columns), written as dW (xᵀ·dy: split C's rows) and by the
 * optimizer, whose update splits W's values into contiguous halves too. Each thread then finds its
 * half of W, and of dW, in its own cache from one kernel to the next; a split that ignored this
 * moved half of W between the cores twice a step (measured: a 32×784·784×300 GEMM whose B the other
 * thread had just rewritten ran at 62 GFLOP/s instead of 94). Falls back to C's columns, then
 * rows, when the preferred dimension is too small to split.
 */
export function chooseGemmSplit(m: number, n: number, k: number, transA: boolean, transB: boolean, parts: number): GemmSplit {
  const sizeA = m * k, sizeB = k * n, sizeC = m * n;
  // A stored m×k (or k×m when transposed), B stored k×n (or n×k), C stored m×n.
  const want: GemmSplit = sizeC >= sizeA && sizeC >= sizeB ? 'rows' : sizeB >= sizeA ? (transB ? 'cols' : 'k') : transA ? 'k' : 'rows';
  const can: Record<GemmSplit, boolean> = { rows: m >= parts * 2 * MR, cols: n >= parts * 2 * NR, k: k >= parts * 32 };
  if (can[want]) return want;
  return can.cols ? 'cols' : 'rows';
}

/**
 * Splits C = op(A)·op(B) into `parts` blocks along `split` (whole NR-column or MR-row panels;
 * k in multiples of 8), returning gemmStrided arguments for each, packing scratch from
 * `scratchFor`. A k split sums: block 0 writes C (accumulating if asked), block t > 0 writes a
 * fresh m×n partial at `partialFor(t)`, which the caller then adds into C in order of t.
 */
export function splitGemm(
  a: number, b: number, c: number, m: number, n: number, k: number,
  transA: boolean, transB: boolean, accumulate: boolean, parts: number,
  scratchFor: (part: number, m: number, n: number) => number,
  split: GemmSplit = chooseGemmSplit(m, n, k, transA, transB, parts),
  partialFor: (part: number) => number = () => { throw new Error('splitGemm: a k split needs partialFor'); },
): number[][] {
  const lda = transA ? m : k, ldb = transB ? k : n, ldc = n;
  const blocks: number[][] = [];
  if (split === 'cols') {
    // Each thread packs only its own part of B.
    const panels = Math.ceil(n / NR);
    for (let t = 0, start = 0; t < parts; t++) {
      const end = t === parts - 1 ? n : Math.min(n, Math.round((panels * (t + 1)) / parts) * NR);
      const cols = end - start;
      const bj = transB ? b + start * ldb * 4 : b + start * 4;
      blocks.push([a, bj, c + start * 4, m, cols, k, lda, ldb, ldc, +transA, +transB, +accumulate, scratchFor(t, m, cols)]);
      start = end;
    }
  } else if (split === 'rows') {
    const panels = Math.ceil(m / MR);
    for (let t = 0, start = 0; t < parts; t++) {
      const end = t === parts - 1 ? m : Math.min(m, Math.round((panels * (t + 1)) / parts) * MR);
      const rows = end - start;
      const ai = transA ? a + start * 4 : a + start * lda * 4;
      blocks.push([ai, b, c + start * ldc * 4, rows, n, k, lda, ldb, ldc, +transA, +transB, +accumulate, scratchFor(t, rows, n)]);
      start = end;
    }
  } else {
    for (let t = 0, start = 0; t < parts; t++) {
      const end = t === parts - 1 ? k : Math.min(k, Math.round((k * (t + 1)) / parts / 8) * 8);
      const depth = end - start;
      const ak = transA ? a + start * lda * 4 : a + start * 4;
      const bk = transB ? b + start * 4 : b + start * ldb * 4;
      const out = t === 0 ? c : partialFor(t);
      blocks.push([ak, bk, out, m, n, depth, lda, ldb, ldc, +transA, +transB, t === 0 ? +accumulate : 0, scratchFor(t, m, n)]);
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
