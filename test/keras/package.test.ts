/**
 * keel-keras stays a user of Keel: its modules import only Keel's public entry point ('keel'),
 * its two dependencies and each other, and Node's built-ins only in src/node/, which the rest
 * reaches through a lazy import() behind a check that it runs on Node (so it loads in a browser).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, relative } from 'node:path';

const root = join(import.meta.dirname, '..', '..', 'packages', 'keel-keras', 'src');
const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

function* sources(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* sources(path);
    else if (name.endsWith('.ts')) yield path;
  }
}

test('keel-keras imports keel, fflate, h5wasm and itself only, and Node only in src/node/', () => {
  const offenders: string[] = [];
  let files = 0;
  for (const file of sources(root)) {
    files++;
    const inNode = relative(root, file).split('/')[0] === 'node';
    // Comments (the examples in them) and type-only imports load nothing at run time.
    const text = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '').replace(/^(import|export) type [^;]*;/gm, '');
    for (const match of text.matchAll(/(?:from\s+|import\s*\(\s*)['"]([^'"]+)['"]/g)) {
      const spec = match[1];
      const isStatic = !match[0].includes('(');
      if (builtins.has(spec)) {
        if (!inNode) offenders.push(`${relative(root, file)} imports ${spec}`);
      } else if (spec.startsWith('.')) {
        if (isStatic && !inNode && spec.split('/').includes('node')) offenders.push(`${relative(root, file)} statically imports Node-only ${spec}`);
      } else if (!['keel', 'fflate', 'h5wasm'].includes(spec)) {
        offenders.push(`${relative(root, file)} imports ${spec}`);
      }
    }
  }
  assert.ok(files >= 8, `found only ${files} modules`);
  assert.deepEqual(offenders, []);
});
