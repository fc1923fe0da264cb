/**
 * The handler factory of `file://` URLs. It imports the Node code (`io/node/`) only when a file://
 * URL is used, behind a check that it runs on Node, so that the rest of Keel runs in a browser
 * unchanged. Keel's entry point (`src/index.ts`) registers it with `registerIOScheme`.
 */
import { ValueError } from '../core/errors.js';
import type { IOHandler } from './types.js';

export async function fileSystemScheme(url: string): Promise<IOHandler> {
  if (typeof process === 'undefined' || !process.versions?.node) {
    throw new ValueError(`file:// URLs need Node.js; in a browser, save with an IOHandler (keel.io.withSaveHandler).`);
  }
  const { fileSystemHandler } = await import('./node/fileSystem.js');
  return fileSystemHandler(url);
}
