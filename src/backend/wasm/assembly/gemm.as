// AssemblyScript (compiled by scripts/build-wasm.mjs; the .as extension keeps it out of tsc's sight).
//
// C = op(A)·op(B) (+ C): packed, register-blocked SIMD GEMM in the style of Goto & van de Geijn.
// For each block of KC values along k, op(A) is packed into row panels of MR=4 rows laid out
// [p][4] and op(B) into column panels of NR=16 columns laid out [p][16] (zero-padded at the edges),
// so the micro-kernel reads both operands contiguously whatever the transposes were. The 4×16
// micro-kernel keeps 16 f32x4 accumulators in registers: per step of k it loads 4 vectors of B,
// broadcasts 4 scalars of A and issues 16 multiply-adds.

const MR: i32 = 4;
const NR: i32 = 16;
/** k-block: a 16-column B panel of KC rows (16 KB) stays in L1 while all row panels of A pass. */
export const KC: i32 = 256;

/** op(A) rows [0, m), k-range [p0, p0+kc) into panels of MR rows: dst[panel][p][r]. */
function packA(a: usize, dst: usize, m: i32, k: i32, p0: i32, kc: i32, transA: bool): void {
  // A(i, p) = a[i*k + p], or a[p*m + i] when transposed.
  const rowStride: usize = transA ? 4 : <usize>k << 2;
  const colStride: usize = transA ? <usize>m << 2 : 4;
  for (let i0 = 0; i0 < m; i0 += MR) {
    const rows = min(MR, m - i0);
    let src = a + <usize>i0 * rowStride + <usize>p0 * colStride;
    if (rows == MR) {
      for (let p = 0; p < kc; p++) {
        store<f32>(dst, load<f32>(src));
        store<f32>(dst, load<f32>(src + rowStride), 4);
        store<f32>(dst, load<f32>(src + 2 * rowStride), 8);
        store<f32>(dst, load<f32>(src + 3 * rowStride), 12);
        dst += 16;
        src += colStride;
      }
    } else {
      for (let p = 0; p < kc; p++) {
        for (let r = 0; r < MR; r++) {
          store<f32>(dst + (<usize>r << 2), r < rows ? load<f32>(src + <usize>r * rowStride) : 0);
        }
        dst += 16;
        src += colStride;
      }
    }
  }
}

/** op(B) columns [0, n), k-range [p0, p0+kc) into panels of NR columns: dst[panel][p][j]. */
function packB(b: usize, dst: usize, n: i32, k: i32, p0: i32, kc: i32, transB: bool): void {
  // B(p, j) = b[p*n + j], or b[j*k + p] when transposed.
  for (let j0 = 0; j0 < n; j0 += NR) {
    const cols = min(NR, n - j0);
    if (!transB) {
      let src = b + ((<usize>p0 * n + j0) << 2);
      const rowBytes = <usize>n << 2;
      if (cols == NR) {
        for (let p = 0; p < kc; p++) {
          v128.store(dst, v128.load(src));
          v128.store(dst, v128.load(src, 16), 16);
          v128.store(dst, v128.load(src, 32), 32);
          v128.store(dst, v128.load(src, 48), 48);
          dst += 64;
          src += rowBytes;
        }
      } else {
        for (let p = 0; p < kc; p++) {
          for (let j = 0; j < NR; j++) {
            store<f32>(dst + (<usize>j << 2), j < cols ? load<f32>(src + (<usize>j << 2)) : 0);
          }
          dst += 64;
          src += rowBytes;
        }
      }
    } else {
      // Column j of op(B) is row j of b: walk each row once, scattering into the panel.
      for (let j = 0; j < NR; j++) {
        const out = dst + (<usize>j << 2);
        if (j < cols) {
          const src = b + ((<usize>(j0 + j) * k + p0) << 2);
          for (let p = 0; p < kc; p++) store<f32>(out + (<usize>p << 6), load<f32>(src + (<usize>p << 2)));
        } else {
          for (let p = 0; p < kc; p++) store<f32>(out + (<usize>p << 6), 0);
        }
      }
      dst += <usize>kc << 6;
    }
  }
}

/**
 * C[4×16 tile] += Apanel·Bpanel over kc steps. `rows`/`cols` < 4/16 at the edges of C, where the
 * tile goes through `tile` (64 floats of scratch) so that nothing outside C is written.
 */
