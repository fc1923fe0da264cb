/**
 * Weight initializers with Keras's exact definitions.
 *
 * Variance scaling (glorot*, he*, lecun*) draws with variance scale/n, where n is fanIn, fanOut or
 * their average. For a Dense kernel of shape [inputs, units], fanIn = inputs and fanOut = units.
 * - uniform: U(−limit, limit) with limit = sqrt(3·scale/n)
 * - truncated normal: N(0, s²) redrawn beyond 2s, with s = sqrt(scale/n)/0.8796… so that the
 *   standard deviation *after* truncation is sqrt(scale/n). (Gotcha: the naive sqrt(scale/n) before
 *   truncation gives weights about 12% too small.)
 *
 * glorotUniform/glorotNormal: scale 1, fanAvg. heNormal/heUniform: scale 2, fanIn.
 * lecunNormal/lecunUniform (TF.js spells them leCunNormal/leCunUniform; both work): scale 1, fanIn.
 */
import { Tensor, sizeOf, type DType } from '../core/tensor.js';
import { Random, defaultRandom } from '../core/random.js';
import { ValueError, checkOptions, describeValue, unknownName } from '../core/errors.js';
import { empty } from '../ops/tensor.js';

/** Standard deviation of N(0,1) truncated to [−2, 2]: the correction variance scaling divides by. */
const TRUNCATED_STD = 0.87962566103423978;

export interface Initializer {
  /** Keras class name, e.g. 'GlorotUniform'. */
  getClassName(): string;
  /** Keras config (serializable). */
  getConfig(): Record<string, unknown>;
  /** Draws a new tensor of `shape`. */
  apply(shape: readonly number[], dtype?: DType): Tensor;
}

type Sampler = (random: Random) => number;

abstract class RandomInitializer implements Initializer {
  protected constructor(private readonly seed: number | undefined) {}
  abstract getClassName(): string;
  abstract getConfig(): Record<string, unknown>;
  protected abstract sampler(shape: readonly number[]): Sampler;
  apply(shape: readonly number[], dtype: DType = 'float32'): Tensor {
    const random = this.seed === undefined ? defaultRandom() : new Random(this.seed);
    const draw = this.sampler(shape);
    const t = empty(shape, dtype);
    for (let i = 0; i < t.size; i++) t.values[i] = draw(random);
    return t;
  }
}

class ConstantInitializer implements Initializer {
  constructor(private readonly className: string, private readonly value: number) {}
  getClassName() {
    return this.className;
  }
  getConfig() {
    return this.className === 'Constant' ? { value: this.value } : {};
  }
  apply(shape: readonly number[], dtype: DType = 'float32'): Tensor {
    const t = empty(shape, dtype);
    if (this.value !== 0) t.values.fill(this.value);
    return t;
  }
}

function truncatedSampler(mean: number, stddev: number): Sampler {
  return (random) => {
    for (;;) {
      const z = random.normal();
      if (Math.abs(z) <= 2) return mean + stddev * z;
    }
  };
}

export interface RandomNormalArgs { mean?: number; stddev?: number; seed?: number }
export interface RandomUniformArgs { minval?: number; maxval?: number; seed?: number }
export interface SeedArgs { seed?: number }
export type FanMode = 'fanIn' | 'fanOut' | 'fanAvg';
export type Distribution = 'truncatedNormal' | 'untruncatedNormal' | 'uniform';
export interface VarianceScalingArgs { scale?: number; mode?: FanMode; distribution?: Distribution; seed?: number }

class RandomNormal extends RandomInitializer {
  private readonly mean: number;
  private readonly stddev: number;
  constructor(args: RandomNormalArgs = {}) {
    checkOptions('randomNormal', args, ['mean', 'stddev', 'seed']);
    super(args.seed);
    ({ mean: this.mean = 0, stddev: this.stddev = 0.05 } = args);
    positive('randomNormal', 'stddev', this.stddev);
  }
  getClassName() { return 'RandomNormal'; }
  getConfig() { return { mean: this.mean, stddev: this.stddev }; }
  protected sampler(): Sampler {
    return (random) => this.mean + this.stddev * random.normal();
  }
}

