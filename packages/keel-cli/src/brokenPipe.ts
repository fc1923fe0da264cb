/**
 * `keel train | head -1`: when the reader of stdout goes away, writing fails with EPIPE. Like other
 * Unix tools, the command then stops quietly (exit code 0, or the one already decided) instead of
 * crashing with an unhandled 'error' event and a stack trace. When the reader of stderr goes away,
 * the messages meant for it are dropped and the command goes on: its output and exit code stand.
 */

let installed = false;

function isBrokenPipe(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | null | undefined)?.code === 'EPIPE';
}

/** Installs the handlers on stdout and stderr (the `keel` command's entry point calls it). */
export function exitQuietlyOnBrokenPipe(): void {
  installed = true;
  process.stdout.on('error', (error) => {
    if (isBrokenPipe(error)) process.exit(); // process.exitCode if set, else 0
    throw error; // what an 'error' event without a listener does
  });
  process.stderr.on('error', (error) => {
    if (!isBrokenPipe(error)) throw error;
  });
}

/**
 * Writes to stdout, and ends the process at once if the reader has gone: a write to a closed pipe
 * fails synchronously, but its 'error' event waits for the event loop, which a training epoch holds.
 */
export function writeOut(text: string): void {
  process.stdout.write(text);
  if (installed && isBrokenPipe(process.stdout.errored)) process.exit();
}
