/**
 * Fuzzing the loader, a seeded thousand cases: 800 mutations of model.json (structure and raw
 * text) and of its weights in memory, 150 folders through the file:// loader (CRC stamps true,
 * false or missing, a previous pair beside or not), 50 one-byte edits of a saved weights file.
 * Every case must end in a typed Keel error or a valid model that predicts, never in a crash
 * (TypeError, RangeError...) or a hang; where the outcome is known in advance it must be that one.
 * The cases and their checks are in test/reliability/loaderFuzz.ts; scripts/fuzz-loader.ts runs
 * tens of thousands. A failure prints its seed and path, which `fc.assert(..., { seed, path })` replays.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { referenceCrc32 } from './helpers.js';
import { fuzzByteEdits, fuzzFiles, fuzzInMemory } from '../reliability/loaderFuzz.js';

test('800 mutations of model.json and weights.bin in memory: typed error or valid model, the expected one where known', { timeout: 60_000 }, () => {
  const { outcomes, ms } = fuzzInMemory(800, 20261123);
  assert.ok(ms < 30_000, `${ms} ms`);
  // Both outcomes occur often: the fuzzer is not only producing garbage or only no-ops.
  assert.ok((outcomes.model ?? 0) > 40, JSON.stringify(outcomes));
  assert.ok((outcomes.ModelFormatError ?? 0) > 200, JSON.stringify(outcomes));
});

test('150 mutations through the file:// loader: typed errors, and a weights file that disagrees with its CRC is never loaded', { timeout: 60_000 }, async () => {
  const counts = await fuzzFiles(150, 7);
  assert.ok(counts.ms < 30_000, `${counts.ms} ms`);
  // Both ways of handling a disagreeing file were exercised, and both outcomes occur.
  const refused = counts.disagreeing - counts.fellBack;
  assert.ok(refused > 15 && counts.fellBack > 8, JSON.stringify(counts));
  assert.ok((counts.outcomes.model ?? 0) > 15, JSON.stringify(counts));
});

test('the independent CRC-32 is the standard one (check value of "123456789")', () => {
  assert.equal(referenceCrc32(new TextEncoder().encode('123456789')), 0xcbf43926);
});

test('50 weights files edited in one byte, their CRC left as saved: refused, or the previous pair loaded', { timeout: 60_000 }, async () => {
  const { outcomes } = await fuzzByteEdits(50, 11);
  assert.ok((outcomes['previous pair'] ?? 0) > 8 && (outcomes.ModelFormatError ?? 0) > 8, JSON.stringify(outcomes));
});
