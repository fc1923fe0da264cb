/**
 * Turns on WebAssembly relaxed SIMD in engines that have it complete but behind a flag: Node 20's
 * V8 11.3. V8 ships it from 11.4 (Chrome 114, Node 22), where this does nothing. Relaxed SIMD gives
 * the GEMM kernels fused multiply-adds, worth 10–30% of training speed (bench/run.ts).
 *
 * The flag must be set before the kernels are compiled, so the Node entry point (src/node/index.ts)
 * imports this module first. `KEEL_RELAXED_SIMD=0` in the environment leaves the flag alone.
 *
 * Gotcha: V8 flags are process-wide. This one lets every WebAssembly module in the process use the
 * relaxed SIMD opcodes: another wasm library that probes for them (WebAssembly.validate) will find
 * them too and may pick its relaxed build, as it would on Node 22.
 */
import { setFlagsFromString } from 'node:v8';

const [major, minor] = process.versions.v8.split('.').map(Number);
const shipped = major > 11 || (major === 11 && minor >= 4);
if (!shipped && process.env.KEEL_RELAXED_SIMD !== '0') setFlagsFromString('--experimental-wasm-relaxed-simd');
