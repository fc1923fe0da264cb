/**
 * `file://` models on Node: `model.json` and `weights.bin` in a folder. The only Keel module that
 * touches the file system for models; the core never imports it (see `io/fileScheme.ts`).
 *
 * Saving is atomic per model: both files are written to temporary names and flushed, the previous
 * pair is kept as hard links (`model.json.prev`, `weights.bin.prev`) while the new files are renamed
 * into place, then the links are removed. model.json records a CRC-32 of weights.bin under the
 * top-level key `keel` (TF.js ignores it), so a crash between the two renames is detected on
 * loading, which then falls back to the intact previous pair. The weights are renamed first: a new
 * model.json is never beside old weights, so a model.json whose CRC matches is always whole.
 *
 * A save killed midway leaves its temporary files (`.model.json.<pid>-<random>.tmp`); the next save
 * into the folder removes those of processes that no longer run. A save that cannot be written (disk
 * full, read-only file system, no permission) throws a SaveError saying what failed, where and how
 * to fix it, and leaves the previous save as it was.
 */
import { promises as fs, constants as fsConstants } from 'node:fs';
import * as nodePath from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { ModelFormatError } from '../errors.js';
import { KeelError, SaveError, ValueError } from '../../core/errors.js';
import { artifactsToModelJSON, parseModelJSON, weightBytes } from '../modelArtifacts.js';
import { artifactsInfo } from '../router.js';
import { crc32 } from '../../core/crc32.js';
import type { IOHandler, ModelArtifacts, SaveResult } from '../types.js';

const MODEL_FILE = 'model.json';
const WEIGHTS_FILE = 'weights.bin';
/** model.json files larger than this are refused before reading (a real one is a few KB). */
const MAX_MODEL_JSON_BYTES = 32 * 1024 * 1024;

/** Temporary files of the saves running in this process, which a stale-file sweep must not remove. */
const inFlight = new Set<string>();

interface KeelStamp {
  weightsCrc32: number;
  weightsBytes: number;
}

/** 'file://DIR' or 'file://DIR/model.json' → the folder and the model file's name. */
export function parseFileUrl(url: string): { dir: string; modelFile: string } {
  let path: string;
  if (url.startsWith('file:///')) path = fileURLToPath(url);
  else path = url.slice('file://'.length);
  if (path.length === 0) throw new ValueError(`file:// URL without a path, received '${url}'. Example: 'file://./my-model'.`);
  path = nodePath.resolve(path);
  if (path.endsWith('.json')) return { dir: nodePath.dirname(path), modelFile: nodePath.basename(path) };
  return { dir: path, modelFile: MODEL_FILE };
}

export function fileSystemHandler(url: string): IOHandler {
  const { dir, modelFile } = parseFileUrl(url);
  return {
    save: (artifacts) => saveToFolder(dir, modelFile, artifacts),
    load: () => loadFromFolder(dir, modelFile),
  };
}

/**
 * Creates `dir` and its missing parents, one level at a time, in a loop bounded by the path's
 * depth. Not `fs.mkdir(dir, {recursive: true})`: on Node 20 that never settles for a path under
 * /proc (it spins at 100% CPU), and a save must end, with an error if it cannot be done.
 */
async function makeFolders(dir: string): Promise<void> {
  const missing: string[] = [];
  for (let path = nodePath.resolve(dir); ; path = nodePath.dirname(path)) {
    const stat = await fs.stat(path).catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? null : Promise.reject(e)));
    if (stat?.isDirectory()) break;
    if (stat) throw new ValueError(`save: '${path}' is a file, not a folder; choose another destination for the model.`);
    missing.push(path);
    if (nodePath.dirname(path) === path) break;
  }
  for (const folder of missing.reverse()) {
    await fs.mkdir(folder).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') throw new ValueError(`save: cannot create the folder '${folder}' (${e.code ?? e.message}); choose a destination you can write to.`);
    });
  }
}

