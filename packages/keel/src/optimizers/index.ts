/**
 * Optimizers with Keras 3's update rules and defaults (g is the gradient, lr the learning rate):
 *
 * - sgd({learningRate=0.01, momentum=0, nesterov=false}):
 *     v ← momentum·v − lr·g;  w ← w + v   (nesterov: w ← w + momentum·v − lr·g)
 * - adam({learningRate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-7}):
 *     m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²;  w ← w − lr·sqrt(1−β2ᵗ)/(1−β1ᵗ) · m/(sqrt(v) + ε)
 *   (Gotcha: ε is added to sqrt(v) *after* the bias correction is folded into the rate, as in Keras
 *   and TF, so ε is effectively larger than in PyTorch's Adam.)
 * - rmsprop({learningRate=0.001, rho=0.9, momentum=0, epsilon=1e-7, centered=false}):
 *     s ← ρ·s + (1−ρ)·g²;  Δ = lr·g/sqrt(s − ḡ² + ε) (ḡ the running mean of g when centered);
 *     w ← w − Δ (with momentum: mom ← momentum·mom + Δ, w ← w − mom)
 * - nadam({learningRate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-7}): Adam with Nesterov momentum and
 *   Keras 3's momentum schedule μₜ = β1·(1 − 0.5·0.96^t) (Keras 2's legacy Nadam used 0.96^(0.004·t)).
 */
import { ValueError, checkOptions, describeValue, unknownName } from '../core/errors.js';
import type { FloatArray } from '../core/tensor.js';
import type { Backend } from '../backend/backend.js';
import { Optimizer, checkFraction, checkRate } from './optimizer.js';

export { Optimizer };

export interface SGDArgs { learningRate?: number; momentum?: number; nesterov?: boolean }
export interface AdamArgs { learningRate?: number; beta1?: number; beta2?: number; epsilon?: number }
export interface RMSPropArgs { learningRate?: number; rho?: number; momentum?: number; epsilon?: number; centered?: boolean }

export class SGD extends Optimizer {
  readonly momentum: number;
  readonly nesterov: boolean;
  protected readonly slotCount: number;
  constructor(args: SGDArgs = {}) {
    checkOptions('sgd', args, ['learningRate', 'momentum', 'nesterov']);
    const { learningRate = 0.01, momentum = 0, nesterov = false } = args;
    super(learningRate);
    checkFraction('momentum', momentum);
    this.momentum = momentum;
    this.nesterov = nesterov;
    this.slotCount = momentum > 0 ? 1 : 0;
    this.slotNames = momentum > 0 ? ['momentum'] : [];
  }
  readonly slotNames: readonly string[];
  getClassName() { return 'SGD'; }
  getConfig() { return { learning_rate: this.learningRate, momentum: this.momentum, nesterov: this.nesterov }; }
  protected update(w: FloatArray, g: FloatArray, slots: FloatArray[], _t: number, kernels: Backend): void {
    kernels.sgdUpdate(w, g, this.momentum === 0 ? null : slots[0], w.length, this.learningRate, this.momentum, this.nesterov);
  }
}

export class Adam extends Optimizer {
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  protected readonly slotCount = 2;
  readonly slotNames: readonly string[] = ['m', 'v'];
  constructor(args: AdamArgs = {}, where = 'adam') {
    checkOptions(where, args, ['learningRate', 'beta1', 'beta2', 'epsilon']);
    const { learningRate = 0.001, beta1 = 0.9, beta2 = 0.999, epsilon = 1e-7 } = args;
    super(learningRate);
    checkFraction('beta1', beta1);
    checkFraction('beta2', beta2);
    checkRate('epsilon', epsilon);
    this.beta1 = beta1;
    this.beta2 = beta2;
    this.epsilon = epsilon;
  }
  getClassName() { return 'Adam'; }
  getConfig() { return { learning_rate: this.learningRate, beta_1: this.beta1, beta_2: this.beta2, epsilon: this.epsilon }; }
  protected update(w: FloatArray, g: FloatArray, [m, v]: FloatArray[], t: number, kernels: Backend): void {
    const { beta1: b1, beta2: b2, epsilon } = this;
    const lrT = (this.learningRate * Math.sqrt(1 - b2 ** t)) / (1 - b1 ** t);
    kernels.adamUpdate(w, g, m, v, w.length, lrT, b1, b2, epsilon);
  }
}

