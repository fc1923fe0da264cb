/**
 * Node's kernel thread pool: worker_threads that instantiate the kernels over the same shared
 * WebAssembly memory and take blocks of a GEMM or a BN (see ../threads.ts for the protocol). Workers spin
 * for SPIN_MS after each job, since training issues GEMMs back to back, then sleep in Atomics.wait;
 * they are unref'd so that they never keep a process alive.
 */
import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { CLAIM, CONTROL_HEADER, DONE, FLOAT_ARGS, FREE, JOB_SLOTS, KERNEL, NO_BLOCK, POOL_KERNELS, RUNNING, type KernelPool } from '../threads.js';

/** How long an idle worker spins before it sleeps. */
const SPIN_MS = 2;

const workerSource = `
const { workerData } = require('node:worker_threads');
const { module, memory, control, index, header, slots } = workerData;
const kernels = new WebAssembly.Instance(module, { env: { memory } }).exports;
const ctl = new Int32Array(control);
const args = new Uint32Array(control);
const floats = new Float32Array(control);
const base = header + index * slots;
const kernelNames = ${JSON.stringify(POOL_KERNELS)};
const floatArgs = ${JSON.stringify(FLOAT_ARGS)};
const fns = kernelNames.map((name) => kernels[name]);
const floatAt = kernelNames.map((name) => floatArgs[name]);
const list = [];
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
    const kernel = args[base + ${KERNEL}];
    for (let i = 0; i < 13; i++) list[i] = args[base + 1 + i];
    for (const i of floatAt[kernel]) list[i] = floats[base + 1 + i];
    fns[kernel](...list);
    Atomics.store(ctl, base + ${CLAIM}, ${DONE});
  }
}
`;

/** Starts `threads − 1` workers (default: one per core beyond the calling thread). */
export function createKernelPool(module: WebAssembly.Module, memory: WebAssembly.Memory, threads = availableParallelism()): KernelPool | null {
  const workers = Math.max(0, threads - 1);
  if (workers === 0) return null;
  const control = new SharedArrayBuffer((CONTROL_HEADER + workers * JOB_SLOTS) * 4);
  const ctl = new Int32Array(control);
  const args = new Uint32Array(control);
  const floats = new Float32Array(control);
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
    run(kernel, blocks, local) {
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
      for (let w = 0; w < workers; w++) {
        const base = CONTROL_HEADER + w * JOB_SLOTS;
        if (Atomics.compareExchange(ctl, base + CLAIM, FREE, RUNNING) === FREE) {
          local(...blocks[w + 1]);
          Atomics.store(ctl, base + CLAIM, DONE);
        }
      }
      // Then wait for the blocks workers are running.
      const started = Date.now();
      for (let w = 0; w < workers; w++) {
        const at = CONTROL_HEADER + w * JOB_SLOTS + CLAIM;
        for (let spins = 0; Atomics.load(ctl, at) === RUNNING; spins++) {
          if ((spins & 4095) === 4095 && Date.now() - started > 10_000) {
            throw new Error('wasm backend: a worker thread stopped answering.');
          }
        }
      }
    },
  };
}
