/** Where the built lab page is, for `keel lab` to serve (Node only). */
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

/**
 * The folder of the built page (index.html, the bundles, data/), written by
 * `npm run build -w keel-lab`. The same from src/ (the keel-source condition) and from dist/,
 * which both sit one level below the package.
 */
export function siteDirectory(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'site');
}
