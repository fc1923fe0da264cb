/**
 * `keel train --checkpoint DIR` and `--resume DIR`, run as a user runs them (child processes): a run
 * of 2 epochs and a run of 1 epoch resumed to 2 leave byte-identical weights.bin files, early
 * stopping included; --resume refuses, in one line, a folder that is not a checkpoint and options
 * that conflict with the run's.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../packages/keel-cli/src/program.js';

const root = join(import.meta.dirname, '..', '..');

function keel(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--conditions=keel-source', '--import', 'tsx', join(root, 'packages', 'keel-cli', 'src', 'keel.ts'), ...args], {
    cwd: root, encoding: 'utf8', timeout: 120_000, env: { ...process.env, FORCE_COLOR: '0' },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function ok(r: ReturnType<typeof keel>): ReturnType<typeof keel> {
  assert.equal(r.code, 0, r.stderr);
  return r;
}

/** `keel ARGS` in this process (no start-up cost), for the calls refused before any data are loaded. */
async function refused(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const write = process.stderr.write;
  let stderr = '';
  process.stderr.write = ((chunk: string | Uint8Array) => { stderr += String(chunk); return true; }) as typeof process.stderr.write;
  try {
    return { code: await run(args), stdout: '', stderr };
  } finally {
    process.stderr.write = write;
  }
}

function usageError(r: ReturnType<typeof keel>, pattern: RegExp): void {
  assert.equal(r.code, 2, `exit code (stderr: ${r.stderr})`);
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0], pattern);
}

const tiny = ['--train-limit', '64', '--verbose', '0', '--optimizer', 'adam'];

test('2 epochs straight, and 1 epoch checkpointed then resumed to 2, leave byte-identical weights.bin; then --resume refuses what it cannot do', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'keel-resume-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const [a, b, c] = ['A', 'B', 'C'].map((n) => join(dir, n));
  ok(keel('train', ...tiny, '--epochs', '2', '--save', a, '--json', join(dir, 'a.json')));
  const first = ok(keel('train', ...tiny, '--epochs', '1', '--checkpoint', c));
  assert.match(first.stdout, /Checkpointed every epoch in .*C \(continue with keel train --resume .*C --epochs N\)/);
  const state = JSON.parse(readFileSync(join(c, 'model.json'), 'utf8'));
  assert.equal(state.userDefinedMetadata.keelTrain.epochsDone, 1);
  assert.ok(state.trainingConfig && state.weightsManifest[0].weights.some((w: { group?: string }) => w.group === 'optimizer'));

  const resumed = ok(keel('train', '--resume', c, '--epochs', '2', '--save', b, '--json', join(dir, 'b.json'), '--verbose', '0'));
  assert.match(resumed.stdout, /Resuming the run checkpointed in .*C after epoch 1 of 2/);
  assert.ok(readFileSync(join(a, 'weights.bin')).equals(readFileSync(join(b, 'weights.bin'))), 'weights.bin differ');
  // The report covers the whole run; the model --save wrote carries no run state.
  const [ra, rb] = ['a.json', 'b.json'].map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')));
  assert.deepEqual(rb.history, ra.history);
  assert.deepEqual(rb.test, ra.test);
  assert.equal(rb.options.resumedFrom.epochsDone, 1);
  assert.equal(JSON.parse(readFileSync(join(b, 'model.json'), 'utf8')).userDefinedMetadata, undefined);
  assert.equal(JSON.parse(readFileSync(join(c, 'model.json'), 'utf8')).userDefinedMetadata.keelTrain.epochsDone, 2);

  // Refused in one line, before any data are loaded.
  usageError(await refused('train', '--resume', join(dir, 'none')), /^keel: --resume .*none: .*none has no model\.json: no checkpoint there; give the folder of a run's --checkpoint\.$/);
  usageError(await refused('train', '--resume', a), /^keel: --resume .*A: .*A holds a model but no keel train run state \(a model saved with --save cannot be resumed\)/);
  usageError(await refused('train', '--resume', c, '--epochs', '3', '--learning-rate', '0.01'),
    /^keel: --resume .*C: --learning-rate 0\.01 conflicts with the run's 0\.001; a resumed run keeps its options: leave --learning-rate out/);
  usageError(await refused('train', '--resume', c, '--epochs', '3', '--optimizer', 'sgd'), /--optimizer sgd conflicts with the run's adam/);
  usageError(await refused('train', '--resume', c, '--epochs', '3', '--no-scale'), /--no-scale conflicts with the run's scaled inputs/);
  usageError(await refused('train', '--resume', c, '--epochs', '2'), /the run has done 2 epochs; --epochs 2 is the total to reach, so give more than 2\./);
  usageError(await refused('train', '--resume', c), /the run is complete \(2 of 2 epochs\); pass --epochs N with N > 2 to train it further\./);
  usageError(await refused('train', '--resume', c, '--epochs', '3', '--checkpoint', join(dir, 'D')), /--checkpoint with --resume .*C: a resumed run goes on checkpointing into .*C; leave --checkpoint out\./);
  // Options equal to the run's are accepted: the refusal above is about a conflict, not a flag.
  const json = JSON.parse(readFileSync(join(c, 'model.json'), 'utf8'));
  json.userDefinedMetadata.keelTrain.stoppedEarly = true;
  json.userDefinedMetadata.keelTrain.run.earlyStopping = 1;
  writeFileSync(join(c, 'model.json'), JSON.stringify(json));
  usageError(await refused('train', '--resume', c, '--epochs', '3', '--optimizer', 'adam'),
    /the run stopped early after epoch 2 \(--early-stopping 1: val_loss had stopped improving\); there is nothing to continue\./);
});

test('with --early-stopping, the resumed run stops where the whole run stops, with the same weights', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'keel-resume-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // A large rate makes val_loss go up after epoch 2, so that patience 2 stops the 5-epoch run after
  // epoch 4; resumed after epoch 2, the patience count must carry the epochs before, or it would stop later.
  const options = [...tiny, '--learning-rate', '0.05', '--early-stopping', '2'];
  ok(keel('train', ...options, '--epochs', '5', '--save', join(dir, 'A'), '--json', join(dir, 'a.json')));
  ok(keel('train', ...options, '--epochs', '2', '--checkpoint', join(dir, 'C')));
  usageError(await refused('train', '--resume', join(dir, 'C'), '--epochs', '5', '--early-stopping', '1'), /--early-stopping 1 conflicts with the run's 2/);
  usageError(await refused('train', '--resume', join(dir, 'C'), '--epochs', '5', '--backend', 'js'), /--backend js conflicts with the run's wasm/);
  ok(keel('train', '--resume', join(dir, 'C'), '--epochs', '5', '--verbose', '0', '--save', join(dir, 'B'), '--json', join(dir, 'b.json')));
  const [ra, rb] = ['a.json', 'b.json'].map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')));
  assert.ok(ra.stoppedEarly && ra.stoppedEarly.afterEpoch > 2 && ra.stoppedEarly.afterEpoch < 5,
    `the straight run should stop early after epoch 3 or 4 for this test to mean something; it stopped ${JSON.stringify(ra.stoppedEarly)} ` +
      `(val_loss ${ra.history.val_loss}): choose another --learning-rate`);
  assert.deepEqual(rb.stoppedEarly, ra.stoppedEarly);
  assert.deepEqual(rb.history, ra.history);
  assert.ok(readFileSync(join(dir, 'A', 'weights.bin')).equals(readFileSync(join(dir, 'B', 'weights.bin'))), 'weights.bin differ');
});
