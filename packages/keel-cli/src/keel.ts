#!/usr/bin/env node
/** Entry point of the `keel` command (package.json "bin"). */
import { exitQuietlyOnBrokenPipe } from './brokenPipe.js';
import { run } from './program.js';

exitQuietlyOnBrokenPipe();
process.exitCode = await run(process.argv.slice(2));
