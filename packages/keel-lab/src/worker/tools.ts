/**
 * The lab's buttons, on one run's model: exact population statistics, folding BN, and the model's
 * files in the TF.js format.
 */
import * as keel from 'keel';
import type { FoldReport } from '../messages.js';

/** The images the buttons use: all of them for the MLP, fewer for the slow cnn (see the Worker). */
export interface ToolData {
  train: keel.Tensor;
  validation: { x: keel.Tensor; y: keel.Tensor };
}

function accuracy(model: keel.Sequential, data: ToolData): number {
  const [, acc] = model.evaluate(data.validation.x, data.validation.y, { batchSize: 100 }) as keel.Tensor[];
  return acc.dataSync()[0];
}

const count = (t: keel.Tensor) => t.shape[0].toLocaleString('en-US');

const hasBatchNorm = (model: keel.Sequential) => model.layers.some((l) => l instanceof keel.layers.BatchNormalization);

/**
 * Replaces the moving averages by the exact statistics of the training images
 * (keel.recomputeBatchNormStatistics), with the validation accuracy before and after.
 */
export async function populationReport(model: keel.Sequential, data: ToolData): Promise<{ text: string; figures: { before: number; after: number } | null }> {
  if (!hasBatchNorm(model)) return { text: 'no BatchNormalization layer: nothing to recompute', figures: null };
  const before = accuracy(model, data);
  const recomputed = await keel.recomputeBatchNormStatistics(model, data.train, { batchSize: 100 });
  const after = accuracy(model, data);
  return {
    text: `validation accuracy ${before.toFixed(4)} → ${after.toFixed(4)} on ${count(data.validation.x)} images (${recomputed.length} BN layer${recomputed.length === 1 ? '' : 's'}, ` +
      `statistics over ${count(data.train)} training images)`,
    figures: { before, after },
  };
}

/**
 * Median milliseconds of one `predict` of one image, for each model: rounds of 20 ms of calls,
 * the models in turn, after a warm-up (a new model's first few hundred calls are slower while V8
 * and the kernels' buffers warm up).
 */
function predictionTimes(models: keel.Sequential[], one: keel.Tensor): number[] {
  const times: number[][] = models.map(() => []);
  const round = (model: keel.Sequential) => {
    const start = performance.now();
    let calls = 0;
    while (performance.now() - start < 20) {
      model.predict(one);
      calls++;
    }
    return (performance.now() - start) / calls;
  };
  for (let r = 0; r < 5; r++) models.forEach(round);
  for (let r = 0; r < 11; r++) models.forEach((m, i) => times[i].push(round(m)));
  return times.map((t) => t.sort((p, q) => p - q)[5]);
}

const layerList = (model: keel.Sequential) => model.layers.map((l) => `${l.name} (${l.getClassName()})`);

/** Folds BN into the neighbouring layers (keel.foldBatchNorm) and compares the two models. */
export function foldReport(model: keel.Sequential, data: ToolData): FoldReport | string {
  if (!hasBatchNorm(model)) return 'no BatchNormalization layer: nothing to fold';
  const { model: folded, folded: done, notFolded } = keel.foldBatchNorm(model);
  const x = data.validation.x;
  const p = model.predict(x, { batchSize: 100 }).dataSync();
  const q = folded.predict(x, { batchSize: 100 }).dataSync();
  let largestDifference = 0;
  for (let i = 0; i < p.length; i++) largestDifference = Math.max(largestDifference, Math.abs(p[i] - q[i]));
  const one = keel.slice(x, 0, 1);
  const [msBefore, msAfter] = predictionTimes([model, folded], one);
  return {
    before: layerList(model), after: layerList(folded), folded: done.length,
    notFolded: notFolded.map((n) => `${n.layer}: ${n.reason}`),
    largestDifference, msBefore, msAfter,
  };
}

/** The model.json document (its weights manifest naming `weightsFile`) and the weights' bytes, as TF.js loads them. */
export async function modelFiles(model: keel.Sequential, weightsFile: string): Promise<{ modelJson: string; weights: ArrayBuffer }> {
  let artifacts: keel.io.ModelArtifacts | null = null;
  await model.save(keel.io.withSaveHandler(async (a) => { artifacts = a; }));
  const saved = artifacts as keel.io.ModelArtifacts | null;
  if (!saved) throw new Error('the model was not saved');
  const json = keel.io.artifactsToModelJSON(saved, weightsFile);
  const bytes = keel.io.weightBytes(saved.weightData);
  return { modelJson: JSON.stringify(json), weights: bytes.slice().buffer };
}
