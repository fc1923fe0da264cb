// AssemblyScript: the window kernels of convolutions and pooling over NHWC images (the reference
// is ../../js/conv.ts). Pointers are byte offsets into the shared memory. The geometry is a block
// of 15 i32 at `geom`, in this order (GEOMETRY_FIELDS in ../kernels.ts):
//   batch, inHeight, inWidth, channels, outHeight, outWidth, filterHeight, filterWidth,
//   strideHeight, strideWidth, dilationHeight, dilationWidth, padTop, padLeft, multiplier.
// Each kernel works on a range of its outer index (rows of cols, or images), so that threads can
// split it; within a range the order of every sum is fixed, so a split never changes the bits.
//
// Why im2col is built with memory.copy: in NHWC a window row (filterWidth pixels × channels) is
// contiguous in x when the dilation is 1, so each (output position, filter row) is one bulk copy,
// plus zero fills where the window leaves the image.

@inline function g(geom: usize, field: i32): i32 {
  return load<i32>(geom + (<usize>field << 2));
}

/** Rows [rowStart, rowEnd) of cols = im2col(x): one row per output position (n, oh, ow). */
export function im2col(x: usize, cols: usize, geom: usize, rowStart: i32, rowEnd: i32): void {
  const inH = g(geom, 1), inW = g(geom, 2), C = g(geom, 3), outH = g(geom, 4), outW = g(geom, 5);
  const fh = g(geom, 6), fw = g(geom, 7), sh = g(geom, 8), sw = g(geom, 9), dh = g(geom, 10), dw = g(geom, 11);
  const padTop = g(geom, 12), padLeft = g(geom, 13);
  const K = fh * fw * C;
  const runBytes = <usize>(fw * C) << 2;
  // The output position (n, oh, ow) of the first row, then stepped along: three integer divisions
  // per row cost as much as its copies at 16 channels.
  let ow = rowStart % outW, oh = (rowStart / outW) % outH, n = rowStart / (outW * outH);
  for (let row = rowStart; row < rowEnd; row++, ow++) {
    if (ow == outW) {
      ow = 0;
      if (++oh == outH) {
        oh = 0;
        n++;
      }
    }
    let to = cols + (<usize>row * K << 2);
    const iw0 = ow * sw - padLeft;
    for (let i = 0; i < fh; i++, to += runBytes) {
      const ih = oh * sh - padTop + i * dh;
      if (ih < 0 || ih >= inH) {
        memory.fill(to, 0, runBytes);
        continue;
      }
      const pixelRow = x + (<usize>((n * inH + ih) * inW) * C << 2);
      if (dw == 1) {
        // Taps [lo, hi) fall inside the image: one copy, zeros on either side.
        const lo = max(0, -iw0), hi = min(fw, inW - iw0);
        if (lo > 0) memory.fill(to, 0, <usize>(min(lo, fw) * C) << 2);
        if (hi > lo) memory.copy(to + (<usize>(lo * C) << 2), pixelRow + (<usize>((iw0 + lo) * C) << 2), <usize>((hi - lo) * C) << 2);
        if (hi < fw) memory.fill(to + (<usize>(max(hi, 0) * C) << 2), 0, <usize>((fw - max(hi, 0)) * C) << 2);
      } else {
        for (let j = 0; j < fw; j++) {
          const iw = iw0 + j * dw;
          const at = to + (<usize>(j * C) << 2);
          if (iw < 0 || iw >= inW) memory.fill(at, 0, <usize>C << 2);
          else memory.copy(at, pixelRow + (<usize>(iw * C) << 2), <usize>C << 2);
        }
      }
    }
  }
}

/** dst[0..n) += src[0..n), 4 lanes at a time. */
@inline function addInto(dst: usize, src: usize, n: i32): void {
  let c = 0;
  for (; c + 4 <= n; c += 4) {
    const o = <usize>c << 2;
    v128.store(dst + o, f32x4.add(v128.load(dst + o), v128.load(src + o)));
  }
  for (; c < n; c++) {
    const o = <usize>c << 2;
    store<f32>(dst + o, load<f32>(dst + o) + load<f32>(src + o));
  }
}

/**
 * Images [nStart, nEnd) of dx = col2im(cols): dx = 0, then each window value of cols is added to
 * the pixel it came from, in the order of the rows (a thread owns whole images, so no two threads
 * add to the same pixel).
 */
