/**
 * The lab page: settings in the URL hash, the training Worker, the charts and the buttons. It
 * computes nothing but what it draws; the Worker (../worker/worker.ts) trains.
 */
import { Chart, RUN_COLORS, RUN_SHADES, type ChartSpec } from './charts.js';
import { readState, setUpControls, showState } from './controls.js';
import { DrawingArea } from './draw.js';
import { showFold, showProbabilities } from './reports.js';
import type { FromWorker, RunId, RunInfo, RunProgress, ToWorker } from '../messages.js';
import { decodeState, describeRun, encodeState, type LabState } from '../state.js';

const el = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const RUNS: RunId[] = ['a', 'b'];

let { state, problems } = decodeState(location.hash);
let infos: Record<RunId, RunInfo> | null = null;
let points: Record<RunId, RunProgress> = { a: empty(), b: empty() };
let classNames: string[] = [];
let running = false;
let ready = false;
let testIndex = -1;
let threadsText = '';
/** The last image's probabilities, per run. */
let prediction: Record<RunId, number[]> | null = null;

function empty(): RunProgress {
  return { steps: [], validation: [], probes: [], stopped: null };
}

const worker = new Worker(new URL('worker.js', import.meta.url), { type: 'module' });
const send = (message: ToWorker) => worker.postMessage(message);

// ---- charts ----------------------------------------------------------------------------------

/** Per run: the smoothed training curve, and the validation figures as dots. */
const both = (): ChartSpec['series'] => RUNS.flatMap((r) => [
  { label: `${r.toUpperCase()} training`, color: RUN_COLORS[r], width: 1.5 },
  { label: `${r.toUpperCase()} validation`, color: RUN_COLORS[r], points: true },
]);

const charts = {
  loss: new Chart(el('chart-loss'), { title: 'Loss', xLabel: 'step', yLabel: 'cross-entropy', series: both() }),
  accuracy: new Chart(el('chart-accuracy'), { title: 'Accuracy', xLabel: 'step', yLabel: 'accuracy', yRange: [0, 1], series: both() }),
  bands: { a: null as Chart | null, b: null as Chart | null },
  grads: { a: null as Chart | null, b: null as Chart | null },
  bn: { a: null as Chart | null, b: null as Chart | null },
};

function respecRunCharts(): void {
  for (const r of RUNS) {
    const name = r.toUpperCase();
    const shades = RUN_SHADES[r];
    const info = infos?.[r];
    const pre = info?.preActivationLayer;
    const where = state.model === 'cnn' ? `block ${state.layer}` : `layer ${state.layer}`;
    const unit = state.model === 'cnn' ? 'channel' : 'unit';
    const bandsSpec: ChartSpec = {
      title: `${name}: input of ${where}'s ${state.activation}, ${unit} ${state.feature}`,
      xLabel: 'step', yLabel: 'value',
      series: [
        { label: '85th', color: shades[2], width: 1 },
        { label: 'median', color: shades[0], width: 2 },
        { label: '15th', color: shades[2], width: 1 },
      ],
      band: [1, 3, `${RUN_COLORS[r]}22`],
    };
    charts.bands[r] ??= new Chart(el(`chart-bands-${r}`), bandsSpec);
    charts.bands[r]!.respec(bandsSpec);
    const kernels = info?.kernels ?? [];
    const gradsSpec: ChartSpec = {
      title: `${name}: ‖∂L/∂W‖ per layer`, xLabel: 'step', yLabel: 'gradient norm', log: true,
      series: kernels.map((k, i) => ({ label: k, color: shades[i % shades.length], width: 1.5, dash: i >= shades.length ? [4, 3] : undefined })),
    };
    charts.grads[r] ??= new Chart(el(`chart-grads-${r}`), gradsSpec);
    charts.grads[r]!.respec(gradsSpec);
    const bnName = info?.batchNormLayer;
    const bnSpec: ChartSpec = {
      title: `${name}: BN statistics, ${where}, ${unit} ${state.feature}`,
      xLabel: 'step', yLabel: 'mean', y2Label: 'variance',
      series: [
        { label: 'batch mean', color: shades[1], width: 1 },
        { label: 'moving mean', color: shades[0], width: 2.5 },
        { label: 'batch var', color: '#6b7280', width: 1, scale: 'y2' },
        { label: 'moving var', color: '#111827', width: 2.5, scale: 'y2' },
      ],
    };
    charts.bn[r] ??= new Chart(el(`chart-bn-${r}`), bnSpec);
    charts.bn[r]!.respec(bnSpec);
    charts.bands[r]!.setNote(pre ? `(layer ${pre})` : `Run ${name} has no separate nonlinearity there to follow.`);
    charts.grads[r]!.setNote('');
    charts.bn[r]!.setNote(bnName ? `(layer ${bnName})` : `Run ${name} has no Batch Norm (or Batch Renorm) layer in ${where}: nothing to show.`);
  }
}

