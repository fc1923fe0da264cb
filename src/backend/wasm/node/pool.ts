/**
 * Node's GEMM thread pool: worker_threads that instantiate the kernels over the same shared
 * WebAssembly memory and take blocks of C (see ../threads.ts for the protocol). Workers spin
 * for SPIN_MS after each job, since training issues GEMMs back to back, then sleep in Atomics.wait;
 * they are unref'd so that they never keep a process alive.
 */
import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { CONTROL_HEADER, JOB_SLOTS, type GemmPool } from '../threads.js';

/** How long an idle worker spins before it sleeps. */
const SPIN_MS = 2;

const workerSource = `
const { workerData } = require('node:worker_threads');
const { module, memory, control, index, header, slots } = workerData;
const kernels = new WebAssembly.Instance(module, { env: { memory } }).exports;
const ctl = new Int32Array(control);
const args = new Uint32Array(control);
const base = header + index * slots;
let seen = Atomics.load(ctl, 0);
Atomics.add(ctl, 2, 1); // ready: from here on no job generation can be missed
for (;;) {
  // Spin for up to SPIN_MS after the last job (training issues GEMMs a fraction of a millisecond
  // apart, and waking from Atomics.wait costs tens of microseconds), then sleep.
  const spinUntil = performance.now() + ${SPIN_MS};
  for (let spins = 0; Atomics.load(ctl, 0) === seen; spins++) {
    if ((spins & 1023) === 1023 && performance.now() > spinUntil) Atomics.wait(ctl, 0, seen);
  }
  seen = Atomics.load(ctl, 0);
  if (args[base] === 1) {
    kernels.gemmStrided(args[base + 1], args[base + 2], args[base + 3], args[base + 4], args[base + 5], args[base + 6],
      args[base + 7], args[base + 8], args[base + 9], args[base + 10], args[base + 11], args[base + 12], args[base + 13]);
  }
  Atomics.add(ctl, 1, 1);
  Atomics.notify(ctl, 1);
}
`;

/** Starts `threads − 1` workers (default: one per core beyond the calling thread). */
export function createGemmPool(module: WebAssembly.Module, memory: WebAssembly.Memory, threads = availableParallelism()): GemmPool | null {
  const workers = Math.max(0, threads - 1);
  if (workers === 0) return null;
  const control = new SharedArrayBuffer((CONTROL_HEADER + workers * JOB_SLOTS) * 4);
  const ctl = new Int32Array(control);
  const args = new Uint32Array(control);
  for (let index = 0; index < workers; index++) {
    const worker = new Worker(workerSource, {
      eval: true,
      workerData: { module, memory, control, index, header: CONTROL_HEADER, slots: JOB_SLOTS },
    });
    worker.unref();
  }
  return {
    workers,
    get ready() {
      return Atomics.load(ctl, 2) === workers;
    },
    run(blocks, local) {
      for (let w = 0; w < workers; w++) {
        const base = CONTROL_HEADER + w * JOB_SLOTS;
        const block = blocks[w + 1];
        args[base] = block ? 1 : 0;
        if (block) for (let i = 0; i < block.length; i++) args[base + 1 + i] = block[i];
      }
      Atomics.store(ctl, 1, 0);
      Atomics.add(ctl, 0, 1);
      Atomics.notify(ctl, 0);
      local();
      let spins = 0;
      const started = Date.now();
      for (let done; (done = Atomics.load(ctl, 1)) < workers; ) {
        if (++spins > 20000) {
          Atomics.wait(ctl, 1, done, 100);
          if (Date.now() - started > 10_000) throw new Error('wasm backend: a GEMM worker thread stopped answering.');
        }
      }
    },
  };
}
