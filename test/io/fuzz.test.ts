/**
 * Fuzzing the loader: seeded mutations of a valid model.json (structure and raw text) and of its
 * weights. Every case must end in a typed Keel error or a valid model that predicts, never in a
 * crash (TypeError, RangeError...) or a hang.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as keel from 'keel';
import { Random } from '../../packages/keel/src/core/random.js';
import { randomizeBatchNorm, seedModel } from './helpers.js';

const base = seedModel('seed-before', [3, 4], [5, 4]);
randomizeBatchNorm(base, 1);
let artifacts: keel.io.ModelArtifacts;
await base.save(keel.io.withSaveHandler(async (a) => { artifacts = a; }));
const baseJSON = JSON.stringify(keel.io.artifactsToModelJSON(artifacts!));
const baseWeights = keel.io.weightBytes(artifacts!.weightData);

const ODD_VALUES: unknown[] = [
  null, true, false, 0, -1, 1, 2.5, 1e9, 2 ** 31, -0, 1e308, '', 'Dense', 'Conv2D', '../x', '/etc/passwd', 'relu',
  'float16', [], [null], [0], [1, 2, 3], [-1, 4], [null, 1e6, 1e6], {}, { class_name: 'Zeros', config: {} },
  { class_name: 'VarianceScaling', config: { scale: -1, mode: 'fan_in', distribution: 'normal' } }, 'a'.repeat(1000),
];

/** Every node of a JSON tree with its parent and key, so that one can be replaced or removed. */
function nodes(root: unknown): { parent: Record<string, unknown> | unknown[]; key: string | number }[] {
  const out: { parent: Record<string, unknown> | unknown[]; key: string | number }[] = [];
  const walk = (v: unknown) => {
    if (Array.isArray(v)) v.forEach((c, i) => { out.push({ parent: v, key: i }); walk(c); });
    else if (v && typeof v === 'object') for (const k of Object.keys(v)) { out.push({ parent: v as Record<string, unknown>, key: k }); walk((v as Record<string, unknown>)[k]); }
  };
  walk(root);
  return out;
}

function mutateStructure(random: Random): string {
  const json = JSON.parse(baseJSON);
  const count = 1 + random.int(3);
  for (let m = 0; m < count; m++) {
    const all = nodes(json);
    const { parent, key } = all[random.int(all.length)];
    const op = random.int(4);
    const p = parent as Record<string | number, unknown>;
    if (op === 0) p[key] = structuredClone(ODD_VALUES[random.int(ODD_VALUES.length)]);
    else if (op === 1) {
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else delete p[key];
    } else if (op === 2 && Array.isArray(parent)) parent.splice(key as number, 0, structuredClone(parent[key as number]));
    else if (typeof p[key] === 'number') p[key] = (p[key] as number) * (random.next() < 0.5 ? -1 : 1 + random.int(1000));
    else p[key] = structuredClone(ODD_VALUES[random.int(ODD_VALUES.length)]);
  }
  return JSON.stringify(json);
}

function mutateText(random: Random): string {
  const chars = baseJSON.split('');
  const count = 1 + random.int(4);
  for (let m = 0; m < count; m++) {
    const at = random.int(chars.length);
    const op = random.int(3);
    if (op === 0) chars.splice(at, 1);
    else if (op === 1) chars.splice(at, 0, '{}[]",:0-9e.n'[random.int(13)]);
    else chars[at] = String.fromCharCode(32 + random.int(95));
  }
  return chars.join('');
}

function mutateWeights(random: Random): Uint8Array {
  const op = random.int(4);
  if (op === 0) return baseWeights.slice(0, random.int(baseWeights.length));
  if (op === 1) {
    const longer = new Uint8Array(baseWeights.length + 1 + random.int(64));
    longer.set(baseWeights);
    return longer;
  }
  const w = baseWeights.slice();
  const flips = 1 + random.int(8);
  for (let i = 0; i < flips; i++) {
    if (op === 2) w[random.int(w.length)] = random.int(256);
    else new DataView(w.buffer).setFloat32(4 * random.int(w.length / 4), [NaN, Infinity, -Infinity, 3e38][random.int(4)], true);
  }
  return w;
}

/** Loads, and if that succeeds, predicts once; returns 'model' or the typed error's name. */
function attempt(text: string, weights: Uint8Array): string {
  try {
    const { artifacts: parsed } = keel.io.parseModelJSON(text);
    const model = keel.io.artifactsToModel({ ...parsed, weightData: weights.slice().buffer });
    const size = model.inputShape.reduce((a, b) => a * b, 1);
    if (size <= 100_000) model.predict(keel.zeros([2, ...model.inputShape]));
    return 'model';
  } catch (e) {
    if (e instanceof keel.KeelError) return e.name;
    throw new Error(`untyped failure for model.json ${text.slice(0, 400)}...: ${(e as Error).stack}`);
  }
}

test('400 seeded mutations of model.json and weights.bin: typed error or valid model, fast', { timeout: 60_000 }, () => {
  const random = new Random(20261123);
  const outcomes = new Map<string, number>();
  const started = Date.now();
  for (let i = 0; i < 400; i++) {
    const kind = i % 4;
    const text = kind === 0 || kind === 3 ? mutateStructure(random) : kind === 1 ? mutateText(random) : baseJSON;
    const weights = kind >= 2 ? mutateWeights(random) : baseWeights;
    const outcome = attempt(text, weights);
    outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
  }
  assert.ok(Date.now() - started < 30_000);
  // Both outcomes occur: the fuzzer is not only producing garbage or only no-ops.
  assert.ok((outcomes.get('model') ?? 0) > 0, JSON.stringify([...outcomes]));
  assert.ok((outcomes.get('ModelFormatError') ?? 0) > 100, JSON.stringify([...outcomes]));
  for (const name of outcomes.keys()) assert.ok(['model', 'ModelFormatError'].includes(name), name);
});

test('60 seeded mutations through the file:// loader (paths, sizes, checksums)', { timeout: 60_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'keel-fuzz-'));
  try {
    const random = new Random(7);
    for (let i = 0; i < 60; i++) {
      const text = i % 3 === 2 ? baseJSON : mutateStructure(random);
      const stamped = i % 2 === 0 ? text : text.replace(/}$/, `,"keel":{"weightsCrc32":${random.int(2 ** 31)},"weightsBytes":${baseWeights.length}}}`);
      await writeFile(join(dir, 'model.json'), stamped);
      await writeFile(join(dir, 'weights.bin'), i % 3 === 2 ? mutateWeights(random) : baseWeights);
      try {
        await keel.loadLayersModel(`file://${dir}/model.json`);
      } catch (e) {
        if (!(e instanceof keel.KeelError)) throw new Error(`untyped failure (case ${i}): ${(e as Error).stack}`);
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
