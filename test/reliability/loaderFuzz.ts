/**
 * The model loader's fuzzer, shared by test/io/fuzz.test.ts (a seeded thousand cases in `npm test`)
 * and scripts/fuzz-loader.ts (tens of thousands). Fuzzing the loader: properties over mutations of a valid model.json (structure and raw text) and
 * of its weights. Every case must end in a typed Keel error or a valid model that predicts, never in
 * a crash (TypeError, RangeError...) or a hang; where the outcome is known in advance (only the
 * weights changed, or a weights file that disagrees with its recorded CRC-32) it must be that one.
 *
 * Mutations are data (which node, which operation, which value), so that a failure shrinks to the
 * fewest and simplest edits that still break the loader. Seeds are fixed: every run checks the same
 * cases; a failure prints its seed and path, which `fc.assert(..., { seed, path })` replays.
 */
import assert from 'node:assert/strict';
import { link, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import * as keel from 'keel';
import { randomizeBatchNorm, referenceCrc32, seedModel, weightsOf } from '../io/helpers.js';

/** Folders of cases go to memory (Linux's /dev/shm) when it exists: thousands of small files. */
const scratch = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();

const base = seedModel('seed-before', [3, 4], [5, 4]);
randomizeBatchNorm(base, 1);
let artifacts: keel.io.ModelArtifacts;
await base.save(keel.io.withSaveHandler(async (a) => { artifacts = a; }));
const baseJSON = JSON.stringify(keel.io.artifactsToModelJSON(artifacts!));
const baseWeights = keel.io.weightBytes(artifacts!.weightData);
const baseValues = weightsOf(base);

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
const BASE_NODES = nodes(JSON.parse(baseJSON)).length;

// ---- Mutations as data ----

/** A value to put in place of a node: one of the hand-picked odd ones, or any JSON value. */
const oddValue = fc.oneof(fc.constantFrom(...ODD_VALUES), fc.jsonValue({ maxDepth: 2 }));

const structureEdit = fc.record({
  /** Which node (modulo the number of nodes left after earlier edits). */
  at: fc.nat({ max: BASE_NODES - 1 }),
  op: fc.constantFrom('replace', 'remove', 'duplicate', 'scale'),
  value: oddValue,
  factor: fc.oneof(fc.constant(-1), fc.integer({ min: 2, max: 1000 })),
});
type StructureEdit = typeof structureEdit extends fc.Arbitrary<infer T> ? T : never;
const structureEdits = fc.array(structureEdit, { minLength: 1, maxLength: 3 });

function mutateStructure(edits: StructureEdit[]): string {
  const json = JSON.parse(baseJSON);
  for (const edit of edits) {
    const all = nodes(json);
    if (all.length === 0) break;
    const { parent, key } = all[edit.at % all.length];
    const p = parent as Record<string | number, unknown>;
    if (edit.op === 'remove') {
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else delete p[key];
    } else if (edit.op === 'duplicate' && Array.isArray(parent)) parent.splice(key as number, 0, structuredClone(parent[key as number]));
    else if (edit.op === 'scale' && typeof p[key] === 'number') p[key] = (p[key] as number) * edit.factor;
    else p[key] = structuredClone(edit.value);
  }
  return JSON.stringify(json);
}

const textEdit = fc.record({
  at: fc.nat({ max: baseJSON.length - 1 }),
  op: fc.constantFrom('delete', 'insert', 'replace'),
  char: fc.oneof(fc.constantFrom(...'{}[]",:-0123456789e.n'), fc.integer({ min: 32, max: 126 }).map((c) => String.fromCharCode(c))),
});
type TextEdit = typeof textEdit extends fc.Arbitrary<infer T> ? T : never;
const textEdits = fc.array(textEdit, { minLength: 1, maxLength: 4 });

function mutateText(edits: TextEdit[]): string {
  const chars = baseJSON.split('');
  for (const { at, op, char } of edits) {
    const i = at % Math.max(1, chars.length);
    if (op === 'delete') chars.splice(i, 1);
    else if (op === 'insert') chars.splice(i, 0, char);
    else chars[i] = char;
  }
  return chars.join('');
}

const FLOATS = baseWeights.length / 4;
const weightsEdit = fc.oneof(
  fc.record({ kind: fc.constant('truncate' as const), length: fc.nat({ max: baseWeights.length - 1 }) }),
  fc.record({ kind: fc.constant('extend' as const), extra: fc.uint8Array({ minLength: 1, maxLength: 64 }) }),
  fc.record({
    kind: fc.constant('bytes' as const),
    writes: fc.array(fc.record({ at: fc.nat({ max: baseWeights.length - 1 }), value: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 8 }),
  }),
  fc.record({
    kind: fc.constant('floats' as const),
    writes: fc.array(fc.record({
      at: fc.nat({ max: FLOATS - 1 }),
      value: fc.constantFrom(NaN, Infinity, -Infinity, 3e38, -3e38, 1e-45, 0, -0),
    }), { minLength: 1, maxLength: 8 }),
  }),
);
type WeightsEdit = typeof weightsEdit extends fc.Arbitrary<infer T> ? T : never;

function mutateWeights(edit: WeightsEdit): Uint8Array {
  if (edit.kind === 'truncate') return baseWeights.slice(0, edit.length);
  if (edit.kind === 'extend') {
    const longer = new Uint8Array(baseWeights.length + edit.extra.length);
    longer.set(baseWeights);
    longer.set(edit.extra, baseWeights.length);
    return longer;
  }
  const w = baseWeights.slice();
  const view = new DataView(w.buffer);
  if (edit.kind === 'bytes') for (const { at, value } of edit.writes) w[at] = value;
  else for (const { at, value } of edit.writes) view.setFloat32(4 * at, value, true);
  return w;
}

/** What loading only the weights `w` beside the unchanged model.json must give. */
function expectedForWeights(w: Uint8Array): 'model' | 'ModelFormatError' {
  if (w.length !== baseWeights.length) return 'ModelFormatError';
  const values = new Float32Array(w.slice().buffer);
  return values.every(Number.isFinite) ? 'model' : 'ModelFormatError';
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function untyped(e: unknown, what: string): Error {
  return new Error(`untyped failure for ${what}: ${(e as Error).stack}`);
}

// ---- In memory: parseModelJSON + artifactsToModel ----

const memoryCase = fc.oneof(
  fc.record({ kind: fc.constant('structure' as const), structure: structureEdits }),
  fc.record({ kind: fc.constant('text' as const), text: textEdits }),
  fc.record({ kind: fc.constant('weights' as const), weights: weightsEdit }),
  fc.record({ kind: fc.constant('both' as const), structure: structureEdits, weights: weightsEdit }),
);

/** Loads, and if that succeeds, predicts once; returns the model or the typed error's name. */
function attempt(text: string, weights: Uint8Array): keel.Sequential | string {
  try {
    const { artifacts: parsed } = keel.io.parseModelJSON(text);
    const model = keel.io.artifactsToModel({ ...parsed, weightData: weights.slice().buffer });
    const size = model.inputShape.reduce((a, b) => a * b, 1);
    if (size <= 100_000) model.predict(keel.zeros([2, ...model.inputShape]));
    return model;
  } catch (e) {
    if (e instanceof keel.KeelError) return e.name;
    throw untyped(e, `model.json ${text.slice(0, 400)}...`);
  }
}


/** What a run of cases gave: how many of each outcome ('model' for a valid load, else the typed error's name). */
export interface FuzzCounts {
  cases: number;
  outcomes: Record<string, number>;
  ms: number;
}

function count(outcomes: Record<string, number>, key: string): void {
  outcomes[key] = (outcomes[key] ?? 0) + 1;
}

/**
 * In memory (parseModelJSON + artifactsToModel): `runs` mutations of model.json's structure or
 * text and of the weights. Throws (with the seed and path that replay it) on an untyped failure or
 * an outcome other than the one known in advance.
 */
export function fuzzInMemory(runs: number, seed: number): FuzzCounts {
  const outcomes: Record<string, number> = {};
  const started = performance.now();
  fc.assert(
    fc.property(memoryCase, (c) => {
      const text = c.kind === 'structure' || c.kind === 'both' ? mutateStructure(c.structure) : c.kind === 'text' ? mutateText(c.text) : baseJSON;
      const weights = c.kind === 'weights' || c.kind === 'both' ? mutateWeights(c.weights) : baseWeights;
      const result = attempt(text, weights);
      const outcome = typeof result === 'string' ? result : 'model';
      count(outcomes, outcome);
      assert.ok(['model', 'ModelFormatError'].includes(outcome), outcome);
      if (c.kind === 'weights') {
        // Only the weights changed: their length and finiteness decide, and a model holds them as written.
        assert.equal(outcome, expectedForWeights(weights));
        if (typeof result !== 'string') assert.deepEqual(weightsOf(result), new Float32Array(weights.slice().buffer));
      }
    }),
    { seed, numRuns: runs },
  );
  return { cases: runs, outcomes, ms: performance.now() - started };
}

// ---- Through the file:// loader: paths, sizes, checksums, the previous pair ----

const fileCase = fc.record({
  /** Edits to model.json's structure, or none (the model.json Keel wrote). */
  structure: fc.option(structureEdits, { nil: undefined, freq: 3 }),
  /** An edit to weights.bin, or none. */
  weights: fc.option(weightsEdit, { nil: undefined, freq: 3 }),
  /** The CRC-32 stamp in model.json: none, true to the weights file, or disagreeing with it. */
  stamp: fc.constantFrom('none', 'agrees', 'otherCrc', 'otherLength'),
  otherCrc: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
  /** Whether an intact previous pair (model.json.prev, weights.bin.prev: the base model) lies beside. */
  previousPair: fc.boolean(),
});

/**
 * Through the file:// loader: `runs` folders with a mutated model.json and weights.bin, a CRC stamp
 * that is missing, true or false, and maybe an intact previous pair beside. A weights file that
 * disagrees with its recorded CRC is never loaded: refused, or the previous pair is loaded instead.
 */
export async function fuzzFiles(runs: number, seed: number): Promise<FuzzCounts & { disagreeing: number; fellBack: number }> {
  const dir = await mkdtemp(join(scratch, 'keel-fuzz-'));
  const outcomes: Record<string, number> = {};
  let disagreeing = 0, fellBack = 0;
  const started = performance.now();
  let run = 0;
  try {
    await fc.assert(
      fc.asyncProperty(fileCase, async (c) => {
        const folder = join(dir, String(run++));
        await mkdir(folder);
        const text = c.structure ? mutateStructure(c.structure) : baseJSON;
        const weights = c.weights ? mutateWeights(c.weights) : baseWeights;
        const json = JSON.parse(text);
        const fileCrc = referenceCrc32(weights);
        const disagrees = c.stamp === 'otherCrc' || c.stamp === 'otherLength';
        if (c.stamp !== 'none') {
          json.keel = {
            weightsCrc32: c.stamp === 'otherCrc' ? (c.otherCrc === fileCrc ? (fileCrc + 1) >>> 0 : c.otherCrc) : fileCrc,
            weightsBytes: weights.length + (c.stamp === 'otherLength' ? 4 : 0),
          };
        }
        await writeFile(join(folder, 'model.json'), JSON.stringify(json));
        await writeFile(join(folder, 'weights.bin'), weights);
        if (c.previousPair) {
          const stamped = { ...JSON.parse(baseJSON), keel: { weightsCrc32: referenceCrc32(baseWeights), weightsBytes: baseWeights.length } };
          await writeFile(join(folder, 'model.json.prev'), JSON.stringify(stamped));
          await writeFile(join(folder, 'weights.bin.prev'), baseWeights);
        }
        let loaded: keel.Sequential | undefined;
        let error: keel.KeelError | undefined;
        try {
          loaded = await keel.loadLayersModel(`file://${folder}/model.json`);
        } catch (e) {
          if (!(e instanceof keel.KeelError)) throw untyped(e, `case ${JSON.stringify(c)}`);
          error = e;
        }
        count(outcomes, loaded ? 'model' : error!.name);
        if (disagrees) {
          disagreeing++;
          if (loaded) {
            // Only the intact previous pair may be loaded instead, bit for bit.
            assert.ok(c.previousPair, 'a weights file that disagrees with its recorded CRC was loaded');
            assert.deepEqual(weightsOf(loaded), baseValues, 'loaded neither refused nor the previous pair');
            fellBack++;
          } else {
            assert.equal(error!.name, 'ModelFormatError', error!.message);
          }
        } else if (!c.structure && c.previousPair && c.stamp !== 'none' && weights.length !== baseWeights.length) {
          // A stamped model.json beside a weights file of another size, with a .prev pair: what a save
          // of a model of another size leaves when it is interrupted between its renames. The intact
          // previous pair is loaded.
          assert.ok(loaded, error?.message ?? 'not loaded');
          assert.deepEqual(weightsOf(loaded), baseValues);
        } else if (!c.structure && c.previousPair && c.stamp === 'none' && !sameBytes(weights, baseWeights)) {
          // A model.json without a CRC (from before Keel recorded one) beside a .prev pair and weights
          // that differ from the previous ones: what a save interrupted between its renames leaves
          // in an old folder. The whole previous pair is loaded, never the new weights under the old model.json.
          assert.ok(loaded, error?.message ?? 'not loaded');
          assert.deepEqual(weightsOf(loaded), baseValues);
        } else if (!c.structure) {
          // The model.json Keel wrote, with a true stamp or none: the weights file alone decides.
          assert.equal(loaded ? 'model' : error!.name, expectedForWeights(weights), error?.message ?? 'loaded');
          if (loaded) assert.deepEqual(weightsOf(loaded), new Float32Array(weights.slice().buffer));
        }
        await rm(folder, { recursive: true, force: true });
      }),
      { seed, numRuns: runs },
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return { cases: runs, outcomes, disagreeing, fellBack, ms: performance.now() - started };
}

/**
 * A weights file Keel saved, edited in one byte, its model.json (and CRC) left as saved: `runs`
 * cases, each refused, or, with an intact previous pair beside, that pair loaded.
 */
export async function fuzzByteEdits(runs: number, seed: number): Promise<FuzzCounts> {
  const dir = await mkdtemp(join(scratch, 'keel-fuzz-'));
  const outcomes: Record<string, number> = {};
  const started = performance.now();
  try {
    await base.save(`file://${dir}/saved`);
    const expected = weightsOf(base);
    const saved = new Uint8Array(await readFile(join(dir, 'saved', 'weights.bin')));
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: baseWeights.length - 1 }), fc.integer({ min: 1, max: 255 }), fc.boolean(), async (at, xor, previousPair) => {
        const folder = join(dir, String(run++));
        await mkdir(folder);
        // model.json exactly as save wrote it (with its CRC); weights.bin with one byte changed.
        await link(join(dir, 'saved', 'model.json'), join(folder, 'model.json'));
        const edited = saved.slice();
        edited[at] ^= xor;
        await writeFile(join(folder, 'weights.bin'), edited);
        if (previousPair) {
          await link(join(dir, 'saved', 'model.json'), join(folder, 'model.json.prev'));
          await link(join(dir, 'saved', 'weights.bin'), join(folder, 'weights.bin.prev'));
        }
        const load = keel.loadLayersModel(`file://${folder}/model.json`);
        if (previousPair) {
          assert.deepEqual(weightsOf(await load), expected);
          count(outcomes, 'previous pair');
        } else {
          await assert.rejects(load, { name: 'ModelFormatError', message: /does not match the CRC-32 recorded in model\.json/ });
          count(outcomes, 'ModelFormatError');
        }
        await rm(folder, { recursive: true, force: true });
      }),
      { seed, numRuns: runs },
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return { cases: runs, outcomes, ms: performance.now() - started };
}
