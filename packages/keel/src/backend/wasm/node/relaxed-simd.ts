/**
 * The wasm backend's Node set-up, which the Node entry point (src/node/index.ts) imports first, so
 * that it runs before the kernels are compiled and the default backend is made. Two things:
 *
 * - Turns on WebAssembly relaxed SIMD in engines that have it complete but behind a flag: Node 20's
 *   V8 11.3. V8 ships it from 11.4 (Chrome 114, Node 22), where this does nothing. Relaxed SIMD
 *   gives the GEMM kernels fused multiply-adds, worth 10–30% of training speed (bench/run.ts).
 *   `KEEL_RELAXED_SIMD=0` in the environment leaves the flag alone.
 * - Registers Node's worker pool (pool.ts), so that a backend starts its worker as it is made:
 *   browser-safe code can reach pool.ts only by a lazy import, which completes on an event-loop
 *   turn that a synchronous training loop never gives.
 *
 * No flag for eager tier-up of the kernels: the first thousand or so `predict` calls run slower, but
 * not for want of optimized kernels. Measured on Node 20, seed model, one example, first 2,000 calls
 * against the next 2,000: 2.05× as long by default, 2.27× with `--no-liftoff` (each kernel
 * optimized at its first call), 1.84× with `--no-wasm-dynamic-tiering` (all optimized in the
 * background at once); medians of 3 on busy cores, so within noise. The GEMM kernel alone, called
 * directly, takes 1.4-1.6× its steady time over its first 250 calls under each of these flags, so
 * the warm-up is not the kernels' tier (most likely V8 compiling Keel's JavaScript, and memory
 * touched for the first time).
 *
 * Gotcha: V8 flags are process-wide. This one lets every WebAssembly module in the process use the
 * relaxed SIMD opcodes: another wasm library that probes for them (WebAssembly.validate) will find
 * them too and may pick its relaxed build, as it would on Node 22.
 */
import { setFlagsFromString } from 'node:v8';
import { registerNodeKernelPool } from './pool.js';

const [major, minor] = process.versions.v8.split('.').map(Number);
const shipped = major > 11 || (major === 11 && minor >= 4);
if (!shipped && process.env.KEEL_RELAXED_SIMD !== '0') setFlagsFromString('--experimental-wasm-relaxed-simd');

registerNodeKernelPool();
