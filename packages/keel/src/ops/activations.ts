/**
 * Activation functions, forward and backward.
 *
 * | name      | f(x)                                   | notes                                    |
 * |-----------|----------------------------------------|------------------------------------------|
 * | linear    | x                                      |                                          |
 * | relu      | max(0, x)                              | f'(0) = 0, as TF and PyTorch             |
 * | elu       | x if x > 0 else eˣ − 1                 | alpha 1                                  |
 * | selu      | λ·(x if x > 0 else α(eˣ − 1))          | λ ≈ 1.0507, α ≈ 1.6733                   |
 * | leakyRelu | x if x > 0 else 0.2·x                  | slope 0.2, Keras 3's default             |
 * | tanh      | tanh(x)                                |                                          |
 * | sigmoid   | 1/(1 + e⁻ˣ)                            |                                          |
 * | softmax   | eˣ/Σeˣ over the last axis              | shifted by the row max, so it never overflows |
 * | swish     | x·sigmoid(x)                           |                                          |
 */
import type { Tensor } from '../core/tensor.js';
import { unknownName } from '../core/errors.js';
import { backendFor, type UnaryKind } from '../backend/backend.js';

export type ActivationName = UnaryKind | 'softmax';

export const ACTIVATIONS: readonly ActivationName[] = [
  'linear', 'relu', 'elu', 'selu', 'leakyRelu', 'tanh', 'sigmoid', 'softmax', 'swish',
];

/** Negative slope of leakyRelu. Differs from TF.js's leakyReLU layer (0.3): Keras 3's activation uses 0.2. */
export const LEAKY_RELU_SLOPE = 0.2;

const ALIASES: Record<string, ActivationName> = { leaky_relu: 'leakyRelu', leakyrelu: 'leakyRelu', logistic: 'sigmoid' };

/** Resolves an activation name (Keras snake_case aliases accepted), or throws naming the valid ones. */
export function resolveActivation(name: string | undefined | null): ActivationName {
  if (name === undefined || name === null) return 'linear';
  // A function or a config object passed by mistake is described, not called or printed.
  if (typeof name !== 'string') return unknownName('activation', name, ACTIVATIONS);
  if ((ACTIVATIONS as readonly string[]).includes(name)) return name as ActivationName;
  const lower = name.toLowerCase();
  const alias = Object.hasOwn(ALIASES, lower) ? ALIASES[lower] : undefined;
  if (alias) return alias;
  return unknownName('activation', name, ACTIVATIONS);
}

/** y = f(x). `y` may be `x` (in place). Softmax runs over the last axis. */
export function activate(kind: ActivationName, x: Tensor, y: Tensor): void {
  const be = backendFor(x.dtype);
  if (kind === 'softmax') {
    const cols = x.shape[x.rank - 1];
    be.softmax(x.values, y.values, x.size / cols, cols);
  } else {
    be.unary(kind, x.values, y.values, x.size, LEAKY_RELU_SLOPE);
  }
}

/** dx = dy·f'(x), using the forward's input x and output y. `dx` may be `dy`. */
export function activateGrad(kind: ActivationName, x: Tensor, y: Tensor, dy: Tensor, dx: Tensor): void {
  const be = backendFor(x.dtype);
  if (kind === 'softmax') {
    const cols = x.shape[x.rank - 1];
    be.softmaxGrad(y.values, dy.values, dx.values, x.size / cols, cols);
  } else {
    be.unaryGrad(kind, x.values, y.values, dy.values, dx.values, x.size, LEAKY_RELU_SLOPE);
  }
}
