/**
 * The bytes of a file on disk as a stream of chunks, gunzipped on the fly (node:zlib) when the file
 * starts with gzip's magic bytes (1f 8b), whatever its name. Node only; `keel.data.idx` imports it
 * when given file paths. Never holds more than a chunk or two of the file.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { pipeline, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { DataError } from '../errors.js';

/** Chunks of about `chunkBytes` bytes of the file at `path`, gunzipped if it is gzipped. */
export async function* fileChunks(path: string, chunkBytes: number): AsyncGenerator<Uint8Array, void, undefined> {
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (e) {
    throw new DataError(`${path}: cannot read the file (${reason(e)}); check the path.`);
  }
  let gzip: boolean;
  try {
    const head = new Uint8Array(2);
    const { bytesRead } = await handle.read(head, 0, 2, 0);
    gzip = bytesRead === 2 && head[0] === 0x1f && head[1] === 0x8b;
  } catch (e) {
    await handle.close().catch(() => undefined);
    throw new DataError(`${path}: cannot read the file (${reason(e)}); check the path.`);
  }
  const file = handle.createReadStream({ start: 0, highWaterMark: chunkBytes, autoClose: true });
  const stream: Readable = gzip ? pipeline(file, createGunzip({ chunkSize: chunkBytes }), () => undefined) : file;
  try {
    for await (const chunk of stream) yield chunk as Uint8Array;
  } catch (e) {
    throw new DataError(
      gzip
        ? `${path}: corrupt or truncated gzip file (${reason(e)}); download it again.`
        : `${path}: reading the file failed (${reason(e)}).`,
    );
  } finally {
    stream.destroy();
    file.destroy();
  }
}

function reason(e: unknown): string {
  return (e as NodeJS.ErrnoException).code ?? (e as Error).message;
}
