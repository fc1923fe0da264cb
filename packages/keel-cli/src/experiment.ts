/** `keel experiment NAME`: check one of the BN chapter's claims on real data. Public API only. */
import * as keel from 'keel';
import * as experiments from './experiments/index.js';
import { writeOut } from './brokenPipe.js';
import { makeFolders } from './files.js';

export interface ExperimentOptions {
  quick?: boolean;
  out: string;
  seeds?: number;
  epochs?: number;
  dataset: 'fashion-mnist' | 'mnist';
}

export async function experiment(name: string, options: ExperimentOptions): Promise<void> {
  makeFolders('--out', options.out); // now, not after the runs
  const outcomes = await experiments.runExperiments(name, {
    quick: options.quick, outDir: options.out, seeds: options.seeds, epochs: options.epochs, dataset: options.dataset,
    log: (line) => writeOut(`${line}\n`),
  });
  if (outcomes.length > 1) writeOut(`Index of the reports: ${options.out}/index.md\n`);
}
