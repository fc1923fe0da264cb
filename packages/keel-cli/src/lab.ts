/**
 * `keel lab [--port N]`: serves the BN lab (the keel-lab package's built page) on localhost until
 * interrupted, with the headers that make the page cross-origin isolated, so that Keel's kernels
 * can share their memory with a Web Worker:
 *   Cross-Origin-Opener-Policy: same-origin
 *   Cross-Origin-Embedder-Policy: require-corp
 * Files are served from the lab's folder only; everything is same-origin, so require-corp blocks
 * nothing the page needs.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { extname, join, normalize, sep } from 'node:path';
import { KeelError } from 'keel';
import { siteDirectory } from 'keel-lab';

/** The lab cannot be served: it is not built, or the port cannot be had. The message says how to fix it. */
export class LabServerError extends KeelError {}

export const DEFAULT_LAB_PORT = 8080;

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.json': 'application/json', '.map': 'application/json', '.png': 'image/png', '.gz': 'application/octet-stream',
};

export interface LabServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Starts serving `directory` (default: the built lab) on 127.0.0.1:`port` (0: any free port). */
export async function startLabServer(port: number, directory = siteDirectory()): Promise<LabServer> {
  if (!existsSync(join(directory, 'index.html')) || !existsSync(join(directory, 'data', 'manifest.json'))) {
    throw new LabServerError(`lab: the lab is not built (no ${join(directory, 'index.html')} or its data); run \`npm run build -w keel-lab\` first.`);
  }
  const root = normalize(directory);
  const server: Server = createServer((req, res) => {
    res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
    res.setHeader('Cross-Origin-Embedder-Policy', 'require-corp');
    res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
    res.setHeader('Cache-Control', 'no-cache');
    if (req.method !== 'GET' && req.method !== 'HEAD') return void res.writeHead(405, { Allow: 'GET, HEAD' }).end();
    let path: string;
    try {
      path = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    } catch {
      return void res.writeHead(400).end();
    }
    const file = normalize(join(root, path.endsWith('/') ? `${path}index.html` : path));
    // No path outside the lab's folder (../ and the like), and folders only through their index.html.
    if (!file.startsWith(root + sep) || !existsSync(file) || !statSync(file).isFile()) {
      return void res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
    const body = readFileSync(file);
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'content-length': body.length });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => {
      reject(e.code === 'EADDRINUSE'
        ? new LabServerError(`lab: port ${port} is already in use; stop what uses it, or choose another with --port (e.g. --port ${port + 1}).`)
        : e.code === 'EACCES'
          ? new LabServerError(`lab: no permission to listen on port ${port}; choose a port above 1023 with --port.`)
          : e);
    });
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const actual = (server.address() as AddressInfo).port;
  return {
    url: `http://localhost:${actual}/`,
    port: actual,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/** A port number: 1-65535, or 0 for any free port (printed). */
function portNumber(value: string): number {
  const n = /^\s*\d+\s*$/.test(value) ? Number(value) : NaN;
  if (!(Number.isInteger(n) && n >= 0 && n <= 65535)) throw new InvalidArgumentError(`expected a port number from 1 to 65535 (0: any free port), received '${value}'.`);
  return n;
}

/** Registers `keel lab` on the program. */
export function addLabCommand(program: Command): void {
  program
    .command('lab')
    .description('serve the BN lab, a web page that trains two networks live (with and without BN), on localhost until interrupted')
    .addOption(new Option('--port <n>', 'port to listen on (0: any free port)').argParser(portNumber).default(DEFAULT_LAB_PORT))
    .option('--debug', 'print stack traces of errors')
    .action(async (options: { port: number }) => lab(options));
}

/** The command: serves until SIGINT or SIGTERM, then stops the server and resolves. */
export async function lab(options: { port: number }): Promise<void> {
  const server = await startLabServer(options.port);
  process.stdout.write(`The BN lab is at ${server.url}\n(cross-origin isolated: Keel's kernels use a Web Worker). Press Ctrl+C to stop.\n`);
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await server.close();
}