export function col2im(cols: usize, dx: usize, geom: usize, nStart: i32, nEnd: i32): void {
  const inH = g(geom, 1), inW = g(geom, 2), C = g(geom, 3), outH = g(geom, 4), outW = g(geom, 5);
  const fh = g(geom, 6), fw = g(geom, 7), sh = g(geom, 8), sw = g(geom, 9), dh = g(geom, 10), dw = g(geom, 11);
  const padTop = g(geom, 12), padLeft = g(geom, 13);
  const K = fh * fw * C;
  const imageBytes = <usize>(inH * inW * C) << 2;
  memory.fill(dx + <usize>nStart * imageBytes, 0, <usize>(nEnd - nStart) * imageBytes);
  for (let n = nStart; n < nEnd; n++) {
    for (let oh = 0; oh < outH; oh++) {
      for (let ow = 0; ow < outW; ow++) {
        const row = (n * outH + oh) * outW + ow;
        let from = cols + (<usize>row * K << 2);
        const iw0 = ow * sw - padLeft;
        for (let i = 0; i < fh; i++, from += <usize>(fw * C) << 2) {
          const ih = oh * sh - padTop + i * dh;
          if (ih < 0 || ih >= inH) continue;
          const pixelRow = dx + (<usize>((n * inH + ih) * inW) * C << 2);
          if (dw == 1) {
            // Taps [lo, hi) fall inside the image, adjacent in dx as in cols: one run.
            const lo = max(0, -iw0), hi = min(fw, inW - iw0);
            if (hi > lo) addInto(pixelRow + (<usize>((iw0 + lo) * C) << 2), from + (<usize>(lo * C) << 2), (hi - lo) * C);
          } else {
            for (let j = 0; j < fw; j++) {
              const iw = iw0 + j * dw;
              if (iw >= 0 && iw < inW) addInto(pixelRow + (<usize>(iw * C) << 2), from + (<usize>(j * C) << 2), C);
            }
          }
        }
      }
    }
  }
}

/** Images [nStart, nEnd) of y = max pooling of x (padded positions take no part). */
export function maxPool(x: usize, y: usize, geom: usize, nStart: i32, nEnd: i32): void {
  const inH = g(geom, 1), inW = g(geom, 2), C = g(geom, 3), outH = g(geom, 4), outW = g(geom, 5);
  const fh = g(geom, 6), fw = g(geom, 7), sh = g(geom, 8), sw = g(geom, 9);
  const padTop = g(geom, 12), padLeft = g(geom, 13);
  const C4 = C & ~3;
  for (let n = nStart; n < nEnd; n++) {
    for (let oh = 0; oh < outH; oh++) {
      const ih0 = max(oh * sh - padTop, 0), ih1 = min(oh * sh - padTop + fh, inH);
      for (let ow = 0; ow < outW; ow++) {
        const iw0 = max(ow * sw - padLeft, 0), iw1 = min(ow * sw - padLeft + fw, inW);
        const out = y + (<usize>(((n * outH + oh) * outW + ow) * C) << 2);
        let c = 0;
        for (; c < C4; c += 4) {
          let m = f32x4.splat(-Infinity);
          for (let ih = ih0; ih < ih1; ih++) {
            for (let iw = iw0; iw < iw1; iw++) {
              m = f32x4.max(m, v128.load(x + (<usize>(((n * inH + ih) * inW + iw) * C + c) << 2)));
            }
          }
          v128.store(out + (<usize>c << 2), m);
        }
        for (; c < C; c++) {
          let m: f32 = -Infinity;
          for (let ih = ih0; ih < ih1; ih++) {
            for (let iw = iw0; iw < iw1; iw++) m = max(m, load<f32>(x + (<usize>(((n * inH + ih) * inW + iw) * C + c) << 2)));
          }
          store<f32>(out + (<usize>c << 2), m);
        }
      }
    }
  }
}

/**
 * Images [nStart, nEnd) of dx for max pooling: dx = 0, then each dy goes to the first position of
 * its window (row-major) where x equals the pooled y. Lanes keep a "found" mask so that 4 channels
 * are routed at once.
 */
