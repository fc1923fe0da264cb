/** `keel experiment NAME`: check one of the BN chapter's claims on real data. Public API only. */
import * as keel from 'keel';
import * as experiments from './experiments/index.js';

export interface ExperimentOptions {
  quick?: boolean;
  out: string;
  seeds?: number;
  epochs?: number;
  dataset: 'fashion-mnist' | 'mnist';
}

export async function experiment(name: string, options: ExperimentOptions): Promise<void> {
  const outcomes = await experiments.runExperiments(name, {
    quick: options.quick, outDir: options.out, seeds: options.seeds, epochs: options.epochs, dataset: options.dataset,
    log: (line) => process.stdout.write(`${line}\n`),
  });
  if (outcomes.length > 1) process.stdout.write(`Index of the reports: ${options.out}/index.md\n`);
}
