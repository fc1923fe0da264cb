// AssemblyScript (compiled by scripts/build-wasm.mjs; the .as extension keeps it out of tsc's sight).
//
// C = op(A)·op(B) (+ C): packed, register-blocked SIMD GEMM in the style of Goto & van de Geijn.
// For each block of KC values along k, op(A) is packed into row panels of MR=6 rows laid out
// [p][MR] and op(B) into column panels of NR=8 columns laid out [p][NR] (zero-padded at the
// edges), so the micro-kernel reads both operands contiguously whatever the transposes were. The
// 6×8 micro-kernel keeps 12 f32x4 accumulators in registers: per step of k it loads 2 vectors of
// B, broadcasts 6 scalars of A and issues 12 multiply-adds. 6×8 rather than 4×16 because V8 has
// 15 allocatable xmm registers on x64 and each mul needs a temporary (measured: 4×16 spills and
// ran ~10% slower). The k loop is not unrolled: two k-steps per iteration (measured 2026-12-02,
// one thread) ran at 24-28 GFLOP/s against 31-37 for one, as V8 then spills accumulators.

/**
 * c + a·b per lane. With RELAXED (set by the build, `--use RELAXED=1`) one fused multiply-add
 * (relaxed SIMD: rounding may be fused or not, within float32 rounding either way); else a
 * multiply and an add. The FMA form halves the floating-point instructions of the micro-kernels.
 */
// @ts-ignore: decorator
@inline function madd(a: v128, b: v128, c: v128): v128 {
  return RELAXED ? f32x4.relaxed_madd(a, b, c) : f32x4.add(c, f32x4.mul(a, b));
}

const MR: i32 = 6;
const NR: i32 = 8;
/** k-block: an 8-column B panel of KC rows (8 KB) stays in L1 while the row panels of A pass. */
export const KC: i32 = 256;
/**
 * Row block: MC rows of packed A (MC·KC floats, 384 KB) stay in L2 while every column panel of B
 * passes over them. Without it a tall A (predicting 10,000 examples at once: 10 MB per k-block)
 * streamed from memory once per 8 columns of B.
 */
export const MC: i32 = 384;

/** op(A)'s full panels of MR rows, k-range [p0, p0+kc): dst[panel][p][r]. */
function packA(a: usize, dst: usize, m: i32, lda: i32, p0: i32, kc: i32, transA: bool): void {
  // A(i, p) = a[i*lda + p], or a[p*lda + i] when transposed.
  const rowStride: usize = transA ? 4 : <usize>lda << 2;
  const colStride: usize = transA ? <usize>lda << 2 : 4;
  // Only full panels: leftover rows are read in place by microRow.
  for (let i0 = 0; i0 + MR <= m; i0 += MR) {
    let src = a + <usize>i0 * rowStride + <usize>p0 * colStride;
    let p = 0;
    if (!transA) {
      // Rows are contiguous in p: transpose 4 k-steps of rows 0–3 in registers, rows 4–5 by lane
      // (written for MR = 6: each k-step of the panel is 24 bytes).
      for (; p + 4 <= kc; p += 4) {
        const r0 = v128.load(src), r1 = v128.load(src + rowStride);
        const r2 = v128.load(src + 2 * rowStride), r3 = v128.load(src + 3 * rowStride);
        const r4 = v128.load(src + 4 * rowStride), r5 = v128.load(src + 5 * rowStride);
        const t0 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5), t1 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7);
        const t2 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5), t3 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
        v128.store(dst, v128.shuffle<f32>(t0, t2, 0, 1, 4, 5));
        store<f32>(dst, f32x4.extract_lane(r4, 0), 16);
        store<f32>(dst, f32x4.extract_lane(r5, 0), 20);
        v128.store(dst, v128.shuffle<f32>(t0, t2, 2, 3, 6, 7), 24);
        store<f32>(dst, f32x4.extract_lane(r4, 1), 40);
        store<f32>(dst, f32x4.extract_lane(r5, 1), 44);
        v128.store(dst, v128.shuffle<f32>(t1, t3, 0, 1, 4, 5), 48);
        store<f32>(dst, f32x4.extract_lane(r4, 2), 64);
        store<f32>(dst, f32x4.extract_lane(r5, 2), 68);
        v128.store(dst, v128.shuffle<f32>(t1, t3, 2, 3, 6, 7), 72);
        store<f32>(dst, f32x4.extract_lane(r4, 3), 88);
        store<f32>(dst, f32x4.extract_lane(r5, 3), 92);
        dst += 4 * MR * 4;
        src += 16;
      }
    } else {
      // op(A)'s rows are A's columns: one k-step of the panel is MR = 6 adjacent floats of A, moved
      // as a vector and a 64-bit word (the weight gradient colsᵀ·dy packs this way; one float at
      // a time, packing took longer than the panel's multiply-adds when n is 16).
      for (; p < kc; p++) {
        v128.store(dst, v128.load(src));
        store<u64>(dst, load<u64>(src, 16), 16);
        dst += MR * 4;
        src += colStride;
      }
    }
    for (; p < kc; p++) {
      for (let r = 0; r < MR; r++) store<f32>(dst + (<usize>r << 2), load<f32>(src + <usize>r * rowStride));
      dst += MR * 4;
      src += colStride;
    }
  }
}

