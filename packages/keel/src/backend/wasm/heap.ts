/**
 * Storage for the wasm backend: float32 arrays that are views over the kernels' WebAssembly memory,
 * so kernels read and write tensors in place.
 *
 * Blocks are 64-byte aligned (cache lines; SIMD loads) and recycled through exact-size free lists:
 * layers reuse their buffers, so a training loop asks for the same few sizes over and over. A block
 * returns to its list when `release` is called, or when its view is garbage-collected
 * (FinalizationRegistry). The registry runs only between tasks, so a synchronous loop that drops
 * tensors cannot be reclaimed until it yields. To keep memory bounded anyway, arrays are plain
 * Float32Arrays, owned by the JavaScript collector and staged in and out by the kernels, when they
 * are tiny, when small ones (under `smallSize` values) already hold `smallCapBytes` — a loop making
 * a fresh input per call stops there, while a model's own work buffers, made first, stay in wasm
 * memory — and beyond `capBytes` of live wasm storage.
 *
 * Gotcha: a subarray of a view does not keep the block alive; only the view `alloc` returned does.
 */
import { HEAP_BASE, MAX_PAGES, type LoadedKernels } from './kernels.js';

const PAGE = 65536;
const ALIGN = 64;
const SLACK = 64;

export interface HeapOptions {
  /** Arrays of fewer values than this are plain Float32Arrays (default 16). */
  minWasmSize?: number;
  /** Arrays of fewer values than this count as small (default 4096: 16 KB). */
  smallSize?: number;
  /** Live wasm storage of small arrays beyond which new small arrays are plain (default 16 MiB). */
  smallCapBytes?: number;
  /** Live wasm storage beyond which new arrays are plain Float32Arrays (default 1 GiB). */
  capBytes?: number;
}

export class WasmHeap {
  readonly memory: WebAssembly.Memory;
  private readonly shared: boolean;
  private readonly minWasmSize: number;
  private readonly smallSize: number;
  private readonly smallCapBytes: number;
  private readonly capBytes: number;
  private smallBytes = 0;
  /** Every ArrayBuffer the memory has exposed: a shared memory gives a new one after each grow. */
  private readonly buffers = new Set<ArrayBufferLike>();
  private f32: Float32Array;
  private top = HEAP_BASE;
  private readonly freeLists = new Map<number, number[]>();
  /** Start address → bytes, for blocks handed out and not yet returned. */
  private readonly live = new Map<number, number>();
  private liveBytes = 0;
  /** Held value: the block's address, negated for small arrays. */
  private readonly finalizer: FinalizationRegistry<number>;

  constructor(kernels: LoadedKernels, options: HeapOptions = {}) {
    const { minWasmSize = 16, smallSize = 4096, smallCapBytes = 16 * 2 ** 20, capBytes = 2 ** 30 } = options;
    this.memory = kernels.memory;
    this.shared = kernels.shared;
    this.minWasmSize = minWasmSize;
    this.smallSize = smallSize;
    this.smallCapBytes = smallCapBytes;
    this.capBytes = capBytes;
    this.f32 = this.refresh();
    this.finalizer = new FinalizationRegistry((held: number) => this.freeView(held));
  }

  /** Bytes of wasm storage handed out and not yet returned. */
  get bytesInUse(): number {
    return this.liveBytes;
  }

  /** Bytes the memory spans (it never shrinks). */
  get bytesReserved(): number {
    return this.memory.buffer.byteLength;
  }

  /** A Float32Array view of the whole memory, current after any growth. */
  get heapF32(): Float32Array {
    return this.f32;
  }

  /** Zeroed float32 storage of `size` values: a view over wasm memory when possible. */
  alloc(size: number): Float32Array {
    if (size < this.minWasmSize) return new Float32Array(size);
    const bytes = Math.ceil((size * 4) / ALIGN) * ALIGN;
    const small = size < this.smallSize;
    if (small && this.smallBytes + bytes > this.smallCapBytes) return new Float32Array(size);
    const ptr = this.liveBytes + bytes <= this.capBytes ? this.malloc(bytes) : -1;
    if (ptr < 0) return new Float32Array(size);
    if (small) this.smallBytes += bytes;
    const view = new Float32Array(this.memory.buffer, ptr, size);
    this.finalizer.register(view, small ? -ptr : ptr, view);
    return view;
  }

  /** Returns a view from `alloc` early. Anything else (plain arrays, subarrays) is ignored. */
  release(view: Float32Array): void {
    // Only a view alloc made is registered; unregister tells us whether this is one.
    if (!this.owns(view) || !this.finalizer.unregister(view)) return;
    this.freeView(view.length < this.smallSize ? -view.byteOffset : view.byteOffset);
  }

  private freeView(held: number): void {
    const ptr = Math.abs(held);
    if (held < 0 && this.live.has(ptr)) this.smallBytes -= this.live.get(ptr)!;
    this.free(ptr);
  }

  /** Whether `a` lies in this heap's memory (then its byteOffset is its kernel pointer). */
  owns(a: ArrayBufferView): boolean {
    return this.buffers.has(a.buffer);
  }

  /**
   * Raw scratch of `bytes` bytes for a kernel, outside the finalizer's reach: the caller frees it
   * with `free`. Zeroed unless `zeroed` is false. Returns -1 when the memory cannot provide it.
   */
  malloc(bytes: number, zeroed = true): number {
    bytes = Math.ceil(bytes / ALIGN) * ALIGN;
    const list = this.freeLists.get(bytes);
    let ptr = list?.pop();
    if (ptr !== undefined) {
      if (zeroed) this.f32.fill(0, ptr / 4, (ptr + bytes) / 4); // recycled blocks are dirty
    } else {
      ptr = this.top;
      // SLACK bytes stay free past the last block: the GEMM kernel may read (and discard) up to
      // 28 bytes beyond the end of B's last row, which must not run off the memory.
      if (ptr + bytes + SLACK > this.memory.buffer.byteLength && !this.grow(ptr + bytes + SLACK)) return -1;
      this.top = ptr + bytes; // fresh memory is zero
    }
    this.live.set(ptr, bytes);
    this.liveBytes += bytes;
    return ptr;
  }

  free(ptr: number): void {
    const bytes = this.live.get(ptr);
    if (bytes === undefined) return;
    this.live.delete(ptr);
    this.liveBytes -= bytes;
    let list = this.freeLists.get(bytes);
    if (!list) this.freeLists.set(bytes, (list = []));
    list.push(ptr);
  }

  /** Grows a shared memory to hold `end` bytes (by at least half again, to grow rarely). */
  private grow(end: number): boolean {
    if (!this.shared) return false; // growing a plain memory would detach every live view
    const have = this.memory.buffer.byteLength / PAGE;
    const want = Math.min(MAX_PAGES, Math.max(Math.ceil(end / PAGE), Math.ceil(have * 1.5)));
    if (want * PAGE < end) return false;
    try {
      this.memory.grow(want - have);
    } catch {
      return false;
    }
    this.f32 = this.refresh();
    return true;
  }

  private refresh(): Float32Array {
    const buffer = this.memory.buffer;
    this.buffers.add(buffer);
    return new Float32Array(buffer);
  }
}
