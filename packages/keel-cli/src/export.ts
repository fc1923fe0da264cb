/**
 * `keel export MODEL_DIR --format FORMAT --out FILE [--fold] [--opset N]`: a saved model (the folder
 * `keel train --save` writes) in another file format. The formats are a table: each entry says
 * what it writes, which of the flags it takes, and how to make its bytes from a model.
 *
 * Everything that can be checked is checked before the model is converted (the flags, the output
 * path, the model folder), and the conversion refuses a layer it cannot write before any byte is
 * made. The file is written atomically: to a temporary file in the same folder, flushed, then
 * renamed over FILE, so FILE is either the previous file or the whole new one.
 */
import { closeSync, existsSync, fsyncSync, openSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Command, InvalidArgumentError, Option } from 'commander';
import * as keel from 'keel';
import { DEFAULT_OPSET, MAX_OPSET, MIN_OPSET, toOnnx } from 'keel-onnx';
import { KERAS_VERSION, toKeras } from 'keel-keras';
import { checkOutputFile, OutputPathError } from './files.js';
import { modelUrl } from './deploy.js';
import { writeOut } from './brokenPipe.js';
import { count } from './format.js';

/** The flags a format may take besides --out. */
type FormatFlag = 'opset';

export interface ExportFormat {
  /** What the format is, for --help. */
  description: string;
  /** The usual file name ending, for --help. */
  extension: string;
  /** The flags it takes; the others are refused with it. */
  flags: readonly FormatFlag[];
  /** The bytes of the file. */
  write(model: keel.LayersModel, options: { opset?: number }): Uint8Array | Promise<Uint8Array>;
  /** A few words on what was written, for the last line. */
  summary(options: { opset?: number }): string;
}

/** The formats of --format; one entry per format. */
export const EXPORT_FORMATS: Record<string, ExportFormat> = {
  onnx: {
    description: 'ONNX, for ONNX Runtime and the engines that read it',
    extension: '.onnx',
    flags: ['opset'],
    write: (model, { opset }) => toOnnx(model, opset === undefined ? {} : { opset }),
    summary: ({ opset }) => `ONNX opset ${opset ?? DEFAULT_OPSET}`,
  },
  keras: {
    description: 'Keras 3 .keras archive, for keras.saving.load_model',
    extension: '.keras',
    flags: [],
    write: (model) => toKeras(model),
    summary: () => `Keras 3 (.keras in Keras ${KERAS_VERSION}'s layout), weights only`,
  },
};

export interface ExportOptions {
  format: string;
  out: string;
  fold?: boolean;
  opset?: number;
}

function formatName(value: string): string {
  const names = Object.keys(EXPORT_FORMATS);
  if (Object.hasOwn(EXPORT_FORMATS, value)) return value;
  const near = keel.util.closestName(value, names);
  throw new InvalidArgumentError(`Allowed choices are ${names.join(', ')}.${near ? ` (Did you mean ${near}?)` : ''}`);
}

function opsetNumber(value: string): number {
  const n = Number(value);
  if (!/^\s*\d+\s*$/.test(value) || n < MIN_OPSET || n > MAX_OPSET) {
    throw new InvalidArgumentError(`expected an ONNX opset from ${MIN_OPSET} to ${MAX_OPSET} (default ${DEFAULT_OPSET}), received '${value}'.`);
  }
  return n;
}

/** Adds `keel export` to `program`. */
export function addExportCommand(program: Command): void {
  const formats = Object.entries(EXPORT_FORMATS).map(([name, f]) => `${name}: ${f.description} (FILE${f.extension})`).join('; ');
  program
    .command('export')
    .description('write a saved model in another format, such as ONNX')
    .argument('<model>', 'the saved model (the folder keel train --save wrote, or its model.json)')
    .addOption(new Option('-f, --format <name>', `the file format (${formats})`).choices(Object.keys(EXPORT_FORMATS)).argParser(formatName).makeOptionMandatory())
    .requiredOption('-o, --out <file>', 'the file to write (replaced atomically if it exists)')
    .option('--fold', 'fold the BatchNormalization layers into their neighbouring Dense or convolution first (keel fold)')
    .addOption(new Option('--opset <n>', `ONNX opset, ${MIN_OPSET} to ${MAX_OPSET} (default: ${DEFAULT_OPSET})`).argParser(opsetNumber))
    .option('--debug', 'print stack traces of errors')
    .action(async (input: string, options: ExportOptions) => exportModel(input, options));
}

/** The saved model's folder and model.json checked to be there, in the words of the command line. */
function checkModelPath(input: string): void {
  const full = resolve(input);
  const json = full.endsWith('.json') ? full : join(full, 'model.json');
  if (!existsSync(full)) {
    throw new keel.ValueError(`keel export ${input}: ${full} does not exist; give the folder that keel train --save (or model.save) wrote.`);
  }
  if (!existsSync(json)) {
    throw new keel.ValueError(`keel export ${input}: ${dirname(json)} holds no model.json; give the folder that keel train --save (or model.save) wrote.`);
  }
}

/** Writes `bytes` to `path` atomically (temporary file in the same folder, fsync, rename). */
export function writeFileAtomically(flag: string, path: string, bytes: Uint8Array): void {
  const full = resolve(path);
  const temporary = join(dirname(full), `.${basename(full)}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
  let fd: number | null = null;
  try {
    fd = openSync(temporary, 'wx');
    for (let offset = 0; offset < bytes.length;) offset += writeSync(fd, bytes, offset, bytes.length - offset);
    fsyncSync(fd);
    closeSync(fd);
    fd = null;
    renameSync(temporary, full);
  } catch (e) {
    if (fd !== null) closeSync(fd);
    rmSync(temporary, { force: true });
    const code = (e as NodeJS.ErrnoException).code;
    throw new OutputPathError(
      `${flag} ${path}: could not write the file (${code ?? (e as Error).message})` +
        `${code === 'ENOSPC' ? ': the disk is full' : ''}; the file there before, if any, is unchanged. Choose another path or free space.`,
    );
  }
}

/** `keel export`: load, optionally fold, convert, write. */
export async function exportModel(input: string, options: ExportOptions): Promise<void> {
  const log = (line = '') => writeOut(`${line}\n`);
  const format = EXPORT_FORMATS[options.format];
  for (const flag of ['opset'] as const) {
    if (options[flag] !== undefined && !format.flags.includes(flag)) {
      throw new keel.ValueError(`keel export: --${flag} applies to ${Object.entries(EXPORT_FORMATS).filter(([, f]) => f.flags.includes(flag)).map(([n]) => `--format ${n}`).join(', ')}, not --format ${options.format}; leave it out.`);
    }
  }
  checkOutputFile('--out', options.out);
  checkModelPath(input);
  let model = await keel.loadLayersModel(modelUrl(input));
  if (options.fold) {
    const result = keel.foldBatchNorm(model);
    for (const f of result.folded) log(`folded ${f.layer} into ${f.into} (${f.direction === 'intoNext' ? 'the next layer' : 'the previous layer'})`);
    for (const n of result.notFolded) log(`kept ${n.layer}: ${n.reason}`);
    model = result.model;
  }
  const bytes = await format.write(model, { opset: options.opset });
  writeFileAtomically('--out', options.out, bytes);
  const size = statSync(resolve(options.out)).size;
  log(`Exported ${model.layers.length} layers (${count(model.countParams())} parameters) as ${format.summary(options)} to ${resolve(options.out)} (${count(size)} bytes)`);
}
