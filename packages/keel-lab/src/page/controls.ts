/**
 * The settings form: fills the controls from a LabState and reads them back into one. Every
 * control is a native input, select or checkbox with a label, so the keyboard works throughout.
 */
import {
  ACTIVATIONS, BATCH_SIZES, INITIALIZERS, INITIALIZER_LABELS, LOG_LR_MAX, LOG_LR_MIN, MAX_DEPTH, MIN_DEPTH, NORMS, NORM_LABELS,
  OPTIMIZERS, OPTIMIZER_LABELS, WIDTHS, chartLayers, clampChoices, featuresOf, formatRate,
  type LabState, type RunSettings,
} from '../state.js';

const el = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

function options(select: HTMLSelectElement, values: readonly (string | number)[], label: (v: string) => string = (v) => v): void {
  select.replaceChildren(...values.map((v) => new Option(label(String(v)), String(v))));
}

/** Fills the fixed choices once. */
export function setUpControls(): void {
  options(el('width'), WIDTHS);
  options(el('activation'), ACTIVATIONS);
  options(el('initializer'), INITIALIZERS, (v) => INITIALIZER_LABELS[v as keyof typeof INITIALIZER_LABELS]);
  options(el('optimizer'), OPTIMIZERS, (v) => OPTIMIZER_LABELS[v as keyof typeof OPTIMIZER_LABELS]);
  options(el('batch'), BATCH_SIZES);
  for (const run of ['a', 'b']) options(el(`${run}-norm`), NORMS, (v) => NORM_LABELS[v as keyof typeof NORM_LABELS]);
  const lr = el<HTMLInputElement>('lr');
  lr.min = String(LOG_LR_MIN);
  lr.max = String(LOG_LR_MAX);
  const depth = el<HTMLInputElement>('depth');
  depth.min = String(MIN_DEPTH);
  depth.max = String(MAX_DEPTH);
}

function showRun(id: 'a' | 'b', run: RunSettings, state: LabState): void {
  el<HTMLSelectElement>(`${id}-norm`).value = run.norm;
  const placement = el<HTMLSelectElement>(`${id}-placement`);
  placement.value = run.placement;
  const mlpNormalized = state.model === 'mlp' && run.norm !== 'none';
  placement.disabled = !mlpNormalized;
  const box = el(`${id}-layers`);
  if (state.model === 'cnn') {
    box.replaceChildren(Object.assign(document.createElement('small'), { textContent: 'The cnn normalizes every convolution and its Dense layer, before the activation.' }));
    return;
  }
  box.replaceChildren(...run.layers.map((on, i) => {
    const label = document.createElement('label');
    label.className = 'check';
    const box = Object.assign(document.createElement('input'), { type: 'checkbox', id: `${id}-layer-${i + 1}`, checked: on, disabled: run.norm === 'none' });
    label.append(box, ` layer ${i + 1}`);
    return label;
  }));
}

/** Shows `state` in the form. */
export function showState(state: LabState): void {
  el<HTMLSelectElement>('model').value = state.model;
  const mlp = state.model === 'mlp';
  for (const id of ['depth', 'width']) el<HTMLInputElement>(id).disabled = !mlp;
  el<HTMLInputElement>('depth').value = String(state.depth);
  el<HTMLSelectElement>('width').value = String(state.width);
  el<HTMLSelectElement>('activation').value = state.activation;
  el<HTMLSelectElement>('initializer').value = state.initializer;
  el<HTMLSelectElement>('optimizer').value = state.optimizer;
  const lr = el<HTMLInputElement>('lr');
  lr.value = String(Math.log10(state.learningRate));
  lr.setAttribute('aria-valuetext', formatRate(state.learningRate));
  el<HTMLOutputElement>('lr-value').value = formatRate(state.learningRate);
  el<HTMLSelectElement>('batch').value = String(state.batchSize);
  el<HTMLInputElement>('seed').value = String(state.seed);
  showRun('a', state.a, state);
  showRun('b', state.b, state);
  const layers = chartLayers(state);
  options(el('layer'), Array.from({ length: layers }, (_, i) => i + 1), (v) => (mlp ? `hidden layer ${v}` : `block ${v}`));
  el<HTMLSelectElement>('layer').value = String(state.layer);
  const feature = el<HTMLInputElement>('feature');
  feature.max = String(featuresOf(state, state.layer) - 1);
  feature.value = String(state.feature);
}

function readRun(id: 'a' | 'b', previous: RunSettings, depth: number): RunSettings {
  const layers = Array.from({ length: depth }, (_, i) => {
    const box = document.getElementById(`${id}-layer-${i + 1}`) as HTMLInputElement | null;
    return box ? box.checked : (previous.layers[i] ?? true);
  });
  return {
    norm: el<HTMLSelectElement>(`${id}-norm`).value as RunSettings['norm'],
    placement: el<HTMLSelectElement>(`${id}-placement`).value as RunSettings['placement'],
    layers,
  };
}

const intOr = (text: string, fallback: number, min: number, max: number) => {
  const n = Number(text);
  return Number.isInteger(n) ? Math.min(max, Math.max(min, n)) : fallback;
};

/** Reads the form into a new state (`previous` fills what the form does not show). */
export function readState(previous: LabState): LabState {
  const depth = intOr(el<HTMLInputElement>('depth').value, previous.depth, MIN_DEPTH, MAX_DEPTH);
  const state: LabState = {
    model: el<HTMLSelectElement>('model').value as LabState['model'],
    depth,
    width: Number(el<HTMLSelectElement>('width').value),
    activation: el<HTMLSelectElement>('activation').value as LabState['activation'],
    initializer: el<HTMLSelectElement>('initializer').value as LabState['initializer'],
    learningRate: Number(formatRate(10 ** Number(el<HTMLInputElement>('lr').value))),
    batchSize: Number(el<HTMLSelectElement>('batch').value),
    optimizer: el<HTMLSelectElement>('optimizer').value as LabState['optimizer'],
    seed: intOr(el<HTMLInputElement>('seed').value, previous.seed, 0, 2 ** 31 - 1),
    a: readRun('a', previous.a, depth),
    b: readRun('b', previous.b, depth),
    layer: Number(el<HTMLSelectElement>('layer').value) || previous.layer,
    feature: intOr(el<HTMLInputElement>('feature').value, previous.feature, 0, 1023),
  };
  clampChoices(state);
  return state;
}
