/**
 * Runs experiments and writes their reports: for each, a folder with report.md, the plots as SVG
 * and PNG, data.json and CSV files; for several, an index.md linking them. Node only (files).
 */
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ValueError, getBackend } from 'keel';
import { fashionMnist, mnist, type ImageDataset } from 'keel-datasets';
import { EXPERIMENTS, EXPERIMENT_NAMES, getExperiment } from '../registry.js';
import type { ExperimentContext, ExperimentResult } from '../common.js';
import { describe } from '../verdict.js';
import { svgToPng, toSvg } from './render.js';
import { makeFolders } from '../../files.js';

export interface RunExperimentArgs {
  /** Small subsets and few epochs (minutes). */
  quick?: boolean;
  /** Number of seeds (1, 2, ..., K). Default 3, or 1 with `quick`. */
  seeds?: number;
  /** Epochs, overriding each experiment's default. */
  epochs?: number;
  /** 'fashion-mnist' (default) or 'mnist'. paper-figure-1 always uses MNIST. */
  dataset?: 'fashion-mnist' | 'mnist';
  /** Output folder (default 'experiments'); each experiment writes into OUT/NAME/. */
  outDir?: string;
  /** Where the data cache lives (default: the data loader's). */
  cacheDir?: string;
  /** Progress lines (default console.log). */
  log?: (line: string) => void;
}

export interface ExperimentOutcome {
  result: ExperimentResult;
  dir: string;
  seconds: number;
}

/** Runs `name` (or every experiment, for 'all') and writes the reports. */
export async function runExperiments(name: string, args: RunExperimentArgs = {}): Promise<ExperimentOutcome[]> {
  const { quick = false, epochs, dataset = 'fashion-mnist', outDir = 'experiments', cacheDir, log = console.log } = args;
  const seedCount = args.seeds ?? (quick ? 1 : 3);
  if (!Number.isInteger(seedCount) || seedCount < 1) throw new ValueError(`experiment: expected --seeds to be a positive integer, received ${seedCount}.`);
  if (epochs !== undefined && (!Number.isInteger(epochs) || epochs < 1)) throw new ValueError(`experiment: expected --epochs to be a positive integer, received ${epochs}.`);
  const list = name === 'all' ? [...EXPERIMENTS] : [getExperiment(name)];
  if (!list[0]) throw new ValueError(`experiment: unknown experiment '${name}'. Expected one of: ${EXPERIMENT_NAMES.join(', ')}, all.`);

  const cache = new Map<string, Promise<ImageDataset>>();
  const ctx: ExperimentContext = {
    quick, epochs, datasetName: dataset, log,
    seeds: Array.from({ length: seedCount }, (_, i) => i + 1),
    load({ scale, dataset: which = dataset }) {
      const key = `${which}:${scale}`;
      if (!cache.has(key)) cache.set(key, which === 'mnist' ? mnist({ scale, cacheDir }) : fashionMnist({ scale, cacheDir }));
      return cache.get(key)!;
    },
  };
  const outcomes: ExperimentOutcome[] = [];
  for (const experiment of list) {
    log(`Experiment ${experiment!.name}${quick ? ' (quick)' : ''}: ${experiment!.summary}`);
    const started = Date.now();
    const result = await experiment!.run(ctx);
    const seconds = (Date.now() - started) / 1000;
    const dir = join(outDir, experiment!.name);
    await writeReport(result, dir, { quick, seconds, seeds: ctx.seeds, command: commandLine(experiment!.name, args) });
    log(`  verdict: ${result.verdict} — report in ${join(dir, 'report.md')} (${seconds.toFixed(0)} s)`);
    outcomes.push({ result, dir, seconds });
  }
  if (list.length > 1) await writeIndex(outDir, outcomes, quick);
  return outcomes;
}

function commandLine(name: string, args: RunExperimentArgs): string {
  const parts = ['keel experiment', name];
  if (args.quick) parts.push('--quick');
  if (args.seeds) parts.push(`--seeds ${args.seeds}`);
  if (args.epochs) parts.push(`--epochs ${args.epochs}`);
  if (args.dataset && args.dataset !== 'fashion-mnist') parts.push(`--dataset ${args.dataset}`);
  return parts.join(' ');
}

