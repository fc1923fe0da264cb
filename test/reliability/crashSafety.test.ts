/**
 * Crash safety, proven by killing: processes that save a model (a loop of `model.save`, and saves
 * from an `onEpochEnd` callback during `fit`) are killed with SIGKILL at seeded random moments, and
 * after every kill the folder must load as the last model saved or the one being saved, whole
 * (all weights bit for bit), never a mix, never an error. The temporary files a kill leaves are
 * removed by the next save. scripts/fault-injection.ts runs the same with hundreds of kills.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as keel from 'keel';
import { launcher, runKills, type Launcher, type Mode, type Tally } from './killHarness.js';

let launch: Launcher;
test.before(async () => { launch = await launcher(); });
test.after(() => launch?.dispose());

async function kills(mode: Mode, count: number, seed: number, windowMs: number, stretchMs = 0): Promise<{ tally: Tally; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), `keel-kill-${mode}-`));
  const tally = await runKills({ launch, mode, dir, kills: count, seed, windowMs, stretchMs });
  return { tally, dir };
}

async function endsClean(dir: string): Promise<void> {
  // One more save, in this process: it removes what the kills left, and leaves only the pair.
  const model = await keel.loadLayersModel(`file://${dir}`);
  await model.save(`file://${dir}`);
  assert.deepEqual((await readdir(dir)).sort(), ['model.json', 'weights.bin']);
}

test('8 SIGKILLs during a loop of model.save (two model sizes): the folder always loads the previous or the new model, whole', { timeout: 120_000 }, async () => {
  const { tally, dir } = await kills('save', 8, 1, 150);
  try {
    assert.deepEqual(tally.failures, []);
    assert.equal(tally.kills, 8);
    assert.equal(tally.previous + tally.new, 8, JSON.stringify(tally));
    assert.ok(tally.midSave >= 4, `only ${tally.midSave} of the kills came during a save: ${JSON.stringify(tally.stages)}`);
    await endsClean(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('8 SIGKILLs during saves stretched to spread the kills over every step (renames, links, removals): always whole', { timeout: 120_000 }, async () => {
  // Unstretched, a save is mostly fsync and the kills seldom fall between its renames (see saveChild.ts).
  const { tally, dir } = await kills('save', 8, 3, 300, 3);
  try {
    assert.deepEqual(tally.failures, []);
    assert.equal(tally.previous + tally.new, 8, JSON.stringify(tally));
    assert.ok(Object.keys(tally.stages).length >= 3, `the kills fell in too few stages of a save: ${JSON.stringify(tally.stages)}`);
    await endsClean(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('8 SIGKILLs during fit, saving from a plain onEpochEnd callback: the last checkpoint or the new one, whole', { timeout: 120_000 }, async () => {
  const { tally, dir } = await kills('fit', 8, 2, 300, 1);
  try {
    assert.deepEqual(tally.failures, []);
    assert.equal(tally.previous + tally.new, 8, JSON.stringify(tally));
    assert.ok(tally.saves > 0, `no checkpoint completed in 8 runs: ${JSON.stringify(tally)}`);
    await endsClean(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
