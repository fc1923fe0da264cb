/**
 * Seeded randomness. Every random draw in Keel (initializers, shuffles, dropout masks) comes from a
 * `Random` generator, so the same seed gives the same weights, the same shuffles and the same run.
 *
 * The generator is xoshiro128** (fast, 128-bit state, good statistical quality) seeded through
 * splitmix32; normals use the Box-Muller transform.
 */
import { ValueError, describeValue } from './errors.js';

export class Random {
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;
  private spareNormal: number | null = null;

  constructor(seed: number) {
    this.seed(seed);
  }

  /** Restarts the sequence from `seed` (any finite number; non-integers are truncated). */
  seed(seed: number): void {
    checkSeed('Random', seed);
    let x = Math.trunc(seed) >>> 0;
    const next = () => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
    this.spareNormal = null;
  }

  /** A uniform 32-bit unsigned integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.s1 << 9) >>> 0;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    this.s0 >>>= 0;
    this.s1 >>>= 0;
    this.s2 >>>= 0;
    return result;
  }

  /** Uniform in [0, 1), 53 bits. */
  next(): number {
    const hi = this.nextUint32() >>> 5;
    const lo = this.nextUint32() >>> 6;
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform in [min, max). */
  uniform(min: number, max: number): number {
    return min + (max - min) * this.next();
  }

  /** Standard normal N(0, 1). */
  normal(): number {
    if (this.spareNormal !== null) {
      const z = this.spareNormal;
      this.spareNormal = null;
      return z;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spareNormal = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Shuffles `array` in place (Fisher-Yates). */
  shuffle<T extends { length: number; [i: number]: unknown }>(array: T): T {
    for (let i = array.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = array[i];
      array[i] = array[j];
      array[j] = tmp;
    }
    return array;
  }

  /** A new generator whose seed is drawn from this one: independent streams from one seed. */
  fork(): Random {
    return new Random(this.nextUint32());
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

let globalRandom = new Random(Date.now() ^ 0x5eed);

/**
 * Seeds every random draw that does not get its own seed (weight initializers, `fit`'s shuffling,
 * dropout). Like Keras's `keras.utils.set_random_seed`: call it once before building a model.
 */
export function setRandomSeed(seed: number): void {
  checkSeed('setRandomSeed', seed);
  globalRandom = new Random(seed);
}

/** A NaN or infinite seed would silently become seed 0: refuse it instead. */
function checkSeed(where: string, seed: unknown): void {
  if (typeof seed !== 'number' || !Number.isFinite(seed)) {
    throw new ValueError(`${where}: expected the seed to be a finite number, e.g. 42, received ${describeValue(seed)}.`);
  }
}

/** The generator used when no seed is given. @internal */
export function defaultRandom(): Random {
  return globalRandom;
}