/** Writes a file atomically: a reader never sees half of it. */
async function writeAtomic(path: string, content: string | Uint8Array): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, content);
  await rename(tmp, path);
}

function csvCell(v: string | number): string {
  const s = String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function markdownTable(columns: string[], rows: (string | number)[][]): string {
  const esc = (v: string | number) => String(v).replace(/\|/g, '\\|');
  return [`| ${columns.map(esc).join(' | ')} |`, `| ${columns.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`)].join('\n');
}

export async function writeReport(
  result: ExperimentResult, dir: string, meta: { quick: boolean; seconds: number; seeds: number[]; command: string },
): Promise<void> {
  makeFolders('the report folder', dir);
  for (const figure of result.figures) {
    const svg = await toSvg(figure.spec);
    await writeAtomic(join(dir, `${figure.name}.svg`), svg);
    await writeAtomic(join(dir, `${figure.name}.png`), await svgToPng(svg));
    await writeAtomic(join(dir, `${figure.name}.vl.json`), JSON.stringify(figure.spec, null, 1));
  }
  for (const c of result.csv) {
    await writeAtomic(join(dir, `${c.name}.csv`), [c.columns, ...c.rows].map((r) => r.map(csvCell).join(',')).join('\n') + '\n');
  }
  const { figures: _f, ...rest } = result;
  await writeAtomic(join(dir, 'data.json'), JSON.stringify({ ...rest, meta }, null, 1));
  const lines = [
    `# Experiment: ${result.name}`,
    '',
    `**Claim.** ${result.claim}`,
    '',
    `**Verdict: ${result.verdict}.** Computed from the figures below: a comparison is *supported* when the difference in the claimed direction reaches its margin and exceeds twice its standard error over seeds, *not supported* when there is no difference in the claimed direction, *mixed* in between.` +
      (meta.seeds.length < 2 ? ' With a single seed the standard error is unknown, so the verdict rests on the margin alone: rerun with `--seeds 3` before trusting it.' : ''),
    '',
    '## Setup',
    '',
    ...result.setup.map((s) => `- ${s}`),
    '',
    '## Results',
    '',
    markdownTable(result.table.columns, result.table.rows),
    '',
    result.tableNote ?? 'Figures are mean ± sample standard deviation over seeds.',
    '',
    '## How the verdict was reached',
    '',
    ...result.comparisons.map((c) => `- ${describe(c)}`),
    '',
    '## Plots',
    '',
    ...result.figures.flatMap((f) => [`![${f.caption}](${f.name}.png)`, '', `*${f.caption}* ([SVG](${f.name}.svg))`, '']),
    ...(result.notes.length ? ['## Notes', '', ...result.notes.map((n) => `- ${n}`), ''] : []),
    '## Data',
    '',
    `Raw figures: [data.json](data.json)${result.csv.map((c) => `, [${c.name}.csv](${c.name}.csv)`).join('')}.`,
    '',
    `Made by \`${meta.command}\` in ${meta.seconds.toFixed(0)} s with Keel's '${getBackend()}' backend, seeds ${meta.seeds.join(', ')}.`,
    '',
  ];
  await writeAtomic(join(dir, 'report.md'), lines.join('\n'));
}

async function writeIndex(outDir: string, outcomes: ExperimentOutcome[], quick: boolean): Promise<void> {
  const lines = [
    `# Keel experiments${quick ? ' (quick)' : ''}: batch normalization's claims, checked`,
    '',
    markdownTable(['experiment', 'claim', 'verdict', 'seconds'], outcomes.map((o) => [`[${o.result.name}](${o.result.name}/report.md)`, o.result.claim, o.result.verdict, o.seconds.toFixed(0)])),
    '',
  ];
  makeFolders('the output folder', outDir);
  await writeAtomic(join(outDir, 'index.md'), lines.join('\n'));
}
