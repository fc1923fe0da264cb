/**
 * Writes the Fashion-MNIST split Keel trains on (keel-datasets: 55,000 / 5,000 / 10,000, scaled to
 * [0, 1]) as raw little-endian files for a reference implementation to train on the same images:
 * NAME-x.f32 (N×28×28 float32) and NAME-y.i32 (N int32) for train, validation and test.
 * `node --conditions=keel-source --import tsx bench/reference/dump-split.ts OUT_DIR`
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fashionMnist } from 'keel-datasets';

const out = process.argv[2];
if (!out) throw new Error('usage: dump-split.ts OUT_DIR');
mkdirSync(out, { recursive: true });
const data = await fashionMnist();
for (const [name, part] of Object.entries({ train: data.train, validation: data.validation, test: data.test })) {
  const x = part.xs.dataSync() as Float32Array;
  const y = Int32Array.from(part.ys.dataSync() as ArrayLike<number>);
  writeFileSync(join(out, `${name}-x.f32`), new Uint8Array(x.buffer, x.byteOffset, x.byteLength));
  writeFileSync(join(out, `${name}-y.i32`), new Uint8Array(y.buffer, y.byteOffset, y.byteLength));
  process.stderr.write(`${name}: ${y.length} images\n`);
}
