import type { FloatArray } from '../../core/tensor.js';

/**
 * Reference matrix product C = op(A)·op(B) (+ C). The loops are ordered so the innermost one walks
 * memory contiguously in both operands (i-p-j for A·B), which keeps plain JavaScript within a small
 * factor of naive C; it is still the slow, readable oracle, not the fast path.
 */
export function gemm(
  a: FloatArray, b: FloatArray, c: FloatArray,
  m: number, n: number, k: number,
  transA: boolean, transB: boolean, accumulate: boolean,
): void {
  if (!accumulate) c.fill(0, 0, m * n);
  if (!transB) {
    // C[i,:] += A(i,p) · B[p,:]
    for (let i = 0; i < m; i++) {
      const ci = i * n;
      for (let p = 0; p < k; p++) {
        const aip = transA ? a[p * m + i] : a[i * k + p];
        const bp = p * n;
        for (let j = 0; j < n; j++) c[ci + j] += aip * b[bp + j];
      }
    }
    return;
  }
  // B is n×k: C[i,j] = Σ_p A(i,p) · B[j,p], a dot product of two contiguous rows when A is not transposed.
  for (let i = 0; i < m; i++) {
    const ci = i * n;
    for (let j = 0; j < n; j++) {
      const bj = j * k;
      let sum = 0;
      if (transA) {
        for (let p = 0; p < k; p++) sum += a[p * m + i] * b[bj + p];
      } else {
        const ai = i * k;
        for (let p = 0; p < k; p++) sum += a[ai + p] * b[bj + p];
      }
      c[ci + j] += sum;
    }
  }
}
