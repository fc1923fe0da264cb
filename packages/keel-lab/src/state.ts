/**
 * The lab's settings: one typed object, written to and read from the URL hash, so that a link
 * reproduces a run (as TensorFlow Playground's `state.ts` does). Pure: no DOM, no keel, so that
 * Node tests and the Worker use it as the page does.
 *
 * The hash is `#key=value&key=value…` (URLSearchParams): every key always written, in a fixed
 * order, so that the same settings give the same link. A run's normalization is written
 * `kind.placement.layers`, e.g. `batch.after.111` (BN after the activation of hidden layers 1-3).
 */

export const MODELS = ['mlp', 'cnn'] as const;
export const NORMS = ['batch', 'renorm', 'group', 'layer', 'none'] as const;
export const PLACEMENTS = ['after', 'before'] as const;
export const ACTIVATIONS = ['relu', 'elu', 'tanh', 'sigmoid'] as const;
export const INITIALIZERS = ['glorotUniform', 'heNormal', 'lecunNormal', 'normal1', 'normal001'] as const;
export const OPTIMIZERS = ['sgd', 'momentum', 'adam', 'rmsprop'] as const;
export const BATCH_SIZES = [8, 16, 32, 60, 64, 128, 256] as const;
export const WIDTHS = [16, 32, 64, 100, 128, 256, 300] as const;
export const MIN_DEPTH = 1;
export const MAX_DEPTH = 5;
/** The learning-rate slider's range, as powers of ten. */
export const LOG_LR_MIN = -4;
export const LOG_LR_MAX = 0;
/** The same range as numbers (10 ** -4 is 0.00009999999999999999 in floating point). */
export const LR_MIN = 1e-4;
export const LR_MAX = 1;

export type ModelKind = (typeof MODELS)[number];
export type NormKind = (typeof NORMS)[number];
export type Placement = (typeof PLACEMENTS)[number];
export type ActivationKind = (typeof ACTIVATIONS)[number];
export type InitializerKind = (typeof INITIALIZERS)[number];
export type OptimizerKind = (typeof OPTIMIZERS)[number];

/** How one of the two runs normalizes. */
export interface RunSettings {
  /** The normalization layer's kind; 'none' leaves every layer plain. */
  norm: NormKind;
  /** Normalize the Dense output before the activation, or the activation's output after it (MLP). */
  placement: Placement;
  /** Per hidden layer of the MLP, whether it is normalized (length `depth`). Ignored by `cnn`. */
  layers: boolean[];
}

export interface LabState {
  /** 'mlp': `depth` Dense layers of `width` units; 'cnn': keel.zoo's `cnn` model. */
  model: ModelKind;
  depth: number;
  width: number;
  activation: ActivationKind;
  /** Kernel initializer; 'normal1' is N(0, 1) and 'normal001' N(0, 0.01) (stddev 0.01). */
  initializer: InitializerKind;
  learningRate: number;
  batchSize: number;
  /** 'momentum' is SGD with momentum 0.9. */
  optimizer: OptimizerKind;
  seed: number;
  a: RunSettings;
  b: RunSettings;
  /** Hidden layer (1-based) whose distributions and BN statistics the charts follow. */
  layer: number;
  /** The feature (unit, channel) of that layer the bands and the BN statistics follow. */
  feature: number;
}

export const INITIALIZER_LABELS: Record<InitializerKind, string> = {
  glorotUniform: 'Glorot uniform (default)',
  heNormal: 'He normal',
  lecunNormal: 'LeCun normal',
  normal1: 'N(0, 1): too large',
  normal001: 'N(0, 0.01): too small',
};

export const OPTIMIZER_LABELS: Record<OptimizerKind, string> = {
  sgd: 'SGD', momentum: 'SGD, momentum 0.9', adam: 'Adam', rmsprop: 'RMSprop',
};

export const NORM_LABELS: Record<NormKind, string> = {
  batch: 'Batch Norm', renorm: 'Batch Renorm', group: 'Group Norm', layer: 'Layer Norm', none: 'none',
};

/**
 * The page's first settings: the BN paper's Figure 1 network (3 sigmoid layers of 100 units,
 * batches of 60), with and without BN, at a learning rate plain SGD trains it with, so that the
 * difference shows in the first hundred steps.
 */
export function defaultState(): LabState {
  return {
    model: 'mlp', depth: 3, width: 100, activation: 'sigmoid', initializer: 'glorotUniform',
    learningRate: 0.1, batchSize: 60, optimizer: 'sgd', seed: 1,
    a: { norm: 'batch', placement: 'before', layers: [true, true, true] },
    b: { norm: 'none', placement: 'before', layers: [true, true, true] },
    layer: 3, feature: 0,
  };
}

/** Whether hidden layer `index` (0-based) of a run is normalized. */
export function normalizes(run: RunSettings, index: number): boolean {
  return run.norm !== 'none' && run.layers[index] === true;
}

/** Short words for a run, for legends: "Batch Norm before act., layers 1-3" or "no normalization". */
export function describeRun(run: RunSettings, state: LabState): string {
  if (run.norm === 'none') return 'no normalization';
  if (state.model === 'cnn') return `${NORM_LABELS[run.norm]} (every conv)`;
  const on = run.layers.map((v, i) => (v ? i + 1 : 0)).filter((i) => i > 0);
  if (on.length === 0) return 'no normalization';
  return `${NORM_LABELS[run.norm]} ${run.placement} act., layer${on.length > 1 ? 's' : ''} ${on.join(',')}`;
}