function micro(ap: usize, bp: usize, kc: i32, c: usize, ldc: usize, rows: i32, cols: i32, tile: usize): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c02 = f32x4.splat(0), c03 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0), c12 = f32x4.splat(0), c13 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c22 = f32x4.splat(0), c23 = f32x4.splat(0);
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0), c32 = f32x4.splat(0), c33 = f32x4.splat(0);
  for (let p = 0; p < kc; p++) {
    const b0 = v128.load(bp), b1 = v128.load(bp, 16), b2 = v128.load(bp, 32), b3 = v128.load(bp, 48);
    let a = v128.load32_splat(ap);
    c00 = f32x4.add(c00, f32x4.mul(a, b0)); c01 = f32x4.add(c01, f32x4.mul(a, b1));
    c02 = f32x4.add(c02, f32x4.mul(a, b2)); c03 = f32x4.add(c03, f32x4.mul(a, b3));
    a = v128.load32_splat(ap, 4);
    c10 = f32x4.add(c10, f32x4.mul(a, b0)); c11 = f32x4.add(c11, f32x4.mul(a, b1));
    c12 = f32x4.add(c12, f32x4.mul(a, b2)); c13 = f32x4.add(c13, f32x4.mul(a, b3));
    a = v128.load32_splat(ap, 8);
    c20 = f32x4.add(c20, f32x4.mul(a, b0)); c21 = f32x4.add(c21, f32x4.mul(a, b1));
    c22 = f32x4.add(c22, f32x4.mul(a, b2)); c23 = f32x4.add(c23, f32x4.mul(a, b3));
    a = v128.load32_splat(ap, 12);
    c30 = f32x4.add(c30, f32x4.mul(a, b0)); c31 = f32x4.add(c31, f32x4.mul(a, b1));
    c32 = f32x4.add(c32, f32x4.mul(a, b2)); c33 = f32x4.add(c33, f32x4.mul(a, b3));
    ap += 16;
    bp += 64;
  }
  const full = rows == MR && cols == NR;
  // Full tiles add straight into C; edge tiles land in `tile` (row stride 64 bytes) first.
  let dst = full ? c : tile;
  const ld = full ? ldc : 64;
  if (full) {
    addRow(dst, c00, c01, c02, c03); dst += ld;
    addRow(dst, c10, c11, c12, c13); dst += ld;
    addRow(dst, c20, c21, c22, c23); dst += ld;
    addRow(dst, c30, c31, c32, c33);
    return;
  }
  storeRow(dst, c00, c01, c02, c03); dst += ld;
  storeRow(dst, c10, c11, c12, c13); dst += ld;
  storeRow(dst, c20, c21, c22, c23); dst += ld;
  storeRow(dst, c30, c31, c32, c33);
  for (let r = 0; r < rows; r++) {
    const crow = c + <usize>r * ldc;
    const trow = tile + (<usize>r << 6);
    for (let j = 0; j < cols; j++) {
      const o = <usize>j << 2;
      store<f32>(crow + o, load<f32>(crow + o) + load<f32>(trow + o));
    }
  }
}

@inline function addRow(p: usize, v0: v128, v1: v128, v2: v128, v3: v128): void {
  v128.store(p, f32x4.add(v128.load(p), v0));
  v128.store(p, f32x4.add(v128.load(p, 16), v1), 16);
  v128.store(p, f32x4.add(v128.load(p, 32), v2), 32);
  v128.store(p, f32x4.add(v128.load(p, 48), v3), 48);
}

@inline function storeRow(p: usize, v0: v128, v1: v128, v2: v128, v3: v128): void {
  v128.store(p, v0);
  v128.store(p, v1, 16);
  v128.store(p, v2, 32);
  v128.store(p, v3, 48);
}

/** Floats of scratch `gemm` needs for these sizes (packed A and B blocks plus an edge tile). */
export function gemmScratchFloats(m: i32, n: i32, k: i32): i32 {
  const kc = min(k, KC);
  const mp = (m + MR - 1) / MR * MR;
  const np = (n + NR - 1) / NR * NR;
  return mp * kc + np * kc + MR * NR;
}

/**
 * C = op(A)·op(B), or C += op(A)·op(B) when `accumulate`; op(A) is m×k, op(B) k×n, C m×n, all
 * row-major. `scratch` holds gemmScratchFloats(m, n, k) floats and must not overlap the operands.
 */
export function gemm(
  a: usize, b: usize, c: usize, m: i32, n: i32, k: i32,
  transA: bool, transB: bool, accumulate: bool, scratch: usize,
): void {
  if (!accumulate) memory.fill(c, 0, <usize>m * n << 2);
  if (m == 0 || n == 0 || k == 0) return;
  const kcMax = min(k, KC);
  const mp = (m + MR - 1) / MR * MR;
  const np = (n + NR - 1) / NR * NR;
  const packedA = scratch;
  const packedB = packedA + (<usize>mp * kcMax << 2);
  const tile = packedB + (<usize>np * kcMax << 2);
  const ldc = <usize>n << 2;
  for (let p0 = 0; p0 < k; p0 += KC) {
    const kc = min(KC, k - p0);
    packA(a, packedA, m, k, p0, kc, transA);
    packB(b, packedB, n, k, p0, kc, transB);
    // B panel outer, A panels inner: the 16×kc B panel is reused from L1 by every row panel.
    for (let j0 = 0; j0 < n; j0 += NR) {
      const bp = packedB + (<usize>j0 * kc << 2);
      const cols = min(NR, n - j0);
      for (let i0 = 0; i0 < m; i0 += MR) {
        const ap = packedA + (<usize>i0 * kc << 2);
        micro(ap, bp, kc, c + <usize>i0 * ldc + (<usize>j0 << 2), ldc, min(MR, m - i0), cols, tile);
      }
    }
  }
}
