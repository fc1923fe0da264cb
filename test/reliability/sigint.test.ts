/**
 * Ctrl-C during `fit` with a save-per-epoch callback (a plain `{ onEpochEnd }` that awaits
 * model.save), in child processes: SIGINT at seeded random moments. Without a handler (Node's
 * default: the process ends at once, as `keel train` does) the folder loads the last checkpoint or
 * the one being written, whole. With a handler that sets `model.stopTraining`, the epoch under way
 * ends, its checkpoint is written, the process exits 0, and the folder loads that last checkpoint.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launcher, runKills, type Launcher } from './killHarness.js';

let launch: Launcher;
test.before(async () => { launch = await launcher(); });
test.after(() => launch?.dispose());

test('SIGINT during fit, no handler: the folder loads the last checkpoint or the new one, whole', { timeout: 120_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'keel-sigint-'));
  try {
    const tally = await runKills({ launch, mode: 'fit', dir, kills: 4, seed: 5, windowMs: 300, signal: 'SIGINT' });
    assert.deepEqual(tally.failures, []);
    assert.equal(tally.previous + tally.new, 4, JSON.stringify(tally));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('SIGINT during fit with a handler that stops training: the last checkpoint is written whole and the process exits 0', { timeout: 120_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'keel-sigint-'));
  try {
    const tally = await runKills({ launch, mode: 'fit-graceful', dir, kills: 4, seed: 6, windowMs: 300, signal: 'SIGINT' });
    assert.deepEqual(tally.failures, []);
    // Each run ends after the checkpoint of the epoch under way: the folder holds exactly that one.
    assert.equal(tally.previous, 4, JSON.stringify(tally));
    assert.deepEqual((await readdir(dir)).sort(), ['model.json', 'weights.bin'], 'a clean stop leaves no temporary file');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