class TruncatedNormal extends RandomInitializer {
  private readonly mean: number;
  private readonly stddev: number;
  constructor(args: RandomNormalArgs = {}) {
    checkOptions('truncatedNormal', args, ['mean', 'stddev', 'seed']);
    super(args.seed);
    ({ mean: this.mean = 0, stddev: this.stddev = 0.05 } = args);
    positive('truncatedNormal', 'stddev', this.stddev);
  }
  getClassName() { return 'TruncatedNormal'; }
  getConfig() { return { mean: this.mean, stddev: this.stddev }; }
  protected sampler(): Sampler {
    return truncatedSampler(this.mean, this.stddev);
  }
}

class RandomUniform extends RandomInitializer {
  private readonly minval: number;
  private readonly maxval: number;
  constructor(args: RandomUniformArgs = {}) {
    checkOptions('randomUniform', args, ['minval', 'maxval', 'seed']);
    super(args.seed);
    ({ minval: this.minval = -0.05, maxval: this.maxval = 0.05 } = args);
    if (!(this.maxval > this.minval)) {
      throw new ValueError(`randomUniform: expected minval < maxval, received minval=${describeValue(this.minval)}, maxval=${describeValue(this.maxval)}.`);
    }
  }
  getClassName() { return 'RandomUniform'; }
  getConfig() { return { minval: this.minval, maxval: this.maxval }; }
  protected sampler(): Sampler {
    return (random) => random.uniform(this.minval, this.maxval);
  }
}

class VarianceScaling extends RandomInitializer {
  private readonly scale: number;
  private readonly mode: FanMode;
  private readonly distribution: Distribution;
  constructor(args: VarianceScalingArgs = {}, private readonly className = 'VarianceScaling') {
    checkOptions('varianceScaling', args, ['scale', 'mode', 'distribution', 'seed']);
    super(args.seed);
    ({ scale: this.scale = 1, mode: this.mode = 'fanIn', distribution: this.distribution = 'truncatedNormal' } = args);
    positive('varianceScaling', 'scale', this.scale);
    if (!['fanIn', 'fanOut', 'fanAvg'].includes(this.mode)) unknownName('fan mode', this.mode, ['fanIn', 'fanOut', 'fanAvg']);
    if (!['truncatedNormal', 'untruncatedNormal', 'uniform'].includes(this.distribution)) {
      unknownName('distribution', this.distribution, ['truncatedNormal', 'untruncatedNormal', 'uniform']);
    }
  }
  getClassName() { return this.className; }
  getConfig() {
    return { scale: this.scale, mode: this.mode, distribution: this.distribution };
  }
  protected sampler(shape: readonly number[]): Sampler {
    const [fanIn, fanOut] = fans(shape);
    const n = this.mode === 'fanIn' ? fanIn : this.mode === 'fanOut' ? fanOut : (fanIn + fanOut) / 2;
    const variance = this.scale / Math.max(1, n);
    if (this.distribution === 'uniform') {
      const limit = Math.sqrt(3 * variance);
      return (random) => random.uniform(-limit, limit);
    }
    if (this.distribution === 'untruncatedNormal') {
      const stddev = Math.sqrt(variance);
      return (random) => stddev * random.normal();
    }
    return truncatedSampler(0, Math.sqrt(variance) / TRUNCATED_STD);
  }
}

/** Keras's fan computation: [in, out] for a kernel; receptive field × channels for convolutions. */
function fans(shape: readonly number[]): [number, number] {
  if (shape.length === 0) return [1, 1];
  if (shape.length === 1) return [shape[0], shape[0]];
  if (shape.length === 2) return [shape[0], shape[1]];
  const receptive = sizeOf(shape.slice(0, -2));
  return [shape[shape.length - 2] * receptive, shape[shape.length - 1] * receptive];
}

