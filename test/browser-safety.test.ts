/**
 * The core must run in a browser unchanged: no module under src/ may import Node built-ins, except
 * the Node-only edges, which live in folders named `node/` (file system, worker threads). The core
 * reaches those edges only through a lazy `import()` behind a check that it runs on Node, so that a
 * browser never evaluates them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, relative, sep } from 'node:path';

const root = join(import.meta.dirname, '..', 'packages', 'keel', 'src');

function* sources(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      if (name !== 'node') yield* sources(path);
    } else if (/\.(ts|js|mjs)$/.test(name) && !name.endsWith('.d.ts')) {
      yield path;
    }
  }
}

const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

test('no Node built-in is imported outside src/**/node/', () => {
  const offenders: string[] = [];
  let files = 0;
  for (const file of sources(root)) {
    files++;
    // Type-only imports and exports are erased by the compiler: they load nothing at run time.
    const text = readFileSync(file, 'utf8').replace(/^(import|export) type [^;]*;/gm, '');
    for (const match of text.matchAll(/(?:from\s+|import\s*\(\s*|require\s*\(\s*)['"]([^'"]+)['"]/g)) {
      const spec = match[1];
      if (builtins.has(spec) || builtins.has(spec.split('/')[0])) offenders.push(`${relative(root, file)} imports ${spec}`);
      // A static import of a Node-only module would evaluate it in the browser too.
      const isStatic = !match[0].includes('(');
      if (isStatic && spec.startsWith('.') && spec.split('/').includes('node')) offenders.push(`${relative(root, file)} imports Node-only ${spec}`);
    }
    if (/\bprocess\.(env|argv|exit|stdout)|\bBuffer\.from\b/.test(text)) offenders.push(`${relative(root, file)} uses process/Buffer`);
  }
  assert.ok(files > 10, `scanned only ${files} files`);
  assert.deepEqual(offenders, [], `Node-only code in the core (move it under a node/ folder):\n${offenders.join('\n')}`);
});

test('the public entry point loads no Node-only module', () => {
  const index = readFileSync(join(root, 'index.ts'), 'utf8');
  assert.ok(!index.split(sep).includes('node'));
  assert.doesNotMatch(index, /from '\.\/[^']*\/node\//);
});