export class RMSProp extends Optimizer {
  readonly rho: number;
  readonly momentum: number;
  readonly epsilon: number;
  readonly centered: boolean;
  protected readonly slotCount = 3;
  /** TF.js's names: mean square, momentum, mean gradient (the last two used with momentum > 0, centered). */
  readonly slotNames: readonly string[] = ['rms', 'momentum', 'mg'];
  constructor(args: RMSPropArgs = {}) {
    checkOptions('rmsprop', args, ['learningRate', 'rho', 'momentum', 'epsilon', 'centered']);
    const { learningRate = 0.001, rho = 0.9, momentum = 0, epsilon = 1e-7, centered = false } = args;
    super(learningRate);
    checkFraction('rho', rho);
    checkFraction('momentum', momentum);
    checkRate('epsilon', epsilon);
    this.rho = rho;
    this.momentum = momentum;
    this.epsilon = epsilon;
    this.centered = centered;
  }
  getClassName() { return 'RMSprop'; }
  protected override savedSlots(): number[] {
    return [0, ...(this.momentum > 0 ? [1] : []), ...(this.centered ? [2] : [])];
  }
  getConfig() {
    return { learning_rate: this.learningRate, rho: this.rho, momentum: this.momentum, epsilon: this.epsilon, centered: this.centered };
  }
  protected update(w: FloatArray, g: FloatArray, [s, mom, avg]: FloatArray[], _t: number, kernels: Backend): void {
    const { rho, momentum, epsilon, centered, learningRate } = this;
    kernels.rmspropUpdate(w, g, s, momentum > 0 ? mom : null, centered ? avg : null, w.length, learningRate, rho, momentum, epsilon);
  }
}

/** Adam with Nesterov momentum: the same hyper-parameters and state, another update. */
export class Nadam extends Adam {
  /** Π μ_i over the steps so far (Keras's u_product). */
  private uProduct = 1;
  private muT = 0;
  private muNext = 0;
  private uProductT = 1;
  constructor(args: AdamArgs = {}) {
    super(args, 'nadam');
  }
  override getClassName() { return 'Nadam'; }
  /** The product of the momentum schedule is a function of the step count: recomputed, step by step as beginStep does. */
  protected override restoreIterations(iterations: number): void {
    this.uProduct = 1;
    for (let t = 1; t <= iterations; t++) this.uProduct *= this.beta1 * (1 - 0.5 * 0.96 ** t);
  }
  protected override beginStep(t: number): void {
    this.muT = this.beta1 * (1 - 0.5 * 0.96 ** t);
    this.muNext = this.beta1 * (1 - 0.5 * 0.96 ** (t + 1));
    this.uProductT = this.uProduct * this.muT;
    this.uProduct = this.uProductT;
  }
  protected override update(w: FloatArray, g: FloatArray, [m, v]: FloatArray[], t: number, kernels: Backend): void {
    const { beta1: b1, beta2: b2, epsilon, muT, muNext, uProductT, learningRate: lr } = this;
    // Keras's m̂ = μₜ₊₁·m/(1 − Πₜ₊₁) + (1 − μₜ)·g/(1 − Πₜ) and v̂ = v/(1 − β2ᵗ), with lr folded
    // into the first two factors; all in float64 here, the kernel applies them per value.
    const lrM = (lr * muNext) / (1 - uProductT * muNext);
    const lrG = (lr * (1 - muT)) / (1 - uProductT);
    kernels.nadamUpdate(w, g, m, v, w.length, lrM, lrG, 1 / (1 - b2 ** t), b1, b2, epsilon);
  }
}

export const sgd = (args?: SGDArgs): SGD => new SGD(args);
export const adam = (args?: AdamArgs): Adam => new Adam(args);
export const rmsprop = (args?: RMSPropArgs): RMSProp => new RMSProp(args);
export const nadam = (args?: AdamArgs): Nadam => new Nadam(args);