function positive(where: string, name: string, value: number): void {
  if (!(value > 0) || !Number.isFinite(value)) {
    throw new ValueError(`${where}: expected ${name} > 0, received ${describeValue(value)}.`);
  }
}

export const zeros = (): Initializer => new ConstantInitializer('Zeros', 0);
export const ones = (): Initializer => new ConstantInitializer('Ones', 1);
export const constant = (args: { value: number }): Initializer => {
  checkOptions('constant', args, ['value']);
  if (typeof args?.value !== 'number' || !Number.isFinite(args.value)) {
    throw new ValueError(`constant: expected {value: <finite number>}, received ${describeValue(args)}.`);
  }
  return new ConstantInitializer('Constant', args.value);
};
export const randomNormal = (args?: RandomNormalArgs): Initializer => new RandomNormal(args);
export const randomUniform = (args?: RandomUniformArgs): Initializer => new RandomUniform(args);
export const truncatedNormal = (args?: RandomNormalArgs): Initializer => new TruncatedNormal(args);
export const varianceScaling = (args?: VarianceScalingArgs): Initializer => new VarianceScaling(args);
const scaled = (className: string, scale: number, mode: FanMode, distribution: Distribution) =>
  (args: SeedArgs = {}): Initializer => {
    checkOptions(className, args, ['seed']);
    return new VarianceScaling({ scale, mode, distribution, seed: args.seed }, className);
  };
export const glorotUniform = scaled('GlorotUniform', 1, 'fanAvg', 'uniform');
export const glorotNormal = scaled('GlorotNormal', 1, 'fanAvg', 'truncatedNormal');
export const heNormal = scaled('HeNormal', 2, 'fanIn', 'truncatedNormal');
export const heUniform = scaled('HeUniform', 2, 'fanIn', 'uniform');
export const lecunNormal = scaled('LecunNormal', 1, 'fanIn', 'truncatedNormal');
export const lecunUniform = scaled('LecunUniform', 1, 'fanIn', 'uniform');
/** TF.js's spelling of `lecunNormal` (`tf.initializers.leCunNormal`): the same initializer. */
export const leCunNormal = (args?: SeedArgs): Initializer => lecunNormal(args);
/** TF.js's spelling of `lecunUniform` (`tf.initializers.leCunUniform`): the same initializer. */
export const leCunUniform = (args?: SeedArgs): Initializer => lecunUniform(args);

const BY_NAME: Record<string, () => Initializer> = {
  zeros, ones, randomNormal, randomUniform, truncatedNormal, varianceScaling,
  glorotUniform, glorotNormal, heNormal, heUniform, lecunNormal, lecunUniform, leCunNormal, leCunUniform,
};

export type InitializerName = keyof typeof BY_NAME;
export type InitializerIdentifier = InitializerName | Initializer;

/**
 * Resolves a name ('heNormal', Keras's 'he_normal', TF.js's class name 'HeNormal') or an
 * Initializer object.
 */
export function getInitializer(id: string | Initializer): Initializer {
  if (typeof id === 'function') {
    const name = Object.keys(BY_NAME).find((key) => BY_NAME[key] === (id as unknown));
    throw new ValueError(
      `initializer: expected a name or an initializer object, received ${name ? `the factory keel.initializers.${name}` : describeValue(id)}; ` +
        `call it to make an initializer: ${name ? `keel.initializers.${name}()` : 'factory()'}.`,
    );
  }
  if (typeof id !== 'string') {
    if (typeof (id as Initializer | null)?.apply === 'function') return id;
    throw new ValueError(
      `initializer: expected a name such as 'heNormal' or an initializer such as keel.initializers.heNormal(), received ${describeValue(id)}.`,
    );
  }
  const camel = id.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
  const factory = BY_NAME[camel] ?? BY_NAME[camel.charAt(0).toLowerCase() + camel.slice(1)];
  if (!factory) return unknownName('initializer', id, Object.keys(BY_NAME));
  return factory();
}