/** Exponential moving average, for the noisy per-batch training curves. */
function smooth(values: number[], alpha = 0.05): number[] {
  const out: number[] = [];
  let s = NaN;
  for (const v of values) {
    s = Number.isNaN(s) ? v : s + alpha * (v - s);
    out.push(s);
  }
  return out;
}

function redraw(): void {
  const last = Math.max(0, ...RUNS.map((r) => points[r].steps.at(-1)?.step ?? 0), ...RUNS.map((r) => points[r].validation.at(-1)?.step ?? 0));
  // Every step is a point (up to a few thousand, which uPlot draws in a millisecond or two).
  const x = Array.from({ length: last + 1 }, (_, i) => i);
  const curves = (key: 'loss' | 'accuracy') => RUNS.flatMap((r) => {
    const train: (number | null)[] = new Array(x.length).fill(null);
    const smoothed = smooth(points[r].steps.map((p) => p[key]));
    points[r].steps.forEach((p, i) => (train[p.step] = smoothed[i]));
    const validation: (number | null)[] = new Array(x.length).fill(null);
    for (const p of points[r].validation) validation[p.step] = p[key];
    return [train, validation];
  });
  charts.loss.setData(x, curves('loss'));
  charts.accuracy.setData(x, curves('accuracy'));
  for (const r of RUNS) {
    const probes = points[r].probes;
    const steps = probes.map((p) => p.step);
    const finite = (v: number) => (Number.isFinite(v) ? v : null);
    charts.bands[r]?.setData(steps, [probes.map((p) => finite(p.p85)), probes.map((p) => finite(p.p50)), probes.map((p) => finite(p.p15))]);
    const kernels = infos?.[r].kernels.length ?? 0;
    charts.grads[r]?.setData(steps, Array.from({ length: kernels }, (_, k) => probes.map((p) => (p.gradientNorms[k] > 0 ? p.gradientNorms[k] : null))));
    charts.bn[r]?.setData(steps, [
      probes.map((p) => finite(p.batchMean)), probes.map((p) => finite(p.movingMean)),
      probes.map((p) => finite(p.batchVariance)), probes.map((p) => finite(p.movingVariance)),
    ]);
  }
}

let drawScheduled = false;
function scheduleRedraw(): void {
  if (drawScheduled) return;
  drawScheduled = true;
  requestAnimationFrame(() => {
    drawScheduled = false;
    redraw();
  });
}

// ---- figures, status, state ------------------------------------------------------------------

function showFigures(): void {
  for (const r of RUNS) {
    const h = points[r];
    const lastStep = h.steps.at(-1);
    const recent = h.steps.slice(-50);
    el(`${r}-describe`).textContent = `${describeRun(state[r], state)}${infos ? `, ${infos[r].parameters.toLocaleString('en-US')} weights` : ''}`;
    el(`${r}-step`).textContent = String(lastStep ? lastStep.step + 1 : 0);
    el(`${r}-loss`).textContent = recent.length ? (recent.reduce((s, p) => s + p.loss, 0) / recent.length).toFixed(3) : '–';
    const v = h.validation.at(-1);
    el(`${r}-acc`).textContent = v ? v.accuracy.toFixed(3) : '–';
    el(`${r}-acc`).dataset.value = v ? String(v.accuracy) : '';
    el(`${r}-state`).textContent = h.stopped ?? (running ? 'training' : lastStep ? 'paused' : 'ready');
  }
}

function setStatus(text: string): void {
  el('status').textContent = text;
}

