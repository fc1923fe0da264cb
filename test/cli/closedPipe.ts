/** Runs `keel` as a child process whose stdout or stderr the reader closes early, as `| head -1` does. */
import { spawn } from 'node:child_process';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..', '..');
const KEEL = ['--conditions=keel-source', '--import', 'tsx', join(root, 'packages', 'keel-cli', 'src', 'keel.ts')];

export interface ClosedPipeRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** What was read before closing (stdout), or the other stream in full. */
  stdout: string;
  stderr: string;
}

/**
 * Starts `keel ...args`; closes its `stream` after the first line (or at once with `atOnce`), then
 * waits for the exit, at most `timeoutMs` (then kills it and reports the signal).
 */
export function runWithClosedPipe(
  args: string[], { stream = 'stdout', atOnce = false, timeoutMs = 120_000 }: { stream?: 'stdout' | 'stderr'; atOnce?: boolean; timeoutMs?: number } = {},
): Promise<ClosedPipeRun> {
  const child = spawn(process.execPath, [...KEEL, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FORCE_COLOR: '0' } });
  const text = { stdout: '', stderr: '' };
  const closed = child[stream];
  const other = stream === 'stdout' ? child.stderr : child.stdout;
  other.setEncoding('utf8').on('data', (d: string) => (text[stream === 'stdout' ? 'stderr' : 'stdout'] += d));
  closed.setEncoding('utf8');
  if (atOnce) closed.destroy();
  else {
    closed.on('data', (d: string) => {
      text[stream] += d;
      const newline = text[stream].indexOf('\n');
      if (newline >= 0) {
        text[stream] = text[stream].slice(0, newline + 1);
        closed.destroy();
      }
    });
  }
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('close', (code, signal) => { // after the exit and the end of the output
      clearTimeout(timer);
      resolve({ code, signal, ...text });
    });
  });
}