const BY_NAME: Record<string, () => Optimizer> = { sgd, adam, rmsprop, nadam };

/** An optimizer from its name ('sgd', 'adam', 'rmsprop', 'nadam'; Keras defaults) or as given. */
export function getOptimizer(id: string | Optimizer): Optimizer {
  if (id instanceof Optimizer) return id;
  if (typeof id !== 'string') {
    throw new ValueError(`compile: expected optimizer to be a name or an optimizer object, received ${describeValue(id)}.`);
  }
  const key = id.toLowerCase();
  const factory = Object.hasOwn(BY_NAME, key) ? BY_NAME[key] : undefined; // not 'constructor' from Object.prototype
  if (!factory) return unknownName('optimizer', id, Object.keys(BY_NAME));
  return factory();
}

/** Settings in a saved optimizer config that change the update; Keel has none of them, so they must be off. */
const MUST_BE_OFF = ['weight_decay', 'weightDecay', 'clipnorm', 'clipvalue', 'global_clipnorm', 'use_ema', 'amsgrad',
  'gradient_accumulation_steps', 'loss_scale_factor', 'decay'];

/**
 * An optimizer from a saved `optimizer_config` ({class_name, config}), as Keras and TF.js write it:
 * Keras's snake_case keys (`learning_rate`, `beta_1`) or TF.js's camelCase ones (`learningRate`,
 * `beta1`; RMSProp's `decay` is Keras's `rho`). Settings Keel lacks (weight decay, clipping, EMA,
 * AMSGrad) are accepted only when off; other keys (name, jit_compile...) are ignored.
 * Throws a ValueError naming what is not supported.
 */
export function optimizerFromConfig(className: unknown, config: unknown): Optimizer {
  const known = ['SGD', 'Adam', 'RMSprop', 'Nadam'];
  if (config === undefined || config === null) config = {};
  if (typeof config !== 'object' || Array.isArray(config)) {
    throw new ValueError(`optimizer_config.config: expected an object of settings, received ${describeValue(config)}.`);
  }
  const c = config as Record<string, unknown>;
  const pick = (...keys: string[]): number | boolean | undefined => {
    for (const k of keys) {
      const v = c[k];
      if (v === undefined || v === null) continue;
      if (typeof v !== 'number' && typeof v !== 'boolean') {
        throw new ValueError(`optimizer_config.config.${k}: expected a number or boolean, received ${describeValue(v)} (learning-rate schedules are not supported).`);
      }
      return v;
    }
    return undefined;
  };
  const isRmsprop = className === 'RMSprop' || className === 'RMSProp';
  for (const k of MUST_BE_OFF) {
    if (k === 'decay' && isRmsprop) continue;
    const v = c[k];
    if (v !== undefined && v !== null && v !== false && v !== 0) {
      throw new ValueError(`optimizer_config.config.${k} is ${describeValue(v)}; Keel's ${String(className)} has no ${k}. Save the optimizer without it.`);
    }
  }
  const learningRate = pick('learning_rate', 'learningRate', 'lr') as number | undefined;
  switch (className) {
    case 'SGD':
      return new SGD({ learningRate, momentum: pick('momentum') as number | undefined, nesterov: pick('nesterov') as boolean | undefined });
    case 'Adam':
    case 'Nadam': {
      const args = {
        learningRate, beta1: pick('beta_1', 'beta1') as number | undefined, beta2: pick('beta_2', 'beta2') as number | undefined,
        epsilon: pick('epsilon') as number | undefined,
      };
      return className === 'Adam' ? new Adam(args) : new Nadam(args);
    }
    case 'RMSprop':
    case 'RMSProp':
      return new RMSProp({
        learningRate, rho: pick('rho', 'decay') as number | undefined, momentum: pick('momentum') as number | undefined,
        epsilon: pick('epsilon') as number | undefined, centered: pick('centered') as boolean | undefined,
      });
    default:
      throw new ValueError(
        `optimizer_config.class_name: Keel has no optimizer ${describeValue(className)}; expected one of ${known.join(', ')} (or TF.js's RMSProp).`,
      );
  }
}
