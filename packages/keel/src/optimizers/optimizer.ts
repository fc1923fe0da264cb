/**
 * Optimizer base. An optimizer sees trainable parameters only (never BN's moving statistics), and
 * keeps its own state (momenta...) per parameter, created on first use.
 */
import { ValueError, describeValue } from '../core/errors.js';
import type { FloatArray, Tensor } from '../core/tensor.js';
import { backendFor, type Backend } from '../backend/backend.js';

/**
 * What an optimizer needs of a weight it updates: the value it changes in place and the gradient
 * accumulated for this step. Layers' weights (LayerVariable) have this shape; it is declared here
 * because optimizers sit below layers and never import them.
 */
export interface OptimizedParameter {
  readonly value: Tensor;
  readonly grad: Tensor | null;
}

export abstract class Optimizer {
  /** Steps taken so far. */
  iterations = 0;
  private readonly slots = new Map<OptimizedParameter, FloatArray[]>();

  constructor(public learningRate: number) {
    checkRate('learningRate', learningRate);
  }

  abstract getClassName(): string;
  abstract getConfig(): Record<string, unknown>;

  /** Number of state arrays per parameter. */
  protected abstract readonly slotCount: number;

  /**
   * Updates one parameter in place given its gradient; `slots` are its state arrays, in the
   * parameter's dtype, and `kernels` the backend for that dtype.
   */
  protected abstract update(value: FloatArray, grad: FloatArray, slots: FloatArray[], step: number, kernels: Backend): void;

  /** Hook run once per step before the parameters are updated (Nadam's schedule). */
  protected beginStep(_step: number): void {}

  /** Applies one step to every parameter, using the gradients they hold. @internal */
  applyGradients(parameters: readonly OptimizedParameter[]): void {
    this.iterations++;
    this.beginStep(this.iterations);
    for (const p of parameters) {
      const kernels = backendFor(p.value.dtype);
      let slots = this.slots.get(p);
      if (!slots) {
        // State in the weight's dtype, allocated where the backend's kernels work in place.
        // Keras too keeps optimizer state in the variable's dtype (float32 state for float32 weights).
        slots = Array.from({ length: this.slotCount }, () => kernels.alloc(p.value.size, p.value.dtype));
        this.slots.set(p, slots);
      }
      this.update(p.value.values, p.grad!.values, slots, this.iterations, kernels);
    }
  }
}

export function checkRate(name: string, value: number): void {
  if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value)) {
    throw new ValueError(`optimizer: expected ${name} > 0, received ${describeValue(value)}.`);
  }
}

export function checkFraction(name: string, value: number, inclusiveZero = true): void {
  const ok = typeof value === 'number' && (inclusiveZero ? value >= 0 : value > 0) && value < 1;
  if (!ok) {
    throw new ValueError(`optimizer: expected ${name} in ${inclusiveZero ? '[0, 1)' : '(0, 1)'}, received ${describeValue(value)}.`);
  }
}
