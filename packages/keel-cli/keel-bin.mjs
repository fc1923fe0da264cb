#!/usr/bin/env node
// The `keel` command as installed by npm (package.json "bin"): runs the compiled CLI from dist/.
// A committed, executable file, because nothing marks the compiled dist/keel.js executable
// again after a clean rebuild (`rm -rf dist && npm run build` broke `npx keel` with "Permission denied").
import { existsSync } from 'node:fs';

const compiled = new URL('./dist/keel.js', import.meta.url);
if (!existsSync(compiled)) {
  process.stderr.write(`keel: the compiled CLI (${compiled.pathname}) is missing; run \`npm run build\` (npm install runs it).\n`);
  process.exit(2);
}
await import(compiled.href);
