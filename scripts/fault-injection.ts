/**
 * Crash safety at scale: hundreds of processes that save a model, killed at seeded random moments,
 * each kill followed by a load that must give the last complete save or the one under way, whole
 * (checked by a SHA-256 of all the weights). The same harness as test/reliability/crashSafety.test.ts
 * and sigint.test.ts, with more kills. Prints one line per batch and a summary; exits 1 on a failure.
 *
 *   node --conditions=keel-source --import tsx scripts/fault-injection.ts [--scale N] [--seed S]
 *
 * --scale multiplies every batch's kill count (default 1: 220 SIGKILLs and 20 SIGINTs); --seed
 * changes every batch's seed (default 1), so that another run hits other moments.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as keel from 'keel';
import { launcher, runKills, type Mode, type Signal, type Tally } from '../test/reliability/killHarness.js';

const { values } = parseArgs({ options: { scale: { type: 'string', default: '1' }, seed: { type: 'string', default: '1' } } });
const scale = Number(values.scale);
const seed = Number(values.seed);
if (!(scale > 0) || !Number.isInteger(seed)) throw new Error('usage: fault-injection.ts [--scale N>0] [--seed INTEGER]');

interface Batch { name: string; mode: Mode; kills: number; windowMs: number; stretchMs: number; signal: Signal }
const BATCHES: Batch[] = [
  { name: 'model.save loop, SIGKILL', mode: 'save', kills: 60, windowMs: 150, stretchMs: 0, signal: 'SIGKILL' },
  { name: 'model.save loop, stretched steps, SIGKILL', mode: 'save', kills: 60, windowMs: 300, stretchMs: 3, signal: 'SIGKILL' },
  { name: 'fit + onEpochEnd save, SIGKILL', mode: 'fit', kills: 50, windowMs: 300, stretchMs: 0, signal: 'SIGKILL' },
  { name: 'fit + onEpochEnd save, stretched steps, SIGKILL', mode: 'fit', kills: 50, windowMs: 300, stretchMs: 1, signal: 'SIGKILL' },
  { name: 'fit + onEpochEnd save, SIGINT (no handler)', mode: 'fit', kills: 10, windowMs: 300, stretchMs: 0, signal: 'SIGINT' },
  { name: 'fit + onEpochEnd save, SIGINT (stopTraining handler)', mode: 'fit-graceful', kills: 10, windowMs: 300, stretchMs: 0, signal: 'SIGINT' },
];

const launch = await launcher();
const began = performance.now();
const totals = { kills: 0, previous: 0, new: 0, failed: 0, midSave: 0, saves: 0, leftTemporaries: 0 };
const stages: Record<string, number> = {};
const failures: string[] = [];
try {
  for (const [i, b] of BATCHES.entries()) {
    const dir = await mkdtemp(join(tmpdir(), 'keel-fault-'));
    let tally: Tally;
    try {
      tally = await runKills({ launch, mode: b.mode, dir, kills: Math.round(b.kills * scale), seed: seed * 100 + i, windowMs: b.windowMs, stretchMs: b.stretchMs, signal: b.signal });
      // One clean save at the end must leave only the pair.
      const model = await keel.loadLayersModel(`file://${dir}`);
      await model.save(`file://${dir}`);
      const left = (await readdir(dir)).filter((n) => n !== 'model.json' && n !== 'weights.bin');
      if (left.length) tally.failures.push(`after a clean save, the folder still holds ${left.join(', ')}`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    for (const key of Object.keys(totals) as (keyof typeof totals)[]) totals[key] += tally[key];
    for (const [stage, n] of Object.entries(tally.stages)) stages[stage] = (stages[stage] ?? 0) + n;
    failures.push(...tally.failures.map((f) => `${b.name}: ${f}`));
    console.log(
      `${b.name}: ${tally.kills} ${b.signal === 'SIGINT' ? 'interrupts' : 'kills'}, ${tally.previous} loaded the previous save, ${tally.new} the new one, ` +
        `${tally.failed} failed; ${tally.midSave} came during a save, ${tally.saves} saves completed, ${tally.leftTemporaries} left temporary files; ` +
        `${(tally.ms / 1000).toFixed(1)} s`,
    );
  }
} finally {
  await launch.dispose();
}
const seconds = (performance.now() - began) / 1000;
console.log(`\nstages of the save at the kill: ${Object.entries(stages).sort((a, b) => b[1] - a[1]).map(([s, n]) => `${s}: ${n}`).join('; ')}`);
console.log(JSON.stringify({ ...totals, seconds: Number(seconds.toFixed(1)), failures: failures.length }));
if (failures.length) {
  console.log(failures.join('\n'));
  process.exitCode = 1;
} else {
  console.log(`${totals.kills} signals, every one survived: the folder loaded a whole model each time (${totals.previous} previous, ${totals.new} new), in ${seconds.toFixed(0)} s.`);
}
