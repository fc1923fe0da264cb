/**
 * The browser's kernel thread pool: Web Workers running threads.ts's worker loop over the same
 * shared WebAssembly memory. Browsers share memory between threads only on pages that are
 * cross-origin isolated (served with `Cross-Origin-Opener-Policy: same-origin` and
 * `Cross-Origin-Embedder-Policy: require-corp`); elsewhere the kernels run on one thread.
 *
 * Workers start from a Blob URL of the loop's source, so that no separate worker file has to be
 * served or found by a bundler. Gotcha: a Content-Security-Policy without `worker-src blob:`
 * forbids that; the pool then fails to start and the kernels stay on the calling thread.
 */
import { createPoolController, kernelWorkerSource, type KernelPool, type PoolPlatform, type WorkerData } from './threads.js';

/** Whether this page can run a pool: Web Workers and shared memory (cross-origin isolation). */
export function webWorkersAvailable(): boolean {
  const g = globalThis as { crossOriginIsolated?: boolean; Worker?: unknown; Blob?: unknown; URL?: { createObjectURL?: unknown } };
  return g.crossOriginIsolated === true && typeof g.Worker === 'function' && typeof g.Blob === 'function'
    && typeof g.URL?.createObjectURL === 'function';
}

/**
 * Starts `threads − 1` Web Workers; the pool can run jobs at once (see threads.ts). Gotcha: unlike
 * Node's worker threads, a Web Worker gets going only while the page's event loop turns (measured in
 * Chromium: none had started after 5 s of a synchronous `predict` loop begun at import, nor when
 * five `setTimeout(0)` turns came before the loop), so such a loop needs `await keel.ready()` first.
 */
export function createWebKernelPool(module: WebAssembly.Module, memory: WebAssembly.Memory, threads: number): KernelPool | null {
  const workers = Math.max(0, threads - 1);
  if (workers === 0 || !webWorkersAvailable()) return null;
  const source = `${kernelWorkerSource()}\nonmessage = (event) => startKernelWorker(event.data, () => postMessage('ready'));\n`;
  const url = URL.createObjectURL(new Blob([source], { type: 'text/javascript' }));
  const spawned: Worker[] = [];
  const platform: PoolPlatform = {
    terminate: (index) => spawned.forEach((w, i) => { if (index === undefined || i === index) w.terminate(); }),
    report: (message) => console.warn(`keel: ${message}`),
  };
  const { control, pool, workerReady, workerFailed, workerExited } = createPoolController(workers, platform);
  let listening = 0;
  const fail = (message: string) => {
    platform.terminate();
    URL.revokeObjectURL(url);
    workerFailed(new Error(`wasm backend: a Web Worker failed to start (${message}); kernels stay on one thread.`));
  };
  try {
    for (let index = 0; index < workers; index++) {
      const worker = new Worker(url);
      let started = false;
      worker.onmessage = () => {
        started = true;
        if (++listening === workers) URL.revokeObjectURL(url); // every worker has loaded it
        workerReady();
      };
      // Before the start: the pool never starts. After: the worker's loop threw (it said so in
      // shared memory first), and the pool stops using its workers.
      worker.onerror = (event) => {
        if (!started) fail(event.message || 'error event');
        else workerExited(index, event.message || 'error event');
      };
      const data: WorkerData = { module, memory, control, index };
      worker.postMessage(data);
      spawned.push(worker);
    }
  } catch (e) {
    fail((e as Error).message);
  }
  return pool;
}
