/**
 * Every experiment end to end on a tiny synthetic data set shaped like Fashion-MNIST: a well-formed
 * report, plots that parse as SVG and PNG, and data whose numbers match the report's table.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as keel from 'keel';
import { EXPERIMENTS } from '../../packages/keel-cli/src/experiments/index.js';
import { writeReport } from '../../packages/keel-cli/src/experiments/node/run.js';
import type { ExperimentContext } from '../../packages/keel-cli/src/experiments/common.js';
import type { ImageDataset } from '../../packages/keel-datasets/src/dataset.js';
import { Random } from '../../packages/keel/src/core/random.js';

/** Ten noisy prototype images, one per class; pixels 0–255 or scaled to [0, 1]. */
function synthetic(scale: boolean): ImageDataset {
  const random = new Random(11);
  const prototypes = Array.from({ length: 10 }, () => Float32Array.from({ length: 784 }, () => random.next() * 255));
  const part = (n: number) => {
    const xs = new Float32Array(n * 784);
    const ys = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      ys[i] = i % 10;
      for (let j = 0; j < 784; j++) {
        const v = Math.min(255, Math.max(0, prototypes[i % 10][j] + 90 * random.normal()));
        xs[i * 784 + j] = scale ? v / 255 : v;
      }
    }
    return { xs: keel.tensor(xs, [n, 28, 28]), ys: keel.tensor(ys) };
  };
  return {
    name: 'synthetic', train: part(240), validation: part(80), test: part(80),
    classNames: Array.from({ length: 10 }, (_, i) => `class ${i}`),
    info: { source: 'test', split: 'test', skipped: 0, cache: 'none', seconds: 0 },
  };
}

const data = { true: synthetic(true), false: synthetic(false) };
const out = mkdtempSync(join(tmpdir(), 'keel-experiments-'));

for (const experiment of EXPERIMENTS) {
  test(`experiment ${experiment.name} runs end to end and writes a consistent report`, async () => {
    const ctx: ExperimentContext = {
      quick: true, seeds: [1, 2], epochs: 1, limit: 60, datasetName: 'synthetic',
      load: async ({ scale }) => data[String(scale) as 'true' | 'false'],
      log: () => {},
    };
    const result = await experiment.run(ctx);
    const dir = join(out, experiment.name);
    await writeReport(result, dir, { quick: true, seconds: 1, seeds: ctx.seeds, command: `keel experiment ${experiment.name}` });

    assert.ok(['supported', 'not supported', 'mixed'].includes(result.verdict));
    assert.ok(result.comparisons.length > 0);
    const report = readFileSync(join(dir, 'report.md'), 'utf8');
    for (const heading of ['# Experiment: ', '**Claim.**', `**Verdict: ${result.verdict}.**`, '## Setup', '## Results', '## How the verdict was reached', '## Plots']) {
      assert.ok(report.includes(heading), `report lacks ${heading}`);
    }
    // The table in the report is the table in data.json, cell for cell.
    const json = JSON.parse(readFileSync(join(dir, 'data.json'), 'utf8'));
    const tableLines = report.split('\n').filter((l) => l.startsWith('| '));
    const cells = (l: string) => l.slice(2, -2).split(/(?<!\\) \| /).map((c) => c.replace(/\\\|/g, '|'));
    assert.deepEqual(cells(tableLines[0]), json.table.columns);
    assert.deepEqual(tableLines.slice(2).map(cells), json.table.rows.map((r: unknown[]) => r.map(String)));
    assert.equal(json.verdict, result.verdict);
    // Every plot parses: SVG markup with axes and a title, PNG with its signature and size.
    const files = readdirSync(dir);
    for (const figure of result.figures) {
      const svg = readFileSync(join(dir, `${figure.name}.svg`), 'utf8');
      assert.match(svg, /^<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
      assert.ok(svg.trimEnd().endsWith('</svg>'));
      assert.ok(svg.includes('role="graphics-document"') || svg.includes('<text'), 'no text in the SVG');
      const png = readFileSync(join(dir, `${figure.name}.png`));
      assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
      assert.ok(png.readUInt32BE(16) > 300 && png.readUInt32BE(20) > 200, 'PNG too small');
      assert.ok(report.includes(`](${figure.name}.png)`));
    }
    for (const c of result.csv) {
      const csv = readFileSync(join(dir, `${c.name}.csv`), 'utf8').trim().split('\n');
      assert.equal(csv[0], c.columns.join(','));
      assert.equal(csv.length, c.rows.length + 1);
    }
    assert.ok(files.includes('data.json'));
  });
}

test('placement: the table\'s accuracies are the means of the runs in data.json', () => {
  const json = JSON.parse(readFileSync(join(out, 'placement', 'data.json'), 'utf8'));
  for (const row of json.table.rows) {
    const runs = json.data.runs[row[0]] as { valAccuracy: number[] }[];
    const finals = runs.map((r) => r.valAccuracy[r.valAccuracy.length - 1]);
    const m = finals.reduce((s, v) => s + v, 0) / finals.length;
    assert.equal(String(row[1]).split(' ± ')[0], m.toFixed(4));
  }
});