async function saveToFolder(dir: string, modelFile: string, artifacts: ModelArtifacts): Promise<SaveResult> {
  await makeFolders(dir);
  const weights = weightBytes(artifacts.weightData);
  const json = artifactsToModelJSON(artifacts, WEIGHTS_FILE) as unknown as Record<string, unknown>;
  json.keel = { weightsCrc32: crc32(weights), weightsBytes: weights.byteLength } satisfies KeelStamp;
  const modelPath = nodePath.join(dir, modelFile);
  const weightsPath = nodePath.join(dir, WEIGHTS_FILE);
  const tag = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const modelTmp = nodePath.join(dir, `.${modelFile}.${tag}.tmp`);
  const weightsTmp = nodePath.join(dir, `.${WEIGHTS_FILE}.${tag}.tmp`);
  const hadPrevious = await exists(modelPath);
  await removeStaleTemporaries(dir, modelFile);
  let weightsReplaced = false;
  let step = `writing the weights (${weights.byteLength} bytes) to '${weightsTmp}'`;
  inFlight.add(modelTmp).add(weightsTmp);
  try {
    await writeDurably(weightsTmp, weights);
    step = `writing '${modelTmp}'`;
    await writeDurably(modelTmp, new TextEncoder().encode(JSON.stringify(json)));
    step = `keeping the previous save as '${modelPath}.prev'`;
    await keepPreviousPair(modelPath, weightsPath);
    step = `renaming the new weights to '${weightsPath}'`;
    await fs.rename(weightsTmp, weightsPath);
    weightsReplaced = true;
    step = `renaming the new model.json to '${modelPath}'`;
    await fs.rename(modelTmp, modelPath);
    await syncFolder(dir);
  } catch (e) {
    await Promise.all([fs.rm(modelTmp, { force: true }), fs.rm(weightsTmp, { force: true })]).catch(() => {});
    // model.json could not be replaced: put the previous weights back beside it.
    if (weightsReplaced && (await exists(`${weightsPath}.prev`))) await fs.rename(`${weightsPath}.prev`, weightsPath).catch(() => {});
    throw saveError(e, dir, step, hadPrevious);
  } finally {
    inFlight.delete(modelTmp);
    inFlight.delete(weightsTmp);
  }
  // The new pair is in place: the save has succeeded. A .prev pair that cannot be removed is harmless
  // (the next save replaces it, and a consistent pair is loaded before it).
  await Promise.all([fs.rm(`${modelPath}.prev`, { force: true }), fs.rm(`${weightsPath}.prev`, { force: true })]).catch(() => {});
  return artifactsInfo(artifacts);
}

/** A file-system error of a save, said in words: what failed, where, why, and what to do. */
function saveError(e: unknown, dir: string, step: string, hadPrevious: boolean): Error {
  if (e instanceof KeelError) return e;
  const code = (e as NodeJS.ErrnoException).code;
  const [why, fix] =
    code === 'ENOSPC' || code === 'EDQUOT'
      ? [`the disk is full (${code})`, 'free some space there, or save to another disk']
      : code === 'EROFS'
        ? ['the file system is read-only (EROFS)', 'save to a folder on a writable file system']
        : code === 'EACCES' || code === 'EPERM'
          ? [`no permission to write there (${code})`, "change the folder's permissions, or save to a folder you can write to"]
          : [`${code ?? 'error'}: ${(e as Error).message}`, 'check the folder and the disk, then save again'];
  const kept = hadPrevious ? ' The model saved there before is unchanged and still loads.' : ' Nothing was saved.';
  return new SaveError(`save: cannot save the model in '${dir}': ${why}, while ${step}.${kept} To fix: ${fix}.`, code, dir);
}

/**
 * Removes the temporary files that saves killed midway left in `dir`: those named for `modelFile`
 * or weights.bin whose process (the pid in the name) no longer runs. Files of saves still running,
 * in this process or another, are kept. Best effort: a file that cannot be removed stays.
 */