const runText = (r: RunSettings) => `${r.norm}.${r.placement}.${r.layers.map((v) => (v ? '1' : '0')).join('')}`;

/** The hash (without '#') for `state`: every key, in a fixed order. */
export function encodeState(state: LabState): string {
  const p = new URLSearchParams();
  p.set('model', state.model);
  p.set('depth', String(state.depth));
  p.set('width', String(state.width));
  p.set('act', state.activation);
  p.set('init', state.initializer);
  p.set('lr', formatRate(state.learningRate));
  p.set('batch', String(state.batchSize));
  p.set('opt', state.optimizer);
  p.set('seed', String(state.seed));
  p.set('a', runText(state.a));
  p.set('b', runText(state.b));
  p.set('layer', String(state.layer));
  p.set('feature', String(state.feature));
  return p.toString();
}

/** A learning rate with 3 significant digits, the slider's resolution. */
export function formatRate(rate: number): string {
  return String(Number(rate.toPrecision(3)));
}

/** The settings of a hash, and the keys that were present but unusable (their defaults were kept). */
export function decodeState(hash: string): { state: LabState; problems: string[] } {
  const state = defaultState();
  const problems: string[] = [];
  const p = new URLSearchParams(hash.replace(/^#/, ''));
  const pick = <T extends string>(key: string, choices: readonly T[], set: (v: T) => void) => {
    const v = p.get(key);
    if (v === null) return;
    if ((choices as readonly string[]).includes(v)) set(v as T);
    else problems.push(`${key}=${v} (expected one of ${choices.join(', ')})`);
  };
  const integer = (key: string, min: number, max: number, set: (v: number) => void) => {
    const v = p.get(key);
    if (v === null) return;
    const n = Number(v);
    if (Number.isInteger(n) && n >= min && n <= max) set(n);
    else problems.push(`${key}=${v} (expected a whole number from ${min} to ${max})`);
  };
  pick('model', MODELS, (v) => (state.model = v));
  integer('depth', MIN_DEPTH, MAX_DEPTH, (v) => (state.depth = v));
  integer('width', 1, 1024, (v) => {
    if ((WIDTHS as readonly number[]).includes(v)) state.width = v;
    else problems.push(`width=${v} (expected one of ${WIDTHS.join(', ')})`);
  });
  pick('act', ACTIVATIONS, (v) => (state.activation = v));
  pick('init', INITIALIZERS, (v) => (state.initializer = v));
  const lr = p.get('lr');
  if (lr !== null) {
    const n = Number(lr);
    if (Number.isFinite(n) && n >= LR_MIN && n <= LR_MAX) state.learningRate = n;
    else problems.push(`lr=${lr} (expected a number from ${LR_MIN} to ${LR_MAX})`);
  }
  integer('batch', 2, 1024, (v) => {
    if ((BATCH_SIZES as readonly number[]).includes(v)) state.batchSize = v;
    else problems.push(`batch=${v} (expected one of ${BATCH_SIZES.join(', ')})`);
  });
  pick('opt', OPTIMIZERS, (v) => (state.optimizer = v));
  integer('seed', 0, 2 ** 31 - 1, (v) => (state.seed = v));
  for (const key of ['a', 'b'] as const) {
    const v = p.get(key);
    if (v === null) continue;
    const run = parseRun(v);
    if (run) state[key] = run;
    else problems.push(`${key}=${v} (expected kind.placement.layers, e.g. batch.after.111)`);
  }
  // The per-layer switches follow the depth: missing layers are on, extra ones dropped.
  for (const run of [state.a, state.b]) {
    run.layers = Array.from({ length: state.depth }, (_, i) => run.layers[i] ?? true);
  }
  integer('layer', 1, 16, (v) => (state.layer = v));
  integer('feature', 0, 1023, (v) => (state.feature = v));
  clampChoices(state);
  return { state, problems };
}

function parseRun(text: string): RunSettings | null {
  const m = /^([a-z]+)\.([a-z]+)\.([01]*)$/.exec(text);
  if (!m) return null;
  const [, norm, placement, bits] = m;
  if (!(NORMS as readonly string[]).includes(norm) || !(PLACEMENTS as readonly string[]).includes(placement)) return null;
  return { norm: norm as NormKind, placement: placement as Placement, layers: [...bits].map((b) => b === '1') };
}

/** Hidden layers the charts can follow: `depth` for the MLP, the cnn's 5 normalized blocks. */
export function chartLayers(state: LabState): number {
  return state.model === 'cnn' ? 5 : state.depth;
}

/** Features of hidden layer `layer` (1-based): units of the MLP, channels of the cnn. */
export function featuresOf(state: LabState, layer: number): number {
  return state.model === 'cnn' ? [32, 32, 64, 64, 128][layer - 1] ?? 128 : state.width;
}

/** Keeps the chosen layer and feature inside the network (after the depth or model changed). */
export function clampChoices(state: LabState): void {
  state.layer = Math.min(Math.max(1, state.layer), chartLayers(state));
  state.feature = Math.min(Math.max(0, state.feature), featuresOf(state, state.layer) - 1);
}