/**
 * One full panel of a transposed B: rows j0..j0+7 of b (`rowBytes` apart, starting at `src`) become
 * dst[p][0..7]. Blocks of 4 rows × 4 k-steps are transposed in registers (8 shuffles), which
 * packs the dx = dy·Wᵀ operand ~4× faster than moving one float at a time.
 */
function packTransposedPanel(src: usize, rowBytes: usize, dst: usize, kc: i32): void {
  let p = 0;
  for (; p + 4 <= kc; p += 4) {
    const o = <usize>p << 2;
    for (let half = 0; half < 2; half++) {
      const rows = src + <usize>(half * 4) * rowBytes + o;
      const r0 = v128.load(rows), r1 = v128.load(rows + rowBytes);
      const r2 = v128.load(rows + 2 * rowBytes), r3 = v128.load(rows + 3 * rowBytes);
      const t0 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5), t1 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7);
      const t2 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5), t3 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
      const out = dst + (<usize>p * NR << 2) + (<usize>half << 4);
      v128.store(out, v128.shuffle<f32>(t0, t2, 0, 1, 4, 5));
      v128.store(out + NR * 4, v128.shuffle<f32>(t0, t2, 2, 3, 6, 7));
      v128.store(out + 2 * NR * 4, v128.shuffle<f32>(t1, t3, 0, 1, 4, 5));
      v128.store(out + 3 * NR * 4, v128.shuffle<f32>(t1, t3, 2, 3, 6, 7));
    }
  }
  for (; p < kc; p++) {
    for (let j = 0; j < NR; j++) {
      store<f32>(dst + ((<usize>p * NR + j) << 2), load<f32>(src + <usize>j * rowBytes + (<usize>p << 2)));
    }
  }
}

/** op(B) columns [0, n), k-range [p0, p0+kc) into panels of NR columns: dst[panel][p][j]. */
function packB(b: usize, dst: usize, n: i32, ld: i32, p0: i32, kc: i32, transB: bool): void {
  // B(p, j) = b[p*ld + j], or b[j*ld + p] when transposed.
  for (let j0 = 0; j0 < n; j0 += NR) {
    const cols = min(NR, n - j0);
    if (!transB) {
      let src = b + ((<usize>p0 * ld + j0) << 2);
      const rowBytes = <usize>ld << 2;
      if (cols == NR) {
        for (let p = 0; p < kc; p++) {
          v128.store(dst, v128.load(src));
          v128.store(dst, v128.load(src, 16), 16);
          dst += NR * 4;
          src += rowBytes;
        }
      } else {
        for (let p = 0; p < kc; p++) {
          for (let j = 0; j < NR; j++) {
            store<f32>(dst + (<usize>j << 2), j < cols ? load<f32>(src + (<usize>j << 2)) : 0);
          }
          dst += NR * 4;
          src += rowBytes;
        }
      }
    } else if (cols == NR) {
      packTransposedPanel(b + ((<usize>j0 * ld + p0) << 2), <usize>ld << 2, dst, kc);
      dst += <usize>kc * NR * 4;
    } else {
      // Column j of op(B) is row j of b: walk each row once, scattering into the panel.
      for (let j = 0; j < NR; j++) {
        const out = dst + (<usize>j << 2);
        if (j < cols) {
          const src = b + ((<usize>(j0 + j) * ld + p0) << 2);
          for (let p = 0; p < kc; p++) store<f32>(out + <usize>p * NR * 4, load<f32>(src + (<usize>p << 2)));
        } else {
          for (let p = 0; p < kc; p++) store<f32>(out + <usize>p * NR * 4, 0);
        }
      }
      dst += <usize>kc * NR * 4;
    }
  }
}

