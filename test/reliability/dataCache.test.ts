/**
 * A data cache that cannot be written never stops training: a read-only file system, a full disk,
 * a file where the folder should be, a folder under /proc or /sys. Each is reported once, in words
 * (what, why, how to fix), within a second and without hanging, and the data load all the same.
 * The temporary files of a cache writer killed midway are removed by the next writer. (Folders that
 * cannot be made under /proc, and a folder in the cache file's place, are in test/data/cache.test.ts.)
 *
 * The read-only and full file systems are real (small tmpfs mounts: root on Linux; skipped elsewhere).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadOrBuildCache } from '../../packages/keel-datasets/src/node/cacheFile.js';

const root = join(import.meta.dirname, '..', '..');
const FIX = 'set KEEL_CACHE_DIR to a writable folder';

/** A set of `count` 28×28 images: 785 bytes each in the cache. */
const imageSet = (count: number) => ({
  count, rows: 28, cols: 28, skipped: 0,
  labels: new Uint8Array(count).map((_, i) => i % 10),
  images: new Uint8Array(count * 784).map((_, i) => i % 251),
});

/** loadOrBuildCache, timed: the data must come back, with the reason, in well under a second. */
function loadTimed(path: string, count = 3) {
  const begun = performance.now();
  const result = loadOrBuildCache(path, 1, () => imageSet(count));
  const ms = performance.now() - begun;
  assert.equal(result.set.count, count, 'the data came back');
  assert.ok(ms < 1000, `${ms} ms to find that the cache cannot be written`);
  return result;
}

function run(command: string, args: string[]): boolean {
  return spawnSync(command, args, { encoding: 'utf8', timeout: 10_000 }).status === 0;
}

/** Runs `fn` with a fresh tmpfs of `size` at a temporary mount point (read-only if asked); skips when it cannot be mounted. */
async function withTmpfs(t: { skip(why: string): void }, size: string, readOnly: boolean, fn: (dir: string) => Promise<void> | void): Promise<void> {
  const mountPoint = mkdtempSync(join(tmpdir(), 'keel-cache-fs-'));
  try {
    if (!run('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', mountPoint])) {
      t.skip('mount -t tmpfs failed here (needs root and CAP_SYS_ADMIN)');
      return;
    }
    try {
      mkdirSync(join(mountPoint, 'cache'));
      if (readOnly) assert.ok(run('mount', ['-o', 'remount,ro', mountPoint]), 'remount read-only');
      await fn(join(mountPoint, 'cache'));
    } finally {
      run('umount', [mountPoint]);
    }
  } finally {
    rmSync(mountPoint, { recursive: true, force: true });
  }
}

const mountable = process.platform === 'linux' && process.getuid?.() === 0 ? false : 'needs root on Linux to mount a tmpfs';

test('a cache folder on a read-only file system: the data load, and the reason says so', { skip: mountable, timeout: 30_000 }, (t) =>
  withTmpfs(t, '1m', true, (dir) => {
    const path = join(dir, 'set.keelds');
    const result = loadTimed(path);
    assert.equal(result.notWritten, `cannot write ${path} (the file system is read-only, EROFS); ${FIX}`);
    assert.equal(result.status, `built; not written: ${result.notWritten}`);
  }));

test('a full disk under the cache: the data load, the partial file is removed, and the reason says so', { skip: mountable, timeout: 30_000 }, (t) =>
  withTmpfs(t, '64k', false, (dir) => {
    const path = join(dir, 'set.keelds');
    const result = loadTimed(path, 200); // 157 KB: more than the disk holds
    assert.equal(result.notWritten, `cannot write ${path} (the disk is full, ENOSPC); ${FIX}`);
    assert.deepEqual(readdirSync(dir), [], 'no partial cache file is left');
    // The next load tries again, and says so again (the disk may have been freed meanwhile).
    assert.equal(loadTimed(path, 200).notWritten, result.notWritten);
    // A set that fits is written.
    assert.equal(loadTimed(path, 10).status, 'built');
    assert.equal(loadTimed(path, 10).status, 'hit');
  }));

