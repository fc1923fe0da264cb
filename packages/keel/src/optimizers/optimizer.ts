/**
 * Optimizer base. An optimizer sees trainable parameters only (never BN's moving statistics), and
 * keeps its own state (momenta...) per parameter, created on first use.
 *
 * Its state is `iterations` (steps taken) and the slots of each parameter, named as TF.js names
 * them: `${parameterName}/${slot}` (`dense/kernel/m`). `getWeights` lists them as TF.js 4 does:
 * `iter` first, then each kind of slot for every parameter in the order of their first update
 * (Adam: every `/m`, then every `/v`). `setWeights` takes them back; slots given for a parameter
 * the optimizer has not updated yet wait, by name, for its first update.
 */
import { ValueError, describeValue } from '../core/errors.js';
import { quoteString } from '../core/format.js';
import { Tensor, type FloatArray } from '../core/tensor.js';
import { backendFor, type Backend } from '../backend/backend.js';

/**
 * What an optimizer needs of a weight it updates: the value it changes in place and the gradient
 * accumulated for this step. Layers' weights (LayerVariable) have this shape; it is declared here
 * because optimizers sit below layers and never import them.
 */
export interface OptimizedParameter {
  readonly value: Tensor;
  readonly grad: Tensor | null;
  /** Full name (`dense/kernel`); names the parameter's slots in saved optimizer state. */
  readonly name?: string;
}

/** A named value, as TF.js's `NamedTensor`: what `getWeights` gives and `setWeights` takes. */
export interface NamedTensor {
  name: string;
  tensor: Tensor;
}

/** One slot array of one parameter, as `exportState` lists it. @internal */
export interface SlotState {
  /** `${parameterName}/${slotName}`. */
  name: string;
  shape: readonly number[];
  values: FloatArray;
}

/** Slots restored by name that wait for their parameter's first update. */
interface PendingSlots {
  shape: readonly number[];
  /** One entry per slot of the optimizer; null: not given, starts at zero. */
  values: (FloatArray | null)[];
}

export abstract class Optimizer {
  /** Steps taken so far. */
  iterations = 0;
  private readonly slots = new Map<OptimizedParameter, FloatArray[]>();
  /** Slots from `setWeights`/`importState`, by parameter name, until that parameter's first update. */
  private pending = new Map<string, PendingSlots>();

  constructor(public learningRate: number) {
    checkRate('learningRate', learningRate);
  }

  abstract getClassName(): string;
  abstract getConfig(): Record<string, unknown>;

  /** Number of state arrays per parameter. */
  protected abstract readonly slotCount: number;

  /**
   * The names of the slots, one per state array (TF.js's suffixes: 'm', 'v', 'momentum', 'rms'...).
   * Slots listed by `savedSlots` only are saved; the others are unused with this configuration.
   */
  abstract readonly slotNames: readonly string[];

  /** Indices into `slotNames` of the slots this configuration uses (and saves). */
  protected savedSlots(): number[] {
    return Array.from({ length: this.slotCount }, (_, i) => i);
  }

  /** Hook run when `iterations` is set from saved state (Nadam recomputes its momentum product). */
  protected restoreIterations(_iterations: number): void {}

  /**
   * Updates one parameter in place given its gradient; `slots` are its state arrays, in the
   * parameter's dtype, and `kernels` the backend for that dtype.
   */
  protected abstract update(value: FloatArray, grad: FloatArray, slots: FloatArray[], step: number, kernels: Backend): void;

  /** Hook run once per step before the parameters are updated (Nadam's schedule). */
  protected beginStep(_step: number): void {}

  /** Applies one step to every parameter, using the gradients they hold. @internal */
  applyGradients(parameters: readonly OptimizedParameter[]): void {
    // Restored slots are checked against their parameters before anything changes.
    for (const p of parameters) {
      const restored = !this.slots.has(p) && p.name !== undefined ? this.pending.get(p.name) : undefined;
      if (restored && restored.shape.reduce((a, b) => a * b, 1) !== p.value.size) {
        throw new ValueError(
          `${this.getClassName()}: the restored state of '${p.name}' has shape ${JSON.stringify(restored.shape)}, but the ` +
            `parameter has shape ${JSON.stringify(p.value.shape)}; restore the state saved with this model, or compile a new optimizer.`,
        );
      }
    }
    this.iterations++;
    this.beginStep(this.iterations);
    for (const p of parameters) {
      const kernels = backendFor(p.value.dtype);
      let slots = this.slots.get(p);
      if (!slots) {
        // State in the weight's dtype, allocated where the backend's kernels work in place.
        // Keras too keeps optimizer state in the variable's dtype (float32 state for float32 weights).
        slots = Array.from({ length: this.slotCount }, () => kernels.alloc(p.value.size, p.value.dtype));
        const restored = p.name !== undefined ? this.pending.get(p.name) : undefined;
        if (restored) {
          restored.values.forEach((v, i) => v && slots![i].set(v));
          this.pending.delete(p.name!);
        }
        this.slots.set(p, slots);
      }
      this.update(p.value.values, p.grad!.values, slots, this.iterations, kernels);
    }
  }

