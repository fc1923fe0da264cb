/**
 * Makes docs/lab.png: the lab with its default settings (the BN paper's sigmoid network with BN
 * before each activation against the same network without), trained for a number of steps in the
 * system's Chromium, then a test image predicted and both buttons pressed.
 *
 *   node --conditions=keel-source --import tsx packages/keel-lab/scripts/screenshot.ts [steps] [out.png]
 *
 * Defaults: 800 steps, docs/lab.png. Needs the built lab (npm run build -w keel-lab) and Chromium.
 */
import { join } from 'node:path';
import { findChromium } from '../../../scripts/browser.js';
import { startLabServer } from '../../keel-cli/src/lab.js';

const root = join(import.meta.dirname, '..', '..', '..');
const steps = Number(process.argv[2] ?? 800);
const out = process.argv[3] ?? join(root, 'docs', 'lab.png');
const chromium = findChromium();
if (!chromium) throw new Error('Chromium not found (apt-get install chromium, or set KEEL_CHROMIUM).');

const server = await startLabServer(0);
const { chromium: launcher } = await import('playwright-core');
const browser = await launcher.launch({ executablePath: chromium, args: ['--no-sandbox'] });
try {
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  page.on('pageerror', (e) => { throw e; });
  await page.goto(server.url);
  await page.waitForFunction(() => document.body.dataset.phase === 'ready', null, { timeout: 60_000 });
  await page.click('#train');
  await page.waitForFunction((n) => (window as unknown as { keelLab: { history: { b: { steps: unknown[] } } } }).keelLab.history.b.steps.length >= n,
    steps, { timeout: 600_000, polling: 500 });
  await page.click('#train');
  await page.waitForFunction(() => document.getElementById('a-state')?.textContent === 'paused', null, { timeout: 30_000 });
  await page.click('#next-image');
  await page.click('#recompute');
  await page.waitForFunction(() => (document.getElementById('recompute-out')?.textContent ?? '') !== '', null, { timeout: 60_000 });
  await page.click('#fold');
  await page.waitForFunction(() => (document.getElementById('fold-out')?.textContent ?? '') !== '', null, { timeout: 60_000 });
  await page.screenshot({ path: out });
  process.stdout.write(`wrote ${out}\n`);
} finally {
  await browser.close();
  await server.close();
}