test('a file where the cache folder should be, and folders under /proc and /sys: reported within a second, in a child with a time limit', { skip: process.platform !== 'linux' && 'Linux paths', timeout: 60_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'keel-cache-'));
  try {
    writeFileSync(join(dir, 'a-file'), 'not a folder');
    const paths = [join(dir, 'a-file', 'set.keelds'), '/proc/keel-cache-test/set.keelds', '/proc/self/keel-cache-test/set.keelds', '/sys/keel-cache-test/set.keelds'];
    // A child process, so that a call that never returns (Node 20's recursive mkdir under /proc) is caught by the time limit.
    const script = `
      import { loadOrBuildCache } from ${JSON.stringify(join(root, 'packages', 'keel-datasets', 'src', 'node', 'cacheFile.ts'))};
      const set = { count: 1, rows: 1, cols: 1, skipped: 0, labels: new Uint8Array(1), images: new Uint8Array(1) };
      for (const path of ${JSON.stringify(paths)}) {
        const begun = performance.now();
        const { notWritten } = loadOrBuildCache(path, 1, () => set);
        console.log(JSON.stringify({ path, notWritten, ms: performance.now() - begun }));
      }`;
    const r = spawnSync(process.execPath, ['--conditions=keel-source', '--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.signal, null, 'timed out: the cache hung');
    assert.equal(r.status, 0, r.stderr);
    const results = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(results.map((x) => x.notWritten), [
      `${join(dir, 'a-file')} is a file, not a folder; ${FIX}`,
      `cannot create the folder /proc/keel-cache-test (ENOENT); ${FIX}`,
      `cannot create the folder /proc/self/keel-cache-test (ENOENT); ${FIX}`,
      `cannot create the folder /sys/keel-cache-test (EPERM); ${FIX}`,
    ]);
    for (const x of results) assert.ok(x.ms < 1000, `${x.path}: ${x.ms} ms`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the temporary files of cache writers that were killed are removed by the next write; those of live writers are kept', () => {
  const dir = mkdtempSync(join(tmpdir(), 'keel-cache-'));
  try {
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8', timeout: 30_000 }).stdout;
    assert.match(dead, /^\d+$/);
    const stale = `set.keelds.${dead}.1764000000000.tmp`;
    const live = `set.keelds.${process.ppid}.1764000000000.tmp`;
    const other = `other.keelds.${dead}.1764000000000.tmp`;
    for (const name of [stale, live, other]) writeFileSync(join(dir, name), 'partial');
    assert.equal(loadTimed(join(dir, 'set.keelds')).status, 'built');
    assert.deepEqual(readdirSync(dir).sort(), [live, other, 'set.keelds'].sort());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('keel train with its cache on a read-only file system: trains, and says why the cache was not written, once', { skip: mountable, timeout: 180_000 }, (t) =>
  withTmpfs(t, '1m', true, (dir) => {
    const r = spawnSync(process.execPath, [
      '--conditions=keel-source', '--import', 'tsx', join(root, 'packages', 'keel-cli', 'src', 'keel.ts'),
      'train', '--train-limit', '200', '--epochs', '1', '--verbose', '0',
    ], { cwd: root, encoding: 'utf8', timeout: 150_000, env: { ...process.env, FORCE_COLOR: '0', KEEL_CACHE_DIR: dir } });
    assert.equal(r.signal, null, 'timed out');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /\(cache: built, not written\)/);
    assert.match(r.stdout, /Test accuracy: 0\.\d{4}/);
    assert.equal(
      r.stderr,
      `keel: warning: the data cache was not written: cannot write ${join(dir, 'fashion-mnist.keelds')} (the file system is read-only, EROFS); ` +
        `${FIX}. Going on without it.\n`,
    );
  }));
