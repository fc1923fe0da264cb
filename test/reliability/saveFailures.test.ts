/**
 * Saves that cannot be written: a full disk, a read-only file system, no permission, an I/O error.
 * Each must end in a SaveError (a KeelError) that says what failed, where, why and how to fix it,
 * leave no temporary file, and leave the previous save loadable as it was.
 *
 * Real file systems where the test can make them (a 256 KiB tmpfs, then remounted read-only: needs
 * root and Linux; skipped elsewhere), and on any machine the same errors injected into every
 * file-system call a save makes, one call at a time.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { promises as fsPromises } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as keel from 'keel';
import { weightsHash } from './hash.js';

function model(inputs: number, units: number, seed: number): keel.Sequential {
  keel.setRandomSeed(seed);
  return keel.sequential({ layers: [keel.layers.dense({ units, inputShape: [inputs] }), keel.layers.dense({ units: 3 })] });
}

async function loadsAs(dir: string, candidates: Record<string, keel.Sequential>): Promise<string> {
  let hash: string;
  try {
    hash = weightsHash(await keel.loadLayersModel(`file://${dir}`));
  } catch (e) {
    return `${(e as Error).name}: ${(e as Error).message}`;
  }
  return Object.entries(candidates).find(([, m]) => weightsHash(m) === hash)?.[0] ?? 'a model of none of the saves';
}

const temporaries = async (dir: string) => (await readdir(dir)).filter((n) => n.endsWith('.tmp'));

/** Runs `command` (mount, umount) with a time limit; returns whether it succeeded. */
function run(command: string, args: string[]): boolean {
  const r = spawnSync(command, args, { encoding: 'utf8', timeout: 10_000 });
  return r.status === 0;
}

const canMount = (() => {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) return false;
  return true;
})();

test('a full disk (a 256 KiB tmpfs), then a read-only one: SaveError naming the cause and the fix; the previous save still loads', {
  skip: !canMount && 'needs root on Linux to mount a tmpfs', timeout: 60_000,
}, async (t) => {
  const mountPoint = await mkdtemp(join(tmpdir(), 'keel-tmpfs-'));
  if (!run('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', mountPoint])) {
    await rmdir(mountPoint);
    t.skip('mount -t tmpfs failed here (no CAP_SYS_ADMIN?)');
    return;
  }
  try {
    const dir = join(mountPoint, 'model');
    const small = model(8, 16, 1); // 0.7 KB of weights
    const large = model(300, 300, 2); // 360 KB: more than the disk holds
    await small.save(`file://${dir}`);

    await assert.rejects(large.save(`file://${dir}`), (e: Error) => {
      assert.ok(e instanceof keel.SaveError && e instanceof keel.KeelError, `${e.name}: ${e.message}`);
      assert.equal(e.name, 'SaveError');
      assert.equal(e.code, 'ENOSPC');
      assert.equal(e.path, dir);
      assert.match(e.message, new RegExp(`^save: cannot save the model in '${dir}': the disk is full \\(ENOSPC\\), while writing the weights \\(364812 bytes\\) to '.*\\.weights\\.bin\\.\\d+-[0-9a-f]{8}\\.tmp'\\. The model saved there before is unchanged and still loads\\. To fix: free some space there, or save to another disk\\.$`));
      return true;
    });
    assert.deepEqual(await temporaries(dir), [], 'the partial weights file was removed');
    assert.equal(await loadsAs(dir, { small, large }), 'small');
    // Space is not taken for good: a model that fits saves.
    const other = model(8, 16, 3);
    await other.save(`file://${dir}`);
    assert.equal(await loadsAs(dir, { small, other }), 'other');

    assert.ok(run('mount', ['-o', 'remount,ro', mountPoint]), 'remount read-only');
    await assert.rejects(small.save(`file://${dir}`), (e: Error) => {
      assert.ok(e instanceof keel.SaveError, `${e.name}: ${e.message}`);
      assert.equal(e.name, 'SaveError');
      assert.match(e.message, new RegExp(`^save: cannot save the model in '${dir}': the file system is read-only \\(EROFS\\), while writing the weights .*The model saved there before is unchanged and still loads\\. To fix: save to a folder on a writable file system\\.$`));
      return true;
    });
    assert.equal(await loadsAs(dir, { small, other }), 'other');
    // A folder that would have to be made there: the error says so, without hanging.
    await assert.rejects(small.save(`file://${join(mountPoint, 'new', 'model')}`), { name: 'ValueError', message: /cannot create the folder .*\(EROFS\); choose a destination you can write to/ });
  } finally {
    run('umount', [mountPoint]);
    await rm(mountPoint, { recursive: true, force: true });
  }
});

const CALLS = ['open', 'rename', 'link', 'copyFile', 'rm', 'readdir'] as const;
const HANDLE_CALLS = ['writeFile', 'sync'] as const;
const failure = (code: string) => Object.assign(new Error(`${code}: injected failure`), { code });

/**
 * Saves `m` to `dir`, the `failAt`-th file-system call of the save (1 for the first) failing with
 * `code`. Returns the calls made, whether the failure came, and the save's error if it failed.
 */
