/**
 * Node's GEMM thread pool: worker_threads that instantiate the kernels over the same shared
 * WebAssembly memory and take blocks of C (see ../threads.ts for the protocol). Workers spin
 * for SPIN_MS after each job, since training issues GEMMs back to back, then sleep in Atomics.wait;
 * they are unref'd so that they never keep a process alive.
 */
import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { CLAIM, CONTROL_HEADER, DONE, FREE, JOB_SLOTS, NO_BLOCK, RUNNING, type GemmPool } from '../threads.js';

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
Atomics.add(ctl, 1, 1); // ready: from here on no job generation can be missed
for (;;) {
  // Spin for up to SPIN_MS after the last job (training issues GEMMs a fraction of a millisecond
  // apart, and waking from Atomics.wait costs tens of microseconds), then sleep.
  const spinUntil = performance.now() + ${SPIN_MS};
  for (let spins = 0; Atomics.load(ctl, 0) === seen; spins++) {
    if ((spins & 1023) === 1023 && performance.now() > spinUntil) Atomics.wait(ctl, 0, seen);
  }
  seen = Atomics.load(ctl, 0);
  // Claim the block unless the calling thread already took it over (it does when we are late).
  if (Atomics.compareExchange(ctl, base + ${CLAIM}, ${FREE}, ${RUNNING}) === ${FREE}) {
    kernels.gemmStrided(args[base + 1], args[base + 2], args[base + 3], args[base + 4], args[base + 5], args[base + 6],
      args[base + 7], args[base + 8], args[base + 9], args[base + 10], args[base + 11], args[base + 12], args[base + 13]);
    Atomics.store(ctl, base + ${CLAIM}, ${DONE});
  }
}
`;

/** Starts `threads − 1` workers (default: one per core beyond the calling thread). */
export function createGemmPool(module: WebAssembly.Module, memory: WebAssembly.Memory, threads = availableParallelism()): GemmPool | null {
  const workers = Math.max(0, threads - 1);
  if (workers === 0) return null;
  const control = new SharedArrayBuffer((CONTROL_HEADER + workers * JOB_SLOTS) * 4);
  const ctl = new Int32Array(control);
  const args = new Uint32Array(control);
  for (let w = 0; w < workers; w++) Atomics.store(ctl, CONTROL_HEADER + w * JOB_SLOTS + CLAIM, NO_BLOCK);
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
      return Atomics.load(ctl, 1) === workers;
    },
    run(blocks, gemmStrided) {
      for (let w = 0; w < workers; w++) {
        const base = CONTROL_HEADER + w * JOB_SLOTS;
        const block = blocks[w + 1];
        if (block) for (let i = 0; i < block.length; i++) args[base + 1 + i] = block[i];
        // The store orders the argument writes before any claim of this block.
        Atomics.store(ctl, base + CLAIM, block ? FREE : NO_BLOCK);
      }
      Atomics.add(ctl, 0, 1);
      Atomics.notify(ctl, 0);
      gemmStrided(...blocks[0]);
      // Blocks no worker has started yet are ours: a descheduled worker never holds us up.
      for (let w = 0; w < workers; w++) {
        const base = CONTROL_HEADER + w * JOB_SLOTS;
        if (Atomics.compareExchange(ctl, base + CLAIM, FREE, RUNNING) === FREE) {
          gemmStrided(...blocks[w + 1]);
          Atomics.store(ctl, base + CLAIM, DONE);
        }
      }
      // Then wait for the blocks workers are running.
      const started = Date.now();
      for (let w = 0; w < workers; w++) {
        const at = CONTROL_HEADER + w * JOB_SLOTS + CLAIM;
        for (let spins = 0; Atomics.load(ctl, at) === RUNNING; spins++) {
          if ((spins & 4095) === 4095 && Date.now() - started > 10_000) {
            throw new Error('wasm backend: a GEMM worker thread stopped answering.');
          }
        }
      }
    },
  };
}
