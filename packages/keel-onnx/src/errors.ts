/** The error toOnnx throws for a model it cannot write, before any byte is made. */
import * as keel from 'keel';

/**
 * A model, layer or option that cannot be exported to ONNX. `layerName` and `className` name the
 * layer at fault when there is one (empty otherwise). A ValueError, so `instanceof keel.ValueError`
 * and `instanceof keel.KeelError` catch it too.
 */
export class OnnxExportError extends keel.ValueError {
  constructor(message: string, readonly layerName = '', readonly className = '') {
    super(message);
  }
}
