/**
 * Runs Keel in headless Chromium, for the browser tests and the browser benchmark: compiles packages/keel/src/
 * with tsc into a temporary folder (so the page runs the current sources as plain ES modules, no
 * bundler), serves it on localhost under two prefixes, `/isolated/` with the headers that make a
 * page cross-origin isolated (shared memory, so Web Workers) and `/plain/` without them, and
 * evaluates module scripts in pages there through playwright-core.
 *
 * Chromium comes from the system (Debian: `apt-get install chromium`), never downloaded: set
 * KEEL_CHROMIUM to its path if it is not /usr/bin/chromium or on PATH as chromium.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, normalize, sep } from 'node:path';
import type { AddressInfo } from 'node:net';

const root = join(import.meta.dirname, '..');

/** Chromium's path, or null when none is installed. */
export function findChromium(): string | null {
  const candidates = [process.env.KEEL_CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser'];
  for (const path of candidates) if (path && existsSync(path)) return path;
  try {
    return execFileSync('sh', ['-c', 'command -v chromium || command -v chromium-browser'], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}

export type PageMode = 'isolated' | 'plain';

export interface BrowserSession {
  /**
   * Opens a fresh page in `mode`, runs `script` there as an ES module (relative imports resolve
   * against the compiled tree: `./src/index.js` is Keel), and returns what the script assigns to
   * `window.__result`; rejects with the page's error when the script throws.
   */
  run(mode: PageMode, script: string, timeoutMs?: number): Promise<unknown>;
  close(): Promise<void>;
}

const TYPES: Record<string, string> = { '.js': 'text/javascript', '.html': 'text/html', '.map': 'application/json' };

export async function openBrowser(chromium: string): Promise<BrowserSession> {
  const out = mkdtempSync(join(tmpdir(), 'keel-browser-'));
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  execFileSync(process.execPath, [tsc, '-p', join(root, 'packages', 'keel', 'tsconfig.build.json'), '--outDir', join(out, 'src')], { stdio: 'inherit' });

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const [, mode, ...rest] = url.pathname.split('/');
    if (mode !== 'isolated' && mode !== 'plain') return void res.writeHead(404).end();
    if (mode === 'isolated') {
      res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
      res.setHeader('Cross-Origin-Embedder-Policy', 'require-corp');
    }
    if (rest.join('/') === 'page.html') {
      return void res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>Keel</title>');
    }
    const file = normalize(join(out, ...rest));
    if (!file.startsWith(out + sep) || !existsSync(file)) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(readFileSync(file));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  const { chromium: launcher } = await import('playwright-core');
  // --no-sandbox: Chromium's sandbox refuses to run as root, which CI machines are.
  const browser = await launcher.launch({ executablePath: chromium, args: ['--no-sandbox', ...(process.env.KEEL_CHROMIUM_ARGS?.split(' ').filter(Boolean) ?? [])] });
  return {
    async run(mode, script, timeoutMs = 120_000) {
      const page = await browser.newPage();
      try {
        // A script that throws ends the wait at once, with the page's own message.
        const failed = new Promise<never>((_, reject) => page.on('pageerror', (e) => reject(new Error(`in the page: ${e.stack ?? e.message}`))));
        await page.goto(`http://127.0.0.1:${port}/${mode}/page.html`);
        await page.addScriptTag({ type: 'module', content: `${script}\n;window.__done = true;` });
        await Promise.race([
          page.waitForFunction(() => (window as { __done?: boolean }).__done, null, { timeout: timeoutMs, polling: 50 }),
          failed,
        ]);
        return await page.evaluate(() => (window as { __result?: unknown }).__result);
      } finally {
        await page.close();
      }
    },
    async close() {
      await browser.close();
      await new Promise((resolve) => server.close(resolve));
      rmSync(out, { recursive: true, force: true });
    },
  };
}
