/**
 * Memory stays bounded while a data set is streamed from disk: scripts/stream-memory.ts writes a
 * 48 MB IDX file of the real Fashion-MNIST images (70,000, repeated) and trains a small model on one
 * pass of it with fitDataset, sampling live memory after full collections in a fresh process. A
 * reader that read the whole file would add its 52 MB to arrayBuffers and rss; streaming adds the
 * chunks in flight and the 10,000-example shuffle buffer (7.8 MB of bytes). The run at 1 GB is the script's.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { StreamMemoryResult } from '../../scripts/stream-memory.js';

const MB = 2 ** 20;

test('streaming a 48 MB IDX file through fitDataset keeps live memory within 16 MB and rss within 48 MB of the start', async () => {
  const script = join(import.meta.dirname, '..', '..', 'scripts', 'stream-memory.ts');
  const { stdout } = await promisify(execFile)(process.execPath, [
    '--conditions=keel-source', '--import', 'tsx', script, '--mb', '48', '--model', 'tiny', '--shuffle', '10000', '--batch-size', '64', '--json',
  ], { timeout: 120_000 });
  const r: StreamMemoryResult = JSON.parse(stdout.trim().split('\n').pop()!);
  const growth = (f: keyof StreamMemoryResult['peak']) => (r.peak[f] - r.start[f]) / MB;
  const figures = `growth: rss ${growth('rss').toFixed(1)} MB, heapUsed ${growth('heapUsed').toFixed(1)} MB, ` +
    `external ${growth('external').toFixed(1)} MB, arrayBuffers ${growth('arrayBuffers').toFixed(1)} MB`;
  assert.ok(r.fileBytes > 48 * MB, `file of ${r.fileBytes} bytes`);
  assert.equal(r.images, 70_000, 'one whole pass');
  assert.ok(r.samples >= 50, `${r.samples} samples`);
  assert.ok(growth('heapUsed') < 8, figures);
  assert.ok(growth('arrayBuffers') < 16, figures);
  assert.ok(growth('external') < 16, figures);
  assert.ok(growth('rss') < 48, figures);
});
