/**
 * `keel lab`: the command serves the built lab with the cross-origin-isolation headers, prints its
 * URL, refuses a busy port with a clear message, serves nothing outside the lab's folder, and stops
 * on Ctrl+C. Every wait is bounded.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..', '..');
const keelBin = join(root, 'packages', 'keel-cli', 'src', 'keel.ts');
const NODE_ARGS = ['--conditions=keel-source', '--import', 'tsx'];

before(() => {
  // The page and its data, as `npm run build -w keel-lab` makes them (about a second once the data exist).
  execFileSync(process.execPath, [...NODE_ARGS, join(root, 'packages', 'keel-lab', 'build.mjs')], { cwd: root, stdio: 'pipe', timeout: 120_000 });
});

/** A port nothing listens on: bind port 0, note what the system gave, let it go. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

interface Started { child: ChildProcess; output: () => string; exited: Promise<number | null> }

function startLab(port: number): Started {
  const child = spawn(process.execPath, [...NODE_ARGS, keelBin, 'lab', '--port', String(port)], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer!);
  }
}

async function waitForOutput(lab: Started, pattern: RegExp, ms: number): Promise<RegExpMatchArray> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const m = lab.output().match(pattern);
    if (m) return m;
    if (lab.child.exitCode !== null) throw new Error(`keel lab exited with ${lab.child.exitCode}: ${lab.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`keel lab did not print ${pattern} within ${ms} ms; it printed: ${lab.output()}`);
}

test('keel lab serves the page cross-origin isolated at the URL it prints, and stops on SIGINT', { timeout: 90_000 }, async () => {
  const port = await freePort();
  const lab = startLab(port);
  try {
    const [, url] = await waitForOutput(lab, /(http:\/\/localhost:\d+\/)/, 60_000);
    assert.equal(url, `http://localhost:${port}/`);
    for (const path of ['', 'lab.js', 'worker.js', 'data/manifest.json', 'data/train-images-idx3-ubyte.gz']) {
      const response = await within(10_000, `GET /${path}`, fetch(`${url}${path}`));
      assert.equal(response.status, 200, path);
      assert.equal(response.headers.get('cross-origin-opener-policy'), 'same-origin', path);
      assert.equal(response.headers.get('cross-origin-embedder-policy'), 'require-corp', path);
      await response.arrayBuffer();
    }
    const page = await (await fetch(url)).text();
    assert.match(page, /<title>Keel BN lab/);
    assert.match((await fetch(`${url}lab.js`)).headers.get('content-type') ?? '', /^text\/javascript/);
    const manifest = await (await fetch(`${url}data/manifest.json`)).json() as { train: { count: number }; test: { count: number } };
    assert.deepEqual([manifest.train.count, manifest.test.count], [12_000, 2_000]);
    // Nothing outside the lab's folder, however the path is spelled.
    for (const path of ['../package.json', '%2e%2e/package.json', '..%2f..%2fpackage.json', 'missing.js']) {
      const response = await within(10_000, `GET /${path}`, fetch(`${url}${path}`));
      assert.equal(response.status, 404, path);
      await response.arrayBuffer();
    }
    lab.child.kill('SIGINT');
    assert.equal(await within(15_000, 'exit after SIGINT', lab.exited), 0);
  } finally {
    if (lab.child.exitCode === null) lab.child.kill('SIGKILL');
  }
});

test('keel lab on a busy port says so and how to fix it, with exit code 2', { timeout: 60_000 }, async () => {
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  const { port } = blocker.address() as { port: number };
  const lab = startLab(port);
  try {
    const code = await within(45_000, 'keel lab to exit', lab.exited);
    assert.equal(code, 2, lab.output());
    assert.equal(lab.output().trim(), `keel: lab: port ${port} is already in use; stop what uses it, or choose another with --port (e.g. --port ${port + 1}).`);
  } finally {
    if (lab.child.exitCode === null) lab.child.kill('SIGKILL');
    await new Promise((resolve) => blocker.close(resolve));
  }
});

test('keel lab refuses a port that is not one', { timeout: 60_000 }, async () => {
  const lab = startLab(70000 as number);
  const code = await within(45_000, 'keel lab to exit', lab.exited);
  assert.equal(code, 2);
  assert.match(lab.output(), /keel lab: option '--port <n>' argument '70000' is invalid\. expected a port number from 1 to 65535/);
});