  /**
   * The state as saved: `iterations`, then every saved slot (see the file's comment for the order).
   * Slots waiting for their parameter's first update are included. @internal
   */
  exportState(): { iterations: number; slots: SlotState[] } {
    const entries: { name: string; shape: readonly number[]; values: (FloatArray | null)[] }[] = [];
    for (const [p, values] of this.slots) {
      if (p.name !== undefined) entries.push({ name: p.name, shape: [...p.value.shape], values });
    }
    for (const [name, restored] of this.pending) entries.push({ name, shape: restored.shape, values: restored.values });
    const slots: SlotState[] = [];
    for (const index of this.savedSlots()) {
      for (const entry of entries) {
        const size = entry.shape.reduce((a, b) => a * b, 1);
        slots.push({
          name: `${entry.name}/${this.slotNames[index]}`, shape: entry.shape,
          values: entry.values[index] ?? new Float32Array(size),
        });
      }
    }
    return { iterations: this.iterations, slots };
  }

  /**
   * Replaces the state: `iterations` and slots by name (`${parameterName}/${slotName}`). Checks
   * everything first (a refused call changes nothing); the slots are copied and attached to their
   * parameters at the first update. A parameter with some saved slots must have all of them. @internal
   */
  importState(iterations: number, slots: readonly SlotState[], where = `${this.getClassName()}.setWeights`): void {
    if (!Number.isSafeInteger(iterations) || iterations < 0) {
      throw new ValueError(`${where}: expected the iteration count ('iter') to be an integer >= 0, received ${describeValue(iterations)}.`);
    }
    const pending = new Map<string, PendingSlots>();
    for (const slot of slots) {
      const cut = slot.name.lastIndexOf('/');
      const index = cut > 0 ? this.slotNames.indexOf(slot.name.slice(cut + 1)) : -1;
      if (index < 0) {
        throw new ValueError(
          `${where}: ${quoteString(slot.name.slice(0, 120))} is not a slot of ${this.getClassName()}; expected names ` +
            `'<weight name>/<slot>' with slot one of ${this.slotNames.join(', ') || '(none: this optimizer keeps no state besides iter)'}.`,
        );
      }
      const name = slot.name.slice(0, cut);
      const size = slot.shape.reduce((a, b) => a * b, 1);
      if (slot.values.length !== size) {
        throw new ValueError(`${where}: slot '${slot.name}' has ${slot.values.length} values for shape ${JSON.stringify(slot.shape)}.`);
      }
      let entry = pending.get(name);
      if (!entry) pending.set(name, (entry = { shape: [...slot.shape], values: new Array(this.slotCount).fill(null) }));
      if (entry.shape.length !== slot.shape.length || entry.shape.some((d, i) => d !== slot.shape[i])) {
        throw new ValueError(`${where}: the slots of '${name}' disagree on its shape (${JSON.stringify(entry.shape)}, ${JSON.stringify(slot.shape)}).`);
      }
      if (entry.values[index]) throw new ValueError(`${where}: slot '${slot.name}' is given twice.`);
      entry.values[index] = slot.values.slice();
    }
    for (const [name, entry] of pending) {
      const missing = this.savedSlots().filter((i) => !entry.values[i]).map((i) => `${name}/${this.slotNames[i]}`);
      if (missing.length) {
        throw new ValueError(`${where}: missing ${missing.join(', ')}; ${this.getClassName()} needs every one of its slots of a weight.`);
      }
    }
    this.slots.clear();
    this.pending = pending;
    this.iterations = iterations;
    this.restoreIterations(iterations);
  }

  /**
   * The state as TF.js's `optimizer.getWeights()`: `{name: 'iter', tensor}` (a float64 scalar here;
   * TF.js's is int32, a dtype Keel's tensors do not have), then the slots, copied.
   */
  async getWeights(): Promise<NamedTensor[]> {
    const { iterations, slots } = this.exportState();
    return [
      { name: 'iter', tensor: new Tensor(Float64Array.of(iterations), []) },
      ...slots.map((s) => ({ name: s.name, tensor: new Tensor(s.values.slice(), [...s.shape]) })),
    ];
  }

  /**
   * Replaces the state with what `getWeights` gave (of this optimizer or one of the same class and
   * configuration): `iter` and the slots, by name. A refused call leaves the optimizer as it was.
   */
  async setWeights(weights: NamedTensor[]): Promise<void> {
    const where = `${this.getClassName()}.setWeights`;
    if (!Array.isArray(weights)) throw new ValueError(`${where}: expected an array of {name, tensor} as getWeights() gives, received ${describeValue(weights)}.`);
    const iter = weights.filter((w) => w?.name === 'iter');
    if (iter.length !== 1 || !(iter[0].tensor instanceof Tensor) || iter[0].tensor.size !== 1) {
      throw new ValueError(`${where}: expected exactly one {name: 'iter', tensor} holding the step count, as getWeights() gives first.`);
    }
    const slots = weights.filter((w) => w?.name !== 'iter').map((w, i) => {
      if (!w || typeof w.name !== 'string' || !(w.tensor instanceof Tensor)) {
        throw new ValueError(`${where}: expected each entry to be {name: string, tensor: Tensor}, received ${describeValue(w)} at ${i}.`);
      }
      return { name: w.name, shape: w.tensor.shape, values: w.tensor.values as FloatArray };
    });
    this.importState(iter[0].tensor.values[0], slots, where);
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