function setRunning(on: boolean): void {
  running = on;
  el('train').textContent = on ? 'Pause' : 'Train';
  el('train').setAttribute('aria-pressed', String(on));
  document.body.dataset.phase = on ? 'training' : ready ? 'ready' : 'loading';
}

function reconfigure(next: LabState): void {
  state = next;
  const hash = `#${encodeState(state)}`;
  if (location.hash !== hash) window.history.replaceState(null, '', hash);
  showState(state);
  resetPoints();
  setRunning(false);
  send({ type: 'configure', state });
}

function resetPoints(): void {
  points = { a: empty(), b: empty() };
  for (const id of ['recompute-out', 'fold-out']) el(id).replaceChildren();
  showFigures();
  scheduleRedraw();
}

// ---- the Worker's messages -------------------------------------------------------------------

worker.onmessage = (event: MessageEvent<FromWorker>) => {
  const m = event.data;
  switch (m.type) {
    case 'ready': {
      ready = true;
      classNames = m.classNames;
      threadsText = m.isolated
        ? `${m.backend} kernels on ${m.workers + 1} threads (the page is cross-origin isolated)`
        : `${m.backend} kernels on 1 thread: this page is not cross-origin isolated (npx keel lab serves it with the headers that let the kernels use a second thread)`;
      setStatus(`${m.train.toLocaleString('en-US')} training and ${m.test.toLocaleString('en-US')} validation images loaded; ${threadsText}.` +
        (problems.length ? ` Ignored from the link: ${problems.join('; ')}.` : ''));
      for (const id of ['train', 'reset', 'recompute', 'fold', 'download-a', 'download-b', 'onnx-a', 'onnx-b', 'next-image', 'clear']) el<HTMLButtonElement>(id).disabled = false;
      document.body.dataset.phase = 'ready';
      reconfigure(state);
      return;
    }
    case 'configured':
      infos = { a: m.a, b: m.b };
      el('summary-a').textContent = `Run A: ${describeRun(state.a, state)}\n${m.a.summary}`;
      el('summary-b').textContent = `Run B: ${describeRun(state.b, state)}\n${m.b.summary}`;
      respecRunCharts();
      showFigures();
      scheduleRedraw();
      return;
    case 'progress':
      for (const r of RUNS) {
        const h = points[r];
        h.steps.push(...m[r].steps);
        h.validation.push(...m[r].validation);
        h.probes.push(...m[r].probes);
        if (m[r].stopped) h.stopped = m[r].stopped;
      }
      // Whether training runs is the page's to say (Train, Pause, new settings), except when the
      // Worker stopped by itself.
      if (m.finished) {
        setRunning(false);
        setStatus(`Finished after ${m.step} steps (${m.epoch} epochs); ${threadsText}.`);
      } else if (running) {
        setStatus(`Epoch ${m.epoch + 1}, step ${m.step} (${m.stepsPerEpoch} steps per epoch); ${threadsText}.`);
      } else if (m.step > 0) {
        setStatus(`Paused at step ${m.step}; press Train to go on. ${threadsText}.`);
      }
      showFigures();
      scheduleRedraw();
      return;
    case 'busy':
      setStatus(`Working: ${m.what}…`);
      return;
    case 'recomputed':
      el('recompute-out').replaceChildren(...RUNS.map((r) => line(r, m[r])));
      setStatus(`Population statistics recomputed; ${threadsText}.`);
      return;
    case 'folded':
      el('fold-out').replaceChildren(...RUNS.map((r) => showFold(r, m[r])));
      setStatus(`BN folded; ${threadsText}.`);
      return;
    case 'model':
      // One name per run, so that the two runs' files do not overwrite each other in Downloads;
      // the model file's weights manifest names its weights file.
      save(m.modelFile, new Blob([m.modelJson], { type: 'application/json' }));
      save(m.weightsFile, new Blob([m.weights], { type: 'application/octet-stream' }));
      setStatus(`Run ${m.run.toUpperCase()} saved as ${m.modelFile} and ${m.weightsFile} (TF.js: tf.loadLayersModel(tf.io.browserFiles([json, weights]))).`);
      return;
    case 'onnxModel':
      save(m.file, new Blob([m.bytes], { type: 'application/octet-stream' }));
      setStatus(`Run ${m.run.toUpperCase()} saved as ${m.file} (ONNX opset ${m.opset}; same channels-last input as the page, any batch size).`);
      return;
    case 'prediction':
      prediction = { a: m.a, b: m.b };
      el('probabilities').replaceChildren(showProbabilities(m.a, m.b, classNames));
      return;
    case 'testImage':
      testIndex = m.index;
      drawing.show(m.pixels);
      el('image-label').textContent = `Test image ${m.index + 1}: ${/^[aeiou]/i.test(classNames[m.label]) ? 'an' : 'a'} ${classNames[m.label]}.`;
      send({ type: 'predict', pixels: m.pixels });
      return;
    case 'error':
      setRunning(false);
      setStatus(`Error: ${m.message}`);
      console.warn(`keel lab: ${m.message}`);
      return;
  }
};
worker.onerror = (e) => setStatus(`The training worker failed: ${e.message}`);

