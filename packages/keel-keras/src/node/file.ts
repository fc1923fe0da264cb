/**
 * `.keras` files on Node: read with a size bound, and written atomically: the bytes go to a
 * temporary file in the same folder, are flushed to disk, and the file is renamed over the
 * destination, so that a save killed midway leaves the previous file whole (a rename within a
 * folder is atomic on POSIX file systems). Imported only when a path or keras:// URL is used.
 */
import { promises as fs } from 'node:fs';
import * as nodePath from 'node:path';
import { randomBytes } from 'node:crypto';
import { ModelFormatError, SaveError } from 'keel';

/** Reads a `.keras` file, refusing one larger than `maxBytes` before reading it. */
export async function readKerasFile(path: string, maxBytes: number): Promise<Uint8Array> {
  let size: number;
  try {
    const stat = await fs.stat(path);
    if (!stat.isFile()) throw new ModelFormatError(`loadKerasModel: '${path}' is not a file; expected a .keras archive.`);
    size = stat.size;
  } catch (e) {
    if (e instanceof ModelFormatError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new ModelFormatError(`loadKerasModel: cannot read '${path}' (${code ?? (e as Error).message}); expected an existing .keras file. Check the path.`);
  }
  if (size > maxBytes) {
    throw new ModelFormatError(`loadKerasModel: '${path}' has ${size} bytes, more than the bound of ${maxBytes}; if the file is trusted, pass a larger maxUncompressedBytes.`);
  }
  return new Uint8Array(await fs.readFile(path));
}

/** Writes `bytes` to `path` atomically (see the top of this file). */
export async function writeKerasFile(path: string, bytes: Uint8Array): Promise<void> {
  const dir = nodePath.dirname(nodePath.resolve(path));
  const tmp = nodePath.join(dir, `.${nodePath.basename(path)}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
  let step = `checking the folder '${dir}'`;
  try {
    const stat = await fs.stat(dir);
    if (!stat.isDirectory()) throw Object.assign(new Error(`'${dir}' is not a folder`), { code: 'ENOTDIR' });
    step = `writing ${bytes.byteLength} bytes to '${tmp}'`;
    const handle = await fs.open(tmp, 'w');
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    step = `renaming '${tmp}' to '${path}'`;
    await fs.rename(tmp, path);
  } catch (e) {
    await fs.rm(tmp, { force: true }).catch(() => {});
    const code = (e as NodeJS.ErrnoException).code;
    const fix = code === 'ENOENT' || code === 'ENOTDIR' ? 'create the folder first, or save elsewhere' : 'check the folder, its permissions and the free space, then save again';
    throw new SaveError(
      `save: cannot save '${path}': ${code ?? (e as Error).message}, while ${step}. Any file there before is unchanged. To fix: ${fix}.`, code, dir,
    );
  }
}
