/**
 * Node's kernel thread pool: worker_threads running ../threads.ts's worker loop over the same
 * shared WebAssembly memory. Workers are unref'd once they listen, so that they never keep a process
 * alive. A worker thread runs on its own from `new Worker` on, whatever the calling thread does, and
 * takes kernels as soon as it has bumped the pool's count of listening workers.
 *
 * Deaths: a worker that throws or calls process.exit says so in shared memory from its own exit
 * handler (see ../threads.ts); one that ends otherwise (terminated) is noticed by its exit event, at
 * the next event-loop turn. Either way the pool stops using its workers, terminates them, and emits
 * a process warning (code KEEL_THREAD_POOL) once; kernels go on on the calling thread, with the same
 * results. Workers that have not all started after START_TIMEOUT_MS are given up the same way, so
 * that `keel.ready()` always settles.
 */
import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { createPoolController, kernelWorkerSource, registerPoolStarter, type KernelPool, type PoolPlatform } from '../threads.js';

// `import()` rather than `require`: an eval'd worker is CommonJS or ESM depending on the parent's
// flags (`node --input-type=module` makes it ESM), and dynamic import works in both.
const workerSource = `${kernelWorkerSource()}
import('node:worker_threads').then(({ workerData, parentPort }) =>
  startKernelWorker(workerData, () => parentPort.postMessage('ready'), (said) => process.on('exit', said), () => process.exit(70)));
`;

/** How long workers may take to start before the pool gives up on them (they take well under a second). */
export const START_TIMEOUT_MS = 30_000;

export interface KernelPoolOptions {
  /** How long the calling thread waits for a worker's block (default TIMEOUT_MS, 60 s). */
  timeoutMs?: number;
  /** How long the workers may take to start (default START_TIMEOUT_MS). */
  startTimeoutMs?: number;
}

/**
 * Starts `threads − 1` workers (default: one per core beyond the calling thread). The pool can run
 * jobs at once: until every worker listens, the blocks run on the calling thread.
 */
export function createKernelPool(
  module: WebAssembly.Module, memory: WebAssembly.Memory, threads = availableParallelism(), options: KernelPoolOptions = {},
): KernelPool | null {
  const workers = Math.max(0, threads - 1);
  if (workers === 0) return null;
  const spawned: Worker[] = [];
  const platform: PoolPlatform = {
    terminate: (index) => spawned.forEach((w, i) => { if (index === undefined || i === index) void w.terminate(); }),
    report: (message) => process.emitWarning(message, { code: 'KEEL_THREAD_POOL' }),
    timeoutMs: options.timeoutMs,
  };
  const { control, pool, workerReady, workerFailed, workerExited } = createPoolController(workers, platform);
  let up = 0;
  // A worker that cannot start (no memory for its stack, say) must not crash the process: the
  // pool then never becomes ready, and the kernels keep running on the calling thread.
  const failToStart = (e: Error) => {
    clearTimeout(startTimer);
    platform.terminate();
    workerFailed(e);
  };
  const startTimer = setTimeout(() => {
    failToStart(new Error(`wasm backend: the worker threads had not started after ${(options.startTimeoutMs ?? START_TIMEOUT_MS) / 1000} s; kernels stay on one thread.`));
  }, options.startTimeoutMs ?? START_TIMEOUT_MS);
  startTimer.unref();
  for (let index = 0; index < workers; index++) {
    const worker = new Worker(workerSource, { eval: true, workerData: { module, memory, control, index } });
    let listening = false;
    // Referenced until it listens, so that awaiting `started` keeps the process alive; unref'd
    // from then on, so that an idle pool never does.
    worker.once('message', () => {
      listening = true;
      worker.unref();
      if (++up === workers) clearTimeout(startTimer);
      workerReady();
    });
    // After the start, an error is followed by the exit event, which says the rest.
    worker.on('error', (e: Error) => { if (!listening) failToStart(e); });
    worker.once('exit', (code) => {
      if (!listening) failToStart(new Error(`wasm backend: a worker thread ended (exit code ${code}) before it started; kernels stay on one thread.`));
      else workerExited(index, `exit code ${code}`);
    });
    spawned.push(worker);
  }
  return pool;
}

/**
 * Makes wasm backends created from now on start this pool synchronously (see registerPoolStarter);
 * Keel's Node entry calls it before the default backend is made.
 */
export function registerNodeKernelPool(): void {
  registerPoolStarter(createKernelPool);
}
