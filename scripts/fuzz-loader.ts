/**
 * The model loader's fuzzer at scale: the cases of test/io/fuzz.test.ts (see
 * test/reliability/loaderFuzz.ts), ten times as many and more, with their outcomes counted. Every
 * case must end in a typed Keel error (a refusal) or a valid model that predicts, and the expected
 * one where it is known; the first case that does not stops the run with its seed and path.
 *
 *   node --conditions=keel-source --import tsx scripts/fuzz-loader.ts [--scale N] [--seed S]
 *
 * Default: 8,000 mutations in memory, 2,000 folders through the file:// loader, 500 one-byte edits
 * of a saved weights file (10,500 cases). --scale multiplies the counts; --seed picks other cases.
 */
import { parseArgs } from 'node:util';
import { fuzzByteEdits, fuzzFiles, fuzzInMemory, type FuzzCounts } from '../test/reliability/loaderFuzz.js';

const { values } = parseArgs({ options: { scale: { type: 'string', default: '1' }, seed: { type: 'string', default: '1' } } });
const scale = Number(values.scale);
const seed = Number(values.seed);
if (!(scale > 0) || !Number.isInteger(seed)) throw new Error('usage: fuzz-loader.ts [--scale N>0] [--seed INTEGER]');
const n = (count: number) => Math.max(1, Math.round(count * scale));

const began = performance.now();
const runs: [string, FuzzCounts & { disagreeing?: number; fellBack?: number }][] = [];
const report = (name: string, c: FuzzCounts & { disagreeing?: number; fellBack?: number }) => {
  runs.push([name, c]);
  const loads = (c.outcomes.model ?? 0) + (c.outcomes['previous pair'] ?? 0);
  const refusals = Object.entries(c.outcomes).filter(([k]) => k !== 'model' && k !== 'previous pair');
  console.log(
    `${name}: ${c.cases} cases in ${(c.ms / 1000).toFixed(1)} s: ${loads} valid loads, ` +
      `${refusals.reduce((s, [, v]) => s + v, 0)} typed refusals (${refusals.map(([k, v]) => `${k} ${v}`).join(', ') || 'none'})` +
      (c.disagreeing !== undefined ? `; ${c.disagreeing} weights files disagreed with their CRC: ${c.disagreeing - c.fellBack!} refused, ${c.fellBack} replaced by the previous pair` : '') +
      (c.outcomes['previous pair'] ? `; ${c.outcomes['previous pair']} of the loads were the previous pair` : ''),
  );
};
report('in memory (parseModelJSON + artifactsToModel + predict)', fuzzInMemory(n(8000), seed * 1000 + 1));
report('through file:// (model.json, weights.bin, CRC stamp, .prev pair)', await fuzzFiles(n(2000), seed * 1000 + 2));
report('one-byte edits of a saved weights.bin', await fuzzByteEdits(n(500), seed * 1000 + 3));

const total = runs.reduce((s, [, c]) => s + c.cases, 0);
const loads = runs.reduce((s, [, c]) => s + (c.outcomes.model ?? 0) + (c.outcomes['previous pair'] ?? 0), 0);
const seconds = (performance.now() - began) / 1000;
console.log(JSON.stringify({ cases: total, validLoads: loads, typedRefusals: total - loads, untyped: 0, seconds: Number(seconds.toFixed(1)) }));
console.log(`${total} cases, every one a typed refusal or a valid model (${loads} loads, ${total - loads} refusals), in ${seconds.toFixed(0)} s.`);
