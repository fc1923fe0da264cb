/**
 * Kills saving processes (saveChild.ts) at seeded random moments and checks, after every kill, that
 * the folder loads as one of the two models it may hold: the last one saved before the kill, or the
 * one whose save was under way (if that save got far enough). Weights are compared by a SHA-256 of
 * all their bits, in order: a mix of two saves, a damaged file, or an error fails the check.
 *
 * Used by test/reliability/crashSafety.test.ts (a few kills, in `npm test`) and by
 * scripts/fault-injection.ts (hundreds). Every wait is bounded: a child that does not start, or does
 * not die, fails its trial with a message instead of hanging.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import * as keel from 'keel';
import { weightsHash } from './hash.js';

const CHILD = join(import.meta.dirname, 'saveChild.ts');
const root = join(import.meta.dirname, '..', '..');
/** How long a child may take to import Keel and build its models. */
const START_TIMEOUT_MS = 60_000;
/** How long a killed child may take to be reaped. */
const EXIT_TIMEOUT_MS = 10_000;

export type Mode = 'save' | 'fit' | 'fit-graceful';
export type Signal = 'SIGKILL' | 'SIGINT';

export interface TrialResult {
  /** 'previous': the last save completed before the kill; 'new': the save under way; else what went wrong. */
  outcome: 'previous' | 'new' | 'failed';
  detail: string;
  /** Saves the child completed before the kill. */
  saves: number;
  /** Whether a save was under way when the signal came (announced, not done). */
  midSave: boolean;
  /** Temporary files left in the folder after the kill. */
  leftovers: string[];
  /** How the child ended. */
  exit: string;
  /**
   * Where in a save the kill came, as the files left tell it: 'idle' (no save under way), else the
   * temporary files and .prev links present, e.g. 'tmp weights+model, prev model+weights'.
   */
  stage: string;
}

export interface Tally {
  kills: number;
  previous: number;
  new: number;
  failed: number;
  midSave: number;
  saves: number;
  /** Kills after which temporary files were left (removed by the next save, checked). */
  leftTemporaries: number;
  failures: string[];
  /** Kills by the stage of the save they interrupted (see TrialResult.stage). */
  stages: Record<string, number>;
  ms: number;
}