export function maxPoolGrad(x: usize, y: usize, dy: usize, dx: usize, geom: usize, nStart: i32, nEnd: i32): void {
  const inH = g(geom, 1), inW = g(geom, 2), C = g(geom, 3), outH = g(geom, 4), outW = g(geom, 5);
  const fh = g(geom, 6), fw = g(geom, 7), sh = g(geom, 8), sw = g(geom, 9);
  const padTop = g(geom, 12), padLeft = g(geom, 13);
  const C4 = C & ~3;
  const imageBytes = <usize>(inH * inW * C) << 2;
  memory.fill(dx + <usize>nStart * imageBytes, 0, <usize>(nEnd - nStart) * imageBytes);
  const zero = f32x4.splat(0);
  for (let n = nStart; n < nEnd; n++) {
    for (let oh = 0; oh < outH; oh++) {
      const ih0 = max(oh * sh - padTop, 0), ih1 = min(oh * sh - padTop + fh, inH);
      for (let ow = 0; ow < outW; ow++) {
        const iw0 = max(ow * sw - padLeft, 0), iw1 = min(ow * sw - padLeft + fw, inW);
        const o = <usize>(((n * outH + oh) * outW + ow) * C) << 2;
        let c = 0;
        for (; c < C4; c += 4) {
          const yv = v128.load(y + o + (<usize>c << 2));
          const g4 = v128.load(dy + o + (<usize>c << 2));
          let found = i32x4.splat(0);
          for (let ih = ih0; ih < ih1; ih++) {
            for (let iw = iw0; iw < iw1; iw++) {
              const p = <usize>(((n * inH + ih) * inW + iw) * C + c) << 2;
              const hit = v128.andnot(f32x4.eq(v128.load(x + p), yv), found);
              v128.store(dx + p, f32x4.add(v128.load(dx + p), v128.bitselect(g4, zero, hit)));
              found = v128.or(found, hit);
            }
          }
        }
        for (; c < C; c++) {
          const yv = load<f32>(y + o + (<usize>c << 2));
          let done = false;
          for (let ih = ih0; ih < ih1 && !done; ih++) {
            for (let iw = iw0; iw < iw1; iw++) {
              const p = <usize>(((n * inH + ih) * inW + iw) * C + c) << 2;
              if (load<f32>(x + p) == yv) {
                store<f32>(dx + p, load<f32>(dx + p) + load<f32>(dy + o + (<usize>c << 2)));
                done = true;
                break;
              }
            }
          }
        }
      }
    }
  }
}

/** Images [nStart, nEnd) of y = average pooling of x over each window's positions inside the image. */
export function avgPool(x: usize, y: usize, geom: usize, nStart: i32, nEnd: i32): void {
  const inH = g(geom, 1), inW = g(geom, 2), C = g(geom, 3), outH = g(geom, 4), outW = g(geom, 5);
  const fh = g(geom, 6), fw = g(geom, 7), sh = g(geom, 8), sw = g(geom, 9);
  const padTop = g(geom, 12), padLeft = g(geom, 13);
  const C4 = C & ~3;
  for (let n = nStart; n < nEnd; n++) {
    for (let oh = 0; oh < outH; oh++) {
      const ih0 = max(oh * sh - padTop, 0), ih1 = min(oh * sh - padTop + fh, inH);
      for (let ow = 0; ow < outW; ow++) {
        const iw0 = max(ow * sw - padLeft, 0), iw1 = min(ow * sw - padLeft + fw, inW);
        const count = <f32>((ih1 - ih0) * (iw1 - iw0));
        const out = y + (<usize>(((n * outH + oh) * outW + ow) * C) << 2);
        let c = 0;
        for (; c < C4; c += 4) {
          let s = f32x4.splat(0);
          for (let ih = ih0; ih < ih1; ih++) {
            for (let iw = iw0; iw < iw1; iw++) s = f32x4.add(s, v128.load(x + (<usize>(((n * inH + ih) * inW + iw) * C + c) << 2)));
          }
          v128.store(out + (<usize>c << 2), f32x4.div(s, f32x4.splat(count)));
        }
        for (; c < C; c++) {
          let s: f32 = 0;
          for (let ih = ih0; ih < ih1; ih++) {
            for (let iw = iw0; iw < iw1; iw++) s += load<f32>(x + (<usize>(((n * inH + ih) * inW + iw) * C + c) << 2));
          }
          store<f32>(out + (<usize>c << 2), s / count);
        }
      }
    }
  }
}