/**
 * C[6×8 tile] += Apanel·Bpanel over kc steps (B rows `ldb` bytes apart). When `cols` < NR the
 * tile goes through `tile` (MR·NR floats of scratch) so that nothing outside C is written.
 */
function micro(ap: usize, bp: usize, ldb: usize, kc: i32, c: usize, ldc: usize, rows: i32, cols: i32, tile: usize): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  let c40 = f32x4.splat(0), c41 = f32x4.splat(0), c50 = f32x4.splat(0), c51 = f32x4.splat(0);
  for (let p = 0; p < kc; p++) {
    const b0 = v128.load(bp), b1 = v128.load(bp, 16);
    let a = v128.load32_splat(ap);
    c00 = madd(a, b0, c00); c01 = madd(a, b1, c01);
    a = v128.load32_splat(ap, 4);
    c10 = madd(a, b0, c10); c11 = madd(a, b1, c11);
    a = v128.load32_splat(ap, 8);
    c20 = madd(a, b0, c20); c21 = madd(a, b1, c21);
    a = v128.load32_splat(ap, 12);
    c30 = madd(a, b0, c30); c31 = madd(a, b1, c31);
    a = v128.load32_splat(ap, 16);
    c40 = madd(a, b0, c40); c41 = madd(a, b1, c41);
    a = v128.load32_splat(ap, 20);
    c50 = madd(a, b0, c50); c51 = madd(a, b1, c51);
    ap += MR * 4;
    bp += ldb;
  }
  if (rows == MR && cols == NR) {
    let dst = c;
    addRow(dst, c00, c01); dst += ldc;
    addRow(dst, c10, c11); dst += ldc;
    addRow(dst, c20, c21); dst += ldc;
    addRow(dst, c30, c31); dst += ldc;
    addRow(dst, c40, c41); dst += ldc;
    addRow(dst, c50, c51);
    return;
  }
  // Edge tiles land in `tile` (row stride NR floats) first, then only C's own cells are added.
  storeRow(tile, c00, c01); storeRow(tile + 32, c10, c11); storeRow(tile + 64, c20, c21);
  storeRow(tile + 96, c30, c31); storeRow(tile + 128, c40, c41); storeRow(tile + 160, c50, c51);
  for (let r = 0; r < rows; r++) {
    const crow = c + <usize>r * ldc;
    const trow = tile + <usize>r * NR * 4;
    for (let j = 0; j < cols; j++) {
      const o = <usize>j << 2;
      store<f32>(crow + o, load<f32>(crow + o) + load<f32>(trow + o));
    }
  }
}

/**
 * One row of C over 4 full panels: C[1×4NR] += A(row, ·)·B, panel q at bp + q·panelBytes with
 * rows `ldb` bytes apart. 8 accumulators; each k step loads 128 contiguous bytes of B when in place.
 */
