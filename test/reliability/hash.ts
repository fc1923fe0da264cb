/** A model's weights as one SHA-256, in save order: which of the known saves a loaded model is. */
import { createHash } from 'node:crypto';
import type * as keel from 'keel';

export function weightsHash(model: keel.Sequential): string {
  const hash = createHash('sha256');
  for (const w of model.getWeights()) {
    const values = Float32Array.from(w.dataSync());
    hash.update(`${w.shape.join('x')}:`);
    hash.update(new Uint8Array(values.buffer));
  }
  return hash.digest('hex').slice(0, 32);
}