function line(r: RunId, text: string): HTMLElement {
  const p = document.createElement('p');
  p.className = `run-${r}`;
  p.textContent = `${r.toUpperCase()}: ${text}`;
  return p;
}

function save(name: string, blob: Blob): void {
  const a = Object.assign(document.createElement('a'), { href: URL.createObjectURL(blob), download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}

// ---- controls --------------------------------------------------------------------------------

const drawing = new DrawingArea(el('canvas'), (pixels) => {
  el('image-label').textContent = testIndex >= 0 ? `Test image ${testIndex + 1}, drawn over.` : 'Your drawing.';
  send({ type: 'predict', pixels });
});

setUpControls();
showState(state);
showFigures();

el('controls').addEventListener('change', (event) => {
  const target = event.target as HTMLElement;
  const next = readState(state);
  if (target.id === 'layer' || target.id === 'feature') {
    // Only what the charts follow changed: keep the runs, restart those charts.
    state = next;
    window.history.replaceState(null, '', `#${encodeState(state)}`);
    showState(state);
    for (const r of RUNS) points[r].probes = [];
    send({ type: 'follow', layer: state.layer, feature: state.feature });
    return;
  }
  if (ready) reconfigure(next);
  else state = next;
});
el('lr').addEventListener('input', () => {
  const rate = 10 ** Number(el<HTMLInputElement>('lr').value);
  el<HTMLOutputElement>('lr-value').value = String(Number(rate.toPrecision(3)));
});
window.addEventListener('hashchange', () => {
  const decoded = decodeState(location.hash);
  if (encodeState(decoded.state) === encodeState(state)) return;
  problems = decoded.problems;
  if (problems.length) setStatus(`Ignored from the link: ${problems.join('; ')}.`);
  reconfigure(decoded.state);
});
el('train').addEventListener('click', () => {
  send({ type: running ? 'pause' : 'train' });
  setRunning(!running);
});
el('reset').addEventListener('click', () => reconfigure(state));
el('recompute').addEventListener('click', () => send({ type: 'recompute' }));
el('fold').addEventListener('click', () => send({ type: 'fold' }));
el('download-a').addEventListener('click', () => send({ type: 'download', run: 'a' }));
el('download-b').addEventListener('click', () => send({ type: 'download', run: 'b' }));
el('onnx-a').addEventListener('click', () => send({ type: 'downloadOnnx', run: 'a' }));
el('onnx-b').addEventListener('click', () => send({ type: 'downloadOnnx', run: 'b' }));
el('next-image').addEventListener('click', () => send({ type: 'testImage', index: testIndex + 1 }));
el('clear').addEventListener('click', () => {
  drawing.clear();
  testIndex = -1;
  el('image-label').textContent = 'Draw with the mouse.';
  el('probabilities').replaceChildren();
});
window.addEventListener('resize', () => {
  for (const c of [charts.loss, charts.accuracy, ...RUNS.flatMap((r) => [charts.bands[r], charts.grads[r], charts.bn[r]])]) c?.resize();
});
respecRunCharts();
document.body.dataset.phase = 'loading';
// For the curious (and the tests): the settings and every recorded point, from the browser's console.
Object.defineProperty(window, 'keelLab', { get: () => ({ state, history: points, infos, prediction }) });