function microRow4(ap: usize, lda: usize, bp: usize, panelBytes: usize, ldb: usize, kc: i32, c: usize): void {
  let c0 = f32x4.splat(0), c1 = f32x4.splat(0), c2 = f32x4.splat(0), c3 = f32x4.splat(0);
  let c4 = f32x4.splat(0), c5 = f32x4.splat(0), c6 = f32x4.splat(0), c7 = f32x4.splat(0);
  const b1 = bp + panelBytes, b2 = bp + 2 * panelBytes, b3 = bp + 3 * panelBytes;
  for (let p = 0; p < kc; p++) {
    const a = v128.load32_splat(ap);
    const o = <usize>p * ldb;
    c0 = madd(a, v128.load(bp + o), c0); c1 = madd(a, v128.load(bp + o, 16), c1);
    c2 = madd(a, v128.load(b1 + o), c2); c3 = madd(a, v128.load(b1 + o, 16), c3);
    c4 = madd(a, v128.load(b2 + o), c4); c5 = madd(a, v128.load(b2 + o, 16), c5);
    c6 = madd(a, v128.load(b3 + o), c6); c7 = madd(a, v128.load(b3 + o, 16), c7);
    ap += lda;
  }
  addRow(c, c0, c1);
  addRow(c + 32, c2, c3);
  addRow(c + 64, c4, c5);
  addRow(c + 96, c6, c7);
}

/** One row of C: C[1×NR] += A(row, ·)·Bpanel, A's k steps `lda` bytes apart (read in place). */
function microRow(ap: usize, lda: usize, bp: usize, ldb: usize, kc: i32, c: usize, cols: i32, tile: usize): void {
  let c0 = f32x4.splat(0), c1 = f32x4.splat(0), d0 = f32x4.splat(0), d1 = f32x4.splat(0);
  let p = 0;
  // Two k steps per iteration into separate accumulators, so the adds do not wait on each other.
  for (; p + 1 < kc; p += 2) {
    const a = v128.load32_splat(ap), e = v128.load32_splat(ap + lda);
    c0 = madd(a, v128.load(bp), c0);
    c1 = madd(a, v128.load(bp, 16), c1);
    d0 = madd(e, v128.load(bp + ldb), d0);
    d1 = madd(e, v128.load(bp + ldb, 16), d1);
    ap += 2 * lda;
    bp += 2 * ldb;
  }
  if (p < kc) {
    const a = v128.load32_splat(ap);
    c0 = madd(a, v128.load(bp), c0);
    c1 = madd(a, v128.load(bp, 16), c1);
  }
  c0 = f32x4.add(c0, d0);
  c1 = f32x4.add(c1, d1);
  if (cols == NR) {
    addRow(c, c0, c1);
    return;
  }
  storeRow(tile, c0, c1);
  for (let j = 0; j < cols; j++) {
    const o = <usize>j << 2;
    store<f32>(c + o, load<f32>(c + o) + load<f32>(tile + o));
  }
}

@inline function addRow(p: usize, v0: v128, v1: v128): void {
  v128.store(p, f32x4.add(v128.load(p), v0));
  v128.store(p, f32x4.add(v128.load(p, 16), v1), 16);
}

@inline function storeRow(p: usize, v0: v128, v1: v128): void {
  v128.store(p, v0);
  v128.store(p, v1, 16);
}

/** Floats of scratch `gemm` needs for these sizes (packed A and B blocks plus an edge tile). */
export function gemmScratchFloats(m: i32, n: i32, k: i32): i32 {
  const kc = min(k, KC);
  const mp = min((m + MR - 1) / MR * MR, MC);
  const np = (n + NR - 1) / NR * NR;
  return mp * kc + np * kc + MR * NR;
}

/**
 * C = op(A)·op(B), or C += op(A)·op(B) when `accumulate`; op(A) is m×k, op(B) k×n, C m×n, all
 * row-major and contiguous. `scratch` holds gemmScratchFloats(m, n, k) floats and must not overlap
 * the operands.
 */
export function gemm(
  a: usize, b: usize, c: usize, m: i32, n: i32, k: i32,
  transA: bool, transB: bool, accumulate: bool, scratch: usize,
): void {
  gemmStrided(a, b, c, m, n, k, transA ? m : k, transB ? k : n, n, transA, transB, accumulate, scratch);
}

