/**
 * The TF.js Layers model format, as TensorFlow.js 4.x writes it (`model.json` + `weights.bin`).
 * These types mirror TF.js's `ModelArtifacts` and `IOHandler`, so that artifacts move between
 * Keel and TF.js unchanged (e.g. through `tf.io.fromMemory` and `tf.io.withSaveHandler`).
 */

/** One weight in the manifest: its full name (`dense/kernel`), shape and element type. */
export interface WeightSpec {
  name: string;
  shape: number[];
  dtype: 'float32';
}

/** A group of weights stored in one or more shard files, concatenated in order. */
export interface WeightsManifestGroup {
  paths: string[];
  weights: WeightSpec[];
}

/** The contents of `model.json`. */
export interface ModelJSON {
  modelTopology: Record<string, unknown>;
  format: 'layers-model';
  generatedBy: string;
  convertedBy: string | null;
  weightsManifest: WeightsManifestGroup[];
  userDefinedMetadata?: Record<string, unknown>;
}

/** Topology and weights in memory: what an IOHandler saves or loads (TF.js's ModelArtifacts). */
export interface ModelArtifacts {
  modelTopology: Record<string, unknown>;
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
  weightSpecs: WeightSpec[];
  /**
   * The weights' bytes, little-endian float32, in `weightSpecs` order. TF.js 4.x may give several
   * buffers to be read one after the other; Keel writes one.
   */
  weightData: ArrayBuffer | ArrayBuffer[];
  userDefinedMetadata?: Record<string, unknown>;
}

/** What `save` reports, as TF.js's SaveResult. */
export interface SaveResult {
  modelArtifactsInfo: {
    dateSaved: Date;
    modelTopologyType: 'JSON';
    modelTopologyBytes: number;
    weightSpecsBytes: number;
    weightDataBytes: number;
  };
}

/** Where a model goes or comes from. A URL like `file://DIR` resolves to one of these. */
export interface IOHandler {
  save?(artifacts: ModelArtifacts): Promise<SaveResult>;
  load?(): Promise<ModelArtifacts>;
}
