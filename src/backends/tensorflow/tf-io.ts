/**
 * What a TensorFlow model (SavedModel signature, TF.js graph or layers model) says about its
 * inputs and outputs, in the form auto-complete and the runner's config checks use. Sent from
 * worker threads to the main thread, so plain structured-cloneable data only.
 */
import type { DataType } from '../../core/datatype.js';

export interface TfIoInfo {
  /** The name the model config uses (signature key, or the tensor's name). */
  name: string;
  /** What the runtime feeds or fetches: a graph tensor "node:k", or a layers model's tensor name. */
  tensor: string;
  /** The v2 datatype; undefined when the model's type has none (see sourceType). */
  datatype: DataType | undefined;
  /** The model's own type name, for messages (DT_FLOAT, float32, DT_RESOURCE). */
  sourceType: string;
  /** Dims, -1 where unknown; undefined when even the rank is unknown. */
  shape: number[] | undefined;
}

export interface TfModelIo {
  inputs: TfIoInfo[];
  outputs: TfIoInfo[];
}

/** A tfjs weight manifest entry (tf.io.WeightsManifestEntry, the subset Infera writes). */
export interface TfjsWeightSpec {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int32' | 'bool' | 'string';
}

/** What tf.io.fromMemory() needs to load a graph model. */
export interface TfjsGraphArtifacts {
  modelTopology: Record<string, unknown>;
  weightSpecs: TfjsWeightSpec[];
  weightData: ArrayBuffer;
}