/** Images [nStart, nEnd) of dx for average pooling: dx = 0, then dy/count to each inside position. */
export function avgPoolGrad(dy: usize, dx: usize, geom: usize, nStart: i32, nEnd: i32): void {
  const inH = g(geom, 1), inW = g(geom, 2), C = g(geom, 3), outH = g(geom, 4), outW = g(geom, 5);
  const fh = g(geom, 6), fw = g(geom, 7), sh = g(geom, 8), sw = g(geom, 9);
  const padTop = g(geom, 12), padLeft = g(geom, 13);
  const C4 = C & ~3;
  const imageBytes = <usize>(inH * inW * C) << 2;
  memory.fill(dx + <usize>nStart * imageBytes, 0, <usize>(nEnd - nStart) * imageBytes);
  for (let n = nStart; n < nEnd; n++) {
    for (let oh = 0; oh < outH; oh++) {
      const ih0 = max(oh * sh - padTop, 0), ih1 = min(oh * sh - padTop + fh, inH);
      for (let ow = 0; ow < outW; ow++) {
        const iw0 = max(ow * sw - padLeft, 0), iw1 = min(ow * sw - padLeft + fw, inW);
        const count = <f32>((ih1 - ih0) * (iw1 - iw0));
        const from = dy + (<usize>(((n * outH + oh) * outW + ow) * C) << 2);
        for (let ih = ih0; ih < ih1; ih++) {
          for (let iw = iw0; iw < iw1; iw++) {
            const to = dx + (<usize>(((n * inH + ih) * inW + iw) * C) << 2);
            let c = 0;
            for (; c < C4; c += 4) {
              const o = <usize>c << 2;
              v128.store(to + o, f32x4.add(v128.load(to + o), f32x4.div(v128.load(from + o), f32x4.splat(count))));
            }
            for (; c < C; c++) {
              const o = <usize>c << 2;
              store<f32>(to + o, load<f32>(to + o) + load<f32>(from + o) / count);
            }
          }
        }
      }
    }
  }
}

/**
 * Images [nStart, nEnd) of the depthwise convolution y[n, oh, ow, c·M + m] = Σ_window
 * x[n, ih, iw, c]·k[fh, fw, c, m]. With M = 1 the channels run 4 lanes at a time.
 */
export function depthwiseConv2d(x: usize, kernel: usize, y: usize, geom: usize, nStart: i32, nEnd: i32): void {
  const inH = g(geom, 1), inW = g(geom, 2), C = g(geom, 3), outH = g(geom, 4), outW = g(geom, 5);
  const fh = g(geom, 6), fw = g(geom, 7), sh = g(geom, 8), sw = g(geom, 9), dh = g(geom, 10), dw = g(geom, 11);
  const padTop = g(geom, 12), padLeft = g(geom, 13), M = g(geom, 14);
  const out = C * M;
  const C4 = M == 1 ? C & ~3 : 0;
  for (let n = nStart; n < nEnd; n++) {
    for (let oh = 0; oh < outH; oh++) {
      for (let ow = 0; ow < outW; ow++) {
        const yo = y + (<usize>(((n * outH + oh) * outW + ow) * out) << 2);
        memory.fill(yo, 0, <usize>out << 2);
        for (let i = 0; i < fh; i++) {
          const ih = oh * sh - padTop + i * dh;
          if (ih < 0 || ih >= inH) continue;
          for (let j = 0; j < fw; j++) {
            const iw = ow * sw - padLeft + j * dw;
            if (iw < 0 || iw >= inW) continue;
            const xo = x + (<usize>(((n * inH + ih) * inW + iw) * C) << 2);
            const ko = kernel + (<usize>((i * fw + j) * out) << 2);
            let c = 0;
            for (; c < C4; c += 4) {
              const o = <usize>c << 2;
              v128.store(yo + o, f32x4.add(v128.load(yo + o), f32x4.mul(v128.load(xo + o), v128.load(ko + o))));
            }
            for (; c < C; c++) {
              const v = load<f32>(xo + (<usize>c << 2));
              for (let m = 0; m < M; m++) {
                const o = <usize>(c * M + m) << 2;
                store<f32>(yo + o, load<f32>(yo + o) + v * load<f32>(ko + o));
              }
            }
          }
        }
      }
    }
  }
}