async function saveFailingAt(m: keel.Sequential, dir: string, failAt: number, code: string) {
  const fs = fsPromises as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  const originals = CALLS.map((name) => [name, fs[name]] as const);
  const calls: string[] = [];
  let injected = false;
  const next = (name: string) => {
    calls.push(name);
    if (calls.length === failAt) { injected = true; return true; }
    return false;
  };
  for (const [name, original] of originals) {
    fs[name] = async (...args: unknown[]) => {
      if (next(`${name} ${args.filter((a) => typeof a === 'string').map((a) => (a as string).split('/').pop()).join(' ')}`)) throw failure(code);
      const result = await original.apply(fsPromises, args);
      if (name !== 'open') return result;
      const handle = result as Record<string, (...a: unknown[]) => Promise<unknown>>;
      for (const method of HANDLE_CALLS) {
        const own = handle[method].bind(handle);
        handle[method] = async (...a: unknown[]) => {
          if (next(`handle.${method}`)) throw failure(code);
          return own(...a);
        };
      }
      return handle;
    };
  }
  try {
    await m.save(`file://${dir}`);
    return { calls, injected, error: undefined };
  } catch (error) {
    return { calls, injected, error: error as Error };
  } finally {
    for (const [name, original] of originals) fs[name] = original;
  }
}

const MESSAGES: Record<string, RegExp> = {
  ENOSPC: /: the disk is full \(ENOSPC\), while .* To fix: free some space there, or save to another disk\.$/,
  EROFS: /: the file system is read-only \(EROFS\), while .* To fix: save to a folder on a writable file system\.$/,
  EACCES: /: no permission to write there \(EACCES\), while .* To fix: change the folder's permissions, or save to a folder you can write to\.$/,
  EIO: /: EIO: EIO: injected failure, while .* To fix: check the folder and the disk, then save again\.$/,
};

/**
 * Saves A, then saves B with its `k`-th file-system call failing with `code`; returns what went
 * wrong (nothing: an empty list), and whether the failure came (false once k is past the last call).
 */
async function failOnce(root: string, code: string, k: number, a: keel.Sequential, b: keel.Sequential): Promise<{ injected: boolean; problems: string[] }> {
  const dir = join(root, `${code}-${k}`);
  await mkdir(dir);
  await a.save(`file://${dir}`);
  const r = await saveFailingAt(b, dir, k, code);
  if (!r.injected) return { injected: false, problems: [] };
  const problems: string[] = [];
  const where = `${code} at call ${k} (${r.calls.at(-1)}; calls: ${r.calls.join(', ')})`;
  const got = await loadsAs(dir, { a, b });
  const left = await temporaries(dir);
  if (left.length) problems.push(`${where}: temporary files left: ${left.join(', ')}`);
  if (r.error) {
    if (r.error.name !== 'SaveError' || !(r.error instanceof keel.SaveError) || !(r.error instanceof keel.KeelError)) problems.push(`${where}: ${r.error.name}: ${r.error.message}`);
    else if (!MESSAGES[code].test(r.error.message) || !r.error.message.startsWith(`save: cannot save the model in '${dir}'`)
      || !/The model saved there before is unchanged and still loads\./.test(r.error.message)) {
      problems.push(`${where}: unclear message: ${r.error.message}`);
    }
    if (got !== 'a') problems.push(`${where}: the save failed and the folder loads as ${got}, not the previous model`);
  } else if (got !== 'b') {
    // Failures a save may ignore: removing stale files, or the .prev pair once the new pair is in place.
    problems.push(`${where}: the save succeeded and the folder loads as ${got}`);
  }
  // The next save, without failures, puts everything right.
  await b.save(`file://${dir}`);
  if ((await loadsAs(dir, { a, b })) !== 'b') problems.push(`${where}: the next save did not take`);
  const names = (await readdir(dir)).sort();
  if (names.join() !== 'model.json,weights.bin') problems.push(`${where}: the next save left ${names.join(', ')}`);
  return { injected: true, problems };
}

test('each file-system call of a save failing in turn (ENOSPC): a SaveError and the previous model, or success; never a broken folder', { timeout: 60_000 }, async () => {
  const root = await mkdtemp(join(tmpdir(), 'keel-savefail-'));
  const problems: string[] = [];
  let cases = 0;
  try {
    const a = model(8, 16, 1);
    const b = model(8, 24, 2); // another size: a mix would not even load
    for (let k = 1; ; k++) {
      const r = await failOnce(root, 'ENOSPC', k, a, b);
      if (!r.injected) break;
      cases++;
      problems.push(...r.problems);
    }
    // The other causes, at the first call that writes and at a rename.
    for (const code of ['EROFS', 'EACCES', 'EIO']) {
      for (const k of [2, 12]) problems.push(...(await failOnce(root, code, k, a, b)).problems);
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
  assert.deepEqual(problems, []);
  assert.ok(cases >= 12, `${cases} calls: a save makes more than that`);
});