/**
 * `gemm` on sub-matrices: A(i, p) = a[i·lda + p] (a[p·lda + i] when transA), B(p, j) = b[p·ldb + j]
 * (b[j·ldb + p] when transB), C(i, j) = c[i·ldc + j]. Threads each take a block of C this way.
 */
export function gemmStrided(
  a: usize, b: usize, c: usize, m: i32, n: i32, k: i32, lda: i32, ldb: i32, ldcElems: i32,
  transA: bool, transB: bool, accumulate: bool, scratch: usize,
): void {
  const ldc = <usize>ldcElems << 2;
  if (!accumulate) for (let i = 0; i < m; i++) memory.fill(c + <usize>i * ldc, 0, <usize>n << 2);
  if (m == 0 || n == 0 || k == 0) return;
  const kcMax = min(k, KC);
  const mp = min((m + MR - 1) / MR * MR, MC);
  const np = (n + NR - 1) / NR * NR;
  const packedA = scratch;
  const packedB = packedA + (<usize>mp * kcMax << 2);
  const tile = packedB + (<usize>np * kcMax << 2);
  // Without transB, B's rows already hold NR consecutive columns of op(B): the micro-kernel reads
  // them in place (row stride ldb). Packing all of B would copy the whole weight matrix for every
  // call, which dominates when m is small (predict).
  const direct = !transB;
  const aRowStride: usize = transA ? 4 : <usize>lda << 2;
  const aColStride: usize = transA ? <usize>lda << 2 : 4;
  // The ragged last panel is read in place too: its loads run up to NR−1 floats past the row end
  // (into the next row, or at most 28 bytes past B, which the heap keeps mapped) and the extra
  // lanes are discarded through the edge tile.
  for (let p0 = 0; p0 < k; p0 += KC) {
    const kc = min(KC, k - p0);
    if (!direct) packB(b, packedB, n, ldb, p0, kc, transB);
    const fullRows = m / MR * MR;
    for (let ib = 0; ib < fullRows; ib += MC) {
      const mc = min(MC, fullRows - ib);
      packA(a + <usize>ib * aRowStride, packedA, mc, lda, p0, kc, transA);
      for (let j0 = 0; j0 < n; j0 += NR) {
        const bp = direct ? b + ((<usize>p0 * ldb + j0) << 2) : packedB + (<usize>j0 * kc << 2);
        const bStride: usize = direct ? <usize>ldb << 2 : NR * 4;
        const cols = min(NR, n - j0);
        const cb = c + <usize>ib * ldc + (<usize>j0 << 2);
        for (let i0 = 0; i0 < mc; i0 += MR) {
          micro(packedA + (<usize>i0 * kc << 2), bp, bStride, kc, cb + <usize>i0 * ldc, ldc, MR, cols, tile);
        }
      }
    }
    // Leftover rows one at a time (a zero-padded MR-row tile would multiply up to MR× the work
    // when m is small: m = 1 when predicting one example), 4 panels per pass so that each B row
    // segment read is a whole 128 bytes, then the last panels one by one.
    const panelBytes: usize = direct ? NR * 4 : <usize>kc * NR * 4;
    for (let i = m / MR * MR; i < m; i++) {
      const ap = a + <usize>i * aRowStride + <usize>p0 * aColStride;
      const crow = c + <usize>i * ldc;
      let j0 = 0;
      for (; j0 + 4 * NR <= n; j0 += 4 * NR) {
        const bp = direct ? b + ((<usize>p0 * ldb + j0) << 2) : packedB + (<usize>j0 * kc << 2);
        microRow4(ap, aColStride, bp, panelBytes, direct ? <usize>ldb << 2 : NR * 4, kc, crow + (<usize>j0 << 2));
      }
      for (; j0 < n; j0 += NR) {
        const bp = direct ? b + ((<usize>p0 * ldb + j0) << 2) : packedB + (<usize>j0 * kc << 2);
        microRow(ap, aColStride, bp, direct ? <usize>ldb << 2 : NR * 4, kc, crow + (<usize>j0 << 2), min(NR, n - j0), tile);
      }
    }
  }
}