async function removeStaleTemporaries(dir: string, modelFile: string): Promise<void> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const m = /^\.(.+)\.(\d+)-[0-9a-f]{8}\.tmp$/.exec(name);
    if (!m || (m[1] !== modelFile && m[1] !== WEIGHTS_FILE)) continue;
    const path = nodePath.join(dir, name);
    const pid = Number(m[2]);
    if (pid === process.pid ? inFlight.has(path) : processRuns(pid)) continue;
    await fs.rm(path, { force: true }).catch(() => {});
  }
}

function processRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // it runs, as another user
  }
}

async function writeDurably(path: string, bytes: Uint8Array): Promise<void> {
  const handle = await fs.open(path, 'w');
  try {
    await handle.writeFile(bytes);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function syncFolder(dir: string): Promise<void> {
  try {
    const handle = await fs.open(dir, fsConstants.O_RDONLY);
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Some platforms (Windows) cannot open or fsync a folder; the renames are still atomic.
  }
}

/**
 * Hard-links the current pair as `.prev`, so that it survives a crash between the two renames.
 * A leftover `.prev` pair from an interrupted save is kept when the current pair is inconsistent.
 */
async function keepPreviousPair(modelPath: string, weightsPath: string): Promise<void> {
  if (!(await exists(modelPath)) || !(await exists(weightsPath))) return;
  if ((await exists(`${modelPath}.prev`)) && !(await pairIsConsistent(modelPath, weightsPath))) return;
  for (const p of [modelPath, weightsPath]) {
    await fs.rm(`${p}.prev`, { force: true });
    // A file system without hard links (FAT, some network mounts) gets a copy instead.
    await fs.link(p, `${p}.prev`).catch(() => fs.copyFile(p, `${p}.prev`));
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await fs.access(path);
    return true;
  } catch {
    return false;
  }
}

async function pairIsConsistent(modelPath: string, weightsPath: string): Promise<boolean> {
  try {
    const stamp = stampOf(JSON.parse(await fs.readFile(modelPath, 'utf8')));
    if (!stamp) return true;
    const weights = await fs.readFile(weightsPath);
    return weights.byteLength === stamp.weightsBytes && crc32(weights) === stamp.weightsCrc32;
  } catch {
    return false;
  }
}

function stampOf(json: unknown): KeelStamp | null {
  const stamp = (json as { keel?: Partial<KeelStamp> } | null)?.keel;
  if (!stamp || typeof stamp.weightsCrc32 !== 'number' || typeof stamp.weightsBytes !== 'number') return null;
  return stamp as KeelStamp;
}

async function loadFromFolder(dir: string, modelFile: string, previous = false): Promise<ModelArtifacts> {
  const modelPath = nodePath.join(dir, modelFile);
  let size: number;
  try {
    size = (await fs.stat(modelPath)).size;
  } catch {
    throw new ValueError(`loadLayersModel: no model file at '${modelPath.length > 300 ? `${modelPath.slice(0, 300)}…` : modelPath}'. Expected the model.json written by model.save('file://DIR').`);
  }
  if (size > MAX_MODEL_JSON_BYTES) {
    throw new ModelFormatError(`loadLayersModel: '${modelPath}' is ${size} bytes; a model.json holds at most ${MAX_MODEL_JSON_BYTES}.`);
  }
  const text = await fs.readFile(modelPath, 'utf8');
  const { artifacts, groups } = parseModelJSON(text);
  if (!previous && !stampOf(JSON.parse(text)) && (await replacedBesideUnstamped(dir, modelFile, groups.flatMap((g) => g.paths)))) {
    // A model.json without a CRC (saved before Keel recorded one, or by TF.js) whose weights a save
    // interrupted between its renames has already replaced: the previous pair is whole under .prev.
    const whole = await loadFromFolder(dir, `${modelFile}.prev`, true).catch(() => null);
    if (whole) return whole;
  }
  const realDir = await fs.realpath(dir);
  const parts: Uint8Array[] = [];
  for (const group of groups) {
    const files = await Promise.all(group.paths.map(async (p) => {
      const resolved = await fs.realpath(nodePath.join(dir, previous ? `${p}.prev` : p)).catch(() => {
        throw new ModelFormatError(`weightsManifest: weight file '${p}' is missing from '${dir}'.`);
      });
      const relative = nodePath.relative(realDir, resolved);
      if (relative.startsWith('..') || nodePath.isAbsolute(relative)) {
        throw new ModelFormatError(`weightsManifest: weight file '${p}' resolves outside the model's folder ('${dir}'); refusing to read it.`);
      }
      return { resolved, size: (await fs.stat(resolved)).size };
    }));
    const total = files.reduce((n, f) => n + f.size, 0);
    if (total !== group.bytes) {
      // A save of a model of another size interrupted between its two renames leaves a new
      // weights.bin beside the old model.json: the previous pair is intact under .prev.
      if (!previous && stampOf(JSON.parse(text)) && (await exists(nodePath.join(dir, `${modelFile}.prev`)))) {
        return loadFromFolder(dir, `${modelFile}.prev`, true);
      }
      throw new ModelFormatError(
        `weights: the manifest describes ${group.bytes} bytes in ${group.paths.join(', ')}, but the files hold ${total} ` +
          `(${total < group.bytes ? 'truncated' : 'oversized'}); the weights file does not belong to this model.json or is damaged.`,
      );
    }
    for (const f of files) parts.push(await fs.readFile(f.resolved));
  }
  const total = parts.reduce((n, p) => n + p.byteLength, 0);
  const weightData = new Uint8Array(total);
  let offset = 0;
  for (const p of parts) {
    weightData.set(p, offset);
    offset += p.byteLength;
  }
  const stamp = stampOf(JSON.parse(text));
  if (stamp && (stamp.weightsBytes !== total || crc32(weightData) !== stamp.weightsCrc32)) {
    if (!previous && (await exists(nodePath.join(dir, `${modelFile}.prev`)))) {
      // A save was interrupted between its two renames: the previous pair is intact under .prev.
      return loadFromFolder(dir, `${modelFile}.prev`, true).catch(() => {
        throw checksumError(dir);
      });
    }
    throw checksumError(dir);
  }
  return { ...artifacts, weightData: weightData.buffer };
}

/**
 * Whether a save replaced the weights beside an unstamped `modelFile` without getting to replace
 * it: a previous pair (`modelFile.prev` and each weight file's `.prev`) lies beside, and a weight
 * file differs from its `.prev`. (Right after the links are made, before any rename, they are the
 * same file: the current pair is then intact.)
 */
async function replacedBesideUnstamped(dir: string, modelFile: string, paths: string[]): Promise<boolean> {
  if (paths.length === 0 || !(await exists(nodePath.join(dir, `${modelFile}.prev`)))) return false;
  for (const p of paths) {
    const [now, before] = await Promise.all([nodePath.join(dir, p), nodePath.join(dir, `${p}.prev`)].map((f) => fs.stat(f).catch(() => null)));
    if (!now || !before) return false;
    if (now.ino === before.ino && now.dev === before.dev) continue;
    if (now.size !== before.size) return true;
    const [a, b] = await Promise.all([fs.readFile(nodePath.join(dir, p)), fs.readFile(nodePath.join(dir, `${p}.prev`))]);
    if (!a.equals(b)) return true;
  }
  return false;
}

function checksumError(dir: string): ModelFormatError {
  return new ModelFormatError(
    `weights: weights.bin in '${dir}' does not match the CRC-32 recorded in model.json; the file was modified, ` +
      `damaged, or a save was interrupted. Save the model again.`,
  );
}
