/**
 * Runs several `keel` command lines in one process (what keel.ts does for one: `run(argv)`), and
 * prints, as JSON, each one's exit code and what it wrote to stdout and stderr. The CLI tests use it
 * for their many quick error cases: one Node start instead of one per case.
 */
import { run } from '../../packages/keel-cli/src/program.js';

const commands = JSON.parse(process.argv[2]) as string[][];
const results: { code: number; stdout: string; stderr: string }[] = [];
const realStdout = process.stdout.write.bind(process.stdout);
const realStderr = process.stderr.write.bind(process.stderr);
for (const argv of commands) {
  let stdout = '';
  let stderr = '';
  process.stdout.write = ((chunk: string | Uint8Array) => ((stdout += String(chunk)), true)) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => ((stderr += String(chunk)), true)) as typeof process.stderr.write;
  let code: number;
  try {
    code = await run(argv);
  } finally {
    process.stdout.write = realStdout;
    process.stderr.write = realStderr;
  }
  results.push({ code, stdout, stderr });
}
realStdout(`${JSON.stringify(results)}\n`);
