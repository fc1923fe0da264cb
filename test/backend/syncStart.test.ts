/**
 * The worker thread takes kernels as soon as it has started, even while the calling thread never
 * returns to its event loop: a synchronous loop of `predict` right after `import`, with no await
 * in between (a custom training loop, a request handler that does all its work in one tick). A
 * child process, so that the loop really starts at import, before any event-loop turn.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

const src = join(import.meta.dirname, '..', '..', 'packages', 'keel', 'src');
/** How long the child's loop waits for the worker before it gives up (it starts in well under a second). */
const LOOP_MS = 10_000;

// Static imports only, and nothing awaited: from the first predict to the print, one synchronous stretch.
const probe = `
import * as keel from ${JSON.stringify(join(src, 'node', 'index.ts'))};
import { backend } from ${JSON.stringify(join(src, 'backend', 'backend.ts'))};
const be = backend();
keel.setRandomSeed(1);
const model = keel.zoo.buildModel('seed');
// One example: its first GEMM (2·784·300 flops) is large enough to be split across the threads.
const x = keel.tensor(Float32Array.from({ length: 784 }, (_, i) => (i % 97) / 97), [1, 28, 28]);
const first = model.predict(x).dataSync();
const same = (out) => out.every((v, i) => Object.is(v, first[i]));
const begun = performance.now();
let calls = 1, identical = true;
while (be.workerBlocks === 0 && performance.now() - begun < ${LOOP_MS}) {
  identical &&= same(model.predict(x).dataSync());
  calls++;
}
// A few more now that the worker runs its halves: the split, hence the bits, never changed.
for (let i = 0; i < 20; i++) identical &&= same(model.predict(x).dataSync());
console.log(JSON.stringify({ backend: be.name, workerBlocks: be.workerBlocks, calls, ms: Math.round(performance.now() - begun), identical }));
`;

test('a synchronous loop right after import gets the worker thread once it has started, with the same bits', () => {
  const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', probe], {
    encoding: 'utf8', timeout: LOOP_MS + 50_000,
  });
  const result = JSON.parse(out.trim().split('\n').pop()!);
  assert.equal(result.backend, 'wasm');
  assert.ok(result.workerBlocks > 0, `the worker ran no block in ${result.ms} ms of synchronous predict calls (${result.calls} calls)`);
  assert.equal(result.identical, true, `predictions changed when the worker started taking halves (after ${result.calls} calls)`);
});
