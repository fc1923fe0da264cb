/** Shared by the ONNX tests: trained-looking weights, and running exported bytes in ONNX Runtime. */
import * as keel from 'keel';
import * as ort from 'onnxruntime-node';

/**
 * Gives every normalization non-trivial γ, β and moving statistics, and every bias a non-zero
 * value, as training would: an export that swapped γ and β, ignored the moving statistics or ε,
 * or dropped a bias would then change the predictions. Kernels keep their random initial values.
 */
export function trainedLookingWeights(model: keel.LayersModel, seed = 7): void {
  const random = new keel.Random(seed);
  const draw: Record<string, () => number> = {
    gamma: () => random.uniform(0.5, 1.5),
    beta: () => random.uniform(-0.5, 0.5),
    moving_mean: () => random.uniform(-0.5, 0.5),
    moving_variance: () => random.uniform(0.2, 2),
    bias: () => random.uniform(-0.2, 0.2),
  };
  for (const layer of model.layers) {
    const weights = layer.weights;
    if (weights.length === 0) continue;
    layer.setWeights(weights.map((v) => {
      const values = v.read();
      const make = draw[v.shortName];
      if (make) values.values.forEach((_, i) => (values.values[i] = make()));
      return values;
    }));
  }
}

/** Images in [0, 1] of shape [n, ...shape], seeded. */
export function images(n: number, shape: readonly number[], seed = 3): keel.Tensor {
  const random = new keel.Random(seed);
  const size = n * shape.reduce((a, b) => a * b, 1);
  return keel.tensor(Float32Array.from({ length: size }, () => random.next()), [n, ...shape]);
}

/**
 * Runs the ONNX model `bytes` on `x` in ONNX Runtime (CPU); returns its output and shape. By default
 * with ONNX Runtime's graph optimizations off, so that the nodes written are the nodes run;
 * 'all' is what users get by default (fusions of Conv and BatchNormalization, etc.).
 */
export async function runOnnx(
  bytes: Uint8Array, x: keel.Tensor | keel.Tensor[], optimization: 'disabled' | 'all' = 'disabled',
): Promise<{ values: Float32Array; shape: number[] }> {
  const session = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: optimization });
  try {
    const xs = Array.isArray(x) ? x : [x];
    if (xs.length !== session.inputNames.length) throw new Error(`${xs.length} inputs given, the model has ${session.inputNames.length}`);
    const feeds = Object.fromEntries(xs.map((t, i) => [session.inputNames[i], new ort.Tensor('float32', Float32Array.from(t.dataSync()), t.shape)]));
    const result = await session.run(feeds);
    const output = result[session.outputNames[0]];
    return { values: output.data as Float32Array, shape: output.dims.map(Number) };
  } finally {
    await session.release();
  }
}

/** Largest |a − b| over the largest |b| (at least 1): agreement to that many significant digits. */
export function relativeDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} vs ${b.length}`);
  let diff = 0;
  let scale = 1;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / scale;
}
