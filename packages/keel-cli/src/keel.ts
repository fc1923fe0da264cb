#!/usr/bin/env node
/** Entry point of the `keel` command (package.json "bin"). */
import { run } from './program.js';

process.exitCode = await run(process.argv.slice(2));
