/**
 * Node's kernel thread pool: worker_threads running ../threads.ts's worker loop over the same
 * shared WebAssembly memory. Workers are unref'd once they listen, so that they never keep a process
 * alive. A worker thread runs on its own from `new Worker` on, whatever the calling thread does, and
 * takes kernels as soon as it has bumped the pool's count of listening workers.
 */
import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { createPoolController, kernelWorkerSource, registerPoolStarter, type KernelPool } from '../threads.js';

// `import()` rather than `require`: an eval'd worker is CommonJS or ESM depending on the parent's
// flags (`node --input-type=module` makes it ESM), and dynamic import works in both.
const workerSource = `${kernelWorkerSource()}
import('node:worker_threads').then(({ workerData, parentPort }) => startKernelWorker(workerData, () => parentPort.postMessage('ready')));
`;

/**
 * Starts `threads − 1` workers (default: one per core beyond the calling thread). The pool can run
 * jobs at once: until every worker listens, the blocks run on the calling thread.
 */
export function createKernelPool(module: WebAssembly.Module, memory: WebAssembly.Memory, threads = availableParallelism()): KernelPool | null {
  const workers = Math.max(0, threads - 1);
  if (workers === 0) return null;
  const spawned: Worker[] = [];
  const { control, pool, workerReady, workerFailed } = createPoolController(workers);
  for (let index = 0; index < workers; index++) {
    const worker = new Worker(workerSource, { eval: true, workerData: { module, memory, control, index } });
    // Referenced until it listens, so that awaiting `started` keeps the process alive; unref'd
    // from then on, so that an idle pool never does.
    worker.once('message', () => {
      worker.unref();
      workerReady();
    });
    // A worker that cannot start (no memory for its stack, say) must not crash the process: the
    // pool then never becomes ready, and the kernels keep running on the calling thread.
    worker.once('error', (e: Error) => {
      for (const w of spawned) void w.terminate();
      workerFailed(e);
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