/** A deterministic generator of delays (mulberry32), so that a seed replays the same kills. */
export function delays(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Child {
  process: ChildProcess;
  lines: string[];
  /** Resolves with the first line matching, or rejects after `ms`. */
  waitFor(pattern: RegExp, ms: number): Promise<string>;
  exited: Promise<string>;
  stderr: () => string;
}

/**
 * How to start a child: `node BUNDLE` when esbuild (the compiler tsx runs on) can bundle saveChild.ts
 * with Keel's sources into one file, which starts in about 0.3 s; else through tsx, about 1.5 s.
 * The bundle keeps every module's side effects (ignoreAnnotations), so it runs the same code.
 */
export interface Launcher {
  args: string[];
  dispose(): Promise<void>;
}

export async function launcher(): Promise<Launcher> {
  try {
    const { build } = await import('esbuild');
    const dir = await mkdtemp(join(tmpdir(), 'keel-child-'));
    const outfile = join(dir, 'saveChild.mjs');
    await build({
      entryPoints: [CHILD], outfile, bundle: true, platform: 'node', format: 'esm', target: 'node20',
      conditions: ['keel-source'], ignoreAnnotations: true, logLevel: 'error',
    });
    return { args: [outfile], dispose: () => rm(dir, { recursive: true, force: true }) };
  } catch {
    return { args: ['--conditions=keel-source', '--import', 'tsx', CHILD], dispose: async () => {} };
  }
}

function startChild(launch: Launcher, mode: Mode, dir: string, seed: number, stretchMs: number): Child {
  const child = spawn(process.execPath, [...launch.args, mode, dir, String(seed), String(stretchMs)], {
    cwd: root, stdio: ['pipe', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const waiters: { pattern: RegExp; resolve: (l: string) => void }[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    lines.push(line);
    for (const w of [...waiters]) if (w.pattern.test(line)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(line); }
  });
  child.stdin!.on('error', () => {}); // a killed child's stdin
  const exited = new Promise<string>((resolve) => child.once('exit', (code, signal) => resolve(signal ?? `code ${code}`)));
  return {
    process: child, lines, exited, stderr: () => stderr,
    waitFor(pattern, ms) {
      const seen = lines.find((l) => pattern.test(l));
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no line matching ${pattern} within ${ms} ms; stderr: ${stderr.slice(-2000)}`)), ms);
        const w = { pattern, resolve: (l: string) => { clearTimeout(timer); resolve(l); } };
        waiters.push(w);
        exited.then((how) => {
          if (!waiters.includes(w)) return;
          clearTimeout(timer);
          reject(new Error(`the child ended (${how}) before a line matching ${pattern}; stderr: ${stderr.slice(-2000)}`));
        });
      });
    },
  };
}

async function bounded<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms)));
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The hash of the model `dir` loads as, or the error. */
async function loaded(dir: string): Promise<{ hash?: string; error?: string }> {
  try {
    return { hash: weightsHash(await keel.loadLayersModel(`file://${dir}`)) };
  } catch (e) {
    return { error: `${(e as Error).name}: ${(e as Error).message}` };
  }
}

const temporaries = async (dir: string) => (await readdir(dir)).filter((n) => n.endsWith('.tmp')).sort();

export interface RunOptions {
  launch: Launcher;
  mode: Mode;
  dir: string;
  kills: number;
  seed: number;
  /** The signal is sent at a uniform random moment in [0, windowMs) after the child begins. */
  windowMs: number;
  signal?: Signal;
  /** Delay of each file-system change of a save in the child (see saveChild.ts); 0 for none. */
  stretchMs?: number;
  /** Called after each trial (the script prints progress). */
  onTrial?: (i: number, r: TrialResult) => void;
}

/**
 * `kills` trials in one folder, each a fresh child killed at a random moment. Children are started
 * one trial ahead, so that one imports Keel while the other saves. The folder is first given a
 * complete save (by the first child, before its kill window opens), so that there always is a
 * previous model. Between trials nothing is cleaned: each child finds what the last kill left.
 */
export async function runKills(options: RunOptions): Promise<Tally> {
  const { launch, mode, dir, kills, seed, windowMs, signal = 'SIGKILL', stretchMs = 0 } = options;
  const next = delays(seed);
  const tally: Tally = { kills: 0, previous: 0, new: 0, failed: 0, midSave: 0, saves: 0, leftTemporaries: 0, failures: [], stages: {}, ms: 0 };
  const begun = performance.now();
  let current: string | undefined; // hash of the model the folder loads as
  let pending = startChild(launch, mode, dir, seed * 1000, stretchMs);
  let lastLeftovers: string[] = [];
  try {
    for (let i = 0; i < kills; i++) {
      const child = pending;
      await child.waitFor(/^ready$/, START_TIMEOUT_MS);
      pending = i + 1 < kills ? startChild(launch, mode, dir, seed * 1000 + i + 1, stretchMs) : (undefined as unknown as Child);
      child.process.stdin!.write('go\n');
      // The first save of all completes before any kill: the folder's starting model.
      if (current === undefined) await child.waitFor(/^done /, START_TIMEOUT_MS);
      const delay = next() * windowMs;
      await new Promise((r) => setTimeout(r, delay));
      child.process.kill(signal);
      const exit = await bounded(child.exited, EXIT_TIMEOUT_MS, `the child after ${signal}`);
      // Every line since `ready` (lines arrive in batches: a few may have come since the wait above).
      const r = await judge(child.lines.slice(child.lines.indexOf('ready') + 1), current ?? '(none yet)', dir, exit, signal, mode);
      // The temporary files left by the previous kill are gone once this child completed a save.
      if (r.saves > 0) {
        const still = lastLeftovers.filter((n) => r.leftovers.includes(n));
        if (still.length) { r.outcome = 'failed'; r.detail = `temporary files of a killed save survived the next save: ${still.join(', ')}`; }
      }
      if (r.saves > 0 || r.leftovers.length) lastLeftovers = r.leftovers;
      tally.kills++;
      tally[r.outcome]++;
      tally.saves += r.saves;
      if (r.midSave) tally.midSave++;
      if (r.leftovers.length) tally.leftTemporaries++;
      tally.stages[r.stage] = (tally.stages[r.stage] ?? 0) + 1;
      if (r.outcome === 'failed') tally.failures.push(`kill ${i} (seed ${seed}, after ${delay.toFixed(1)} ms): ${r.detail}`);
      else current = r.outcome === 'new' ? child.lines.filter((l) => l.startsWith('announce ')).at(-1)!.slice(9) : r.detail;
      options.onTrial?.(i, r);
    }
  } finally {
    if (pending) pending.process.kill('SIGKILL');
  }
  tally.ms = performance.now() - begun;
  return tally;
}

/** The temporary files and .prev links in `dir`, in words. */
async function stage(dir: string): Promise<string> {
  const names = await readdir(dir);
  const kinds = (test: (n: string) => boolean) => ['weights', 'model'].filter((k) => names.some((n) => test(n) && n.includes(k === 'model' ? 'model.json' : 'weights.bin')));
  const tmp = kinds((n) => n.endsWith('.tmp'));
  const prev = kinds((n) => n.endsWith('.prev'));
  return [tmp.length ? `tmp ${tmp.join('+')}` : 'no tmp', prev.length ? `prev ${prev.join('+')}` : 'no prev'].join(', ');
}

/** What the folder holds after the kill, against what the child said before it. */
async function judge(lines: string[], before: string, dir: string, exit: string, signal: Signal, mode: Mode): Promise<TrialResult> {
  let last = before;
  let inFlight: string | undefined;
  let saves = 0;
  for (const line of lines) {
    if (line.startsWith('announce ')) inFlight = line.slice(9);
    else if (line.startsWith('done ')) { last = line.slice(5); inFlight = undefined; saves++; }
  }
  const leftovers = await temporaries(dir);
  const base = { saves, midSave: inFlight !== undefined, leftovers, exit, stage: inFlight === undefined ? 'idle' : await stage(dir) };
  if (mode === 'fit-graceful' && signal === 'SIGINT') {
    // Stopped between epochs: the save under way completes, and the process ends by itself.
    if (exit !== 'code 0' || !lines.includes('finished')) return { ...base, outcome: 'failed', detail: `did not stop cleanly (${exit})` };
  } else if (exit !== signal) {
    return { ...base, outcome: 'failed', detail: `the child ended with ${exit}, not by ${signal}` };
  }
  const { hash, error } = await loaded(dir);
  if (hash === last) return { ...base, outcome: 'previous', detail: hash };
  if (hash !== undefined && hash === inFlight) return { ...base, outcome: 'new', detail: hash };
  return {
    ...base, outcome: 'failed',
    detail: error ? `loading failed: ${error}` : `loaded weights ${hash} are neither the last save's (${last}) nor the one under way (${inFlight ?? 'none'})`,
  };
}