/** Images [nStart, nEnd) of dx (overwritten) for the depthwise convolution. */
export function depthwiseConv2dBackpropInput(dy: usize, kernel: usize, dx: usize, geom: usize, nStart: i32, nEnd: i32): void {
  const inH = g(geom, 1), inW = g(geom, 2), C = g(geom, 3), outH = g(geom, 4), outW = g(geom, 5);
  const fh = g(geom, 6), fw = g(geom, 7), sh = g(geom, 8), sw = g(geom, 9), dh = g(geom, 10), dw = g(geom, 11);
  const padTop = g(geom, 12), padLeft = g(geom, 13), M = g(geom, 14);
  const out = C * M;
  const C4 = M == 1 ? C & ~3 : 0;
  const imageBytes = <usize>(inH * inW * C) << 2;
  memory.fill(dx + <usize>nStart * imageBytes, 0, <usize>(nEnd - nStart) * imageBytes);
  for (let n = nStart; n < nEnd; n++) {
    for (let oh = 0; oh < outH; oh++) {
      for (let ow = 0; ow < outW; ow++) {
        const go = dy + (<usize>(((n * outH + oh) * outW + ow) * out) << 2);
        for (let i = 0; i < fh; i++) {
          const ih = oh * sh - padTop + i * dh;
          if (ih < 0 || ih >= inH) continue;
          for (let j = 0; j < fw; j++) {
            const iw = ow * sw - padLeft + j * dw;
            if (iw < 0 || iw >= inW) continue;
            const xo = dx + (<usize>(((n * inH + ih) * inW + iw) * C) << 2);
            const ko = kernel + (<usize>((i * fw + j) * out) << 2);
            let c = 0;
            for (; c < C4; c += 4) {
              const o = <usize>c << 2;
              v128.store(xo + o, f32x4.add(v128.load(xo + o), f32x4.mul(v128.load(go + o), v128.load(ko + o))));
            }
            for (; c < C; c++) {
              let s: f32 = 0;
              for (let m = 0; m < M; m++) {
                const o = <usize>(c * M + m) << 2;
                s += load<f32>(go + o) * load<f32>(ko + o);
              }
              store<f32>(xo + (<usize>c << 2), load<f32>(xo + (<usize>c << 2)) + s);
            }
          }
        }
      }
    }
  }
}

/**
 * Channels [cStart, cEnd) of dKernel += the depthwise kernel gradient: a thread owns whole
 * channels, so no two threads add to the same value, and each value's sum runs over (n, oh, ow) in
 * order.
 */
export function depthwiseConv2dBackpropFilter(x: usize, dy: usize, dKernel: usize, geom: usize, cStart: i32, cEnd: i32): void {
  const batch = g(geom, 0), inH = g(geom, 1), inW = g(geom, 2), C = g(geom, 3), outH = g(geom, 4), outW = g(geom, 5);
  const fh = g(geom, 6), fw = g(geom, 7), sh = g(geom, 8), sw = g(geom, 9), dh = g(geom, 10), dw = g(geom, 11);
  const padTop = g(geom, 12), padLeft = g(geom, 13), M = g(geom, 14);
  const out = C * M;
  const vector = M == 1;
  for (let n = 0; n < batch; n++) {
    for (let oh = 0; oh < outH; oh++) {
      for (let ow = 0; ow < outW; ow++) {
        const go = dy + (<usize>(((n * outH + oh) * outW + ow) * out) << 2);
        for (let i = 0; i < fh; i++) {
          const ih = oh * sh - padTop + i * dh;
          if (ih < 0 || ih >= inH) continue;
          for (let j = 0; j < fw; j++) {
            const iw = ow * sw - padLeft + j * dw;
            if (iw < 0 || iw >= inW) continue;
            const xo = x + (<usize>(((n * inH + ih) * inW + iw) * C) << 2);
            const ko = dKernel + (<usize>((i * fw + j) * out) << 2);
            let c = cStart;
            if (vector) {
              for (; c + 4 <= cEnd; c += 4) {
                const o = <usize>c << 2;
                v128.store(ko + o, f32x4.add(v128.load(ko + o), f32x4.mul(v128.load(xo + o), v128.load(go + o))));
              }
            }
            for (; c < cEnd; c++) {
              const v = load<f32>(xo + (<usize>c << 2));
              for (let m = 0; m < M; m++) {
                const o = <usize>(c * M + m) << 2;
                store<f32>(ko + o, load<f32>(ko + o) + v * load<f32>(go + o));
              }
            }
          }
        }
      }
    }
  }
}
