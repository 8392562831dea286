/**
 * The per-model facts request validation needs, derived once from the normalized config when a
 * version loads, so the hot path never re-reads the config or re-parses datatype names.
 */
import type { ModelConfig } from '../config/model-config.js';
import { configTypeToWire, type DataType } from './datatype.js';
import { errors } from '../errors/catalogue.js';

export interface TensorSpec {
  readonly name: string;
  readonly datatype: DataType;
  /** Config dims: without the batch dimension when the model batches; -1 = any size. */
  readonly dims: readonly number[];
  readonly optional: boolean;
}

export interface ModelSignature {
  readonly name: string;
  readonly version: string;
  /** 0 = the model does not batch; requests carry the full shape. */
  readonly maxBatchSize: number;
  readonly inputs: readonly TensorSpec[];
  readonly outputs: readonly TensorSpec[];
  readonly inputByName: ReadonlyMap<string, TensorSpec>;
  readonly outputByName: ReadonlyMap<string, TensorSpec>;
  /** Output name → labels (line i = class i), for outputs with label_filename. */
  readonly labels: ReadonlyMap<string, readonly string[]>;
  readonly platform: string;
}

interface IoLike {
  name?: string;
  data_type?: string;
  dims?: number[];
  optional?: boolean;
}

function toSpec(model: string, io: IoLike, kind: 'input' | 'output'): TensorSpec {
  const datatype = configTypeToWire(io.data_type);
  if (datatype === undefined) {
    throw errors.invalidArg(`${kind} '${io.name ?? ''}' of model '${model}' has invalid data_type '${io.data_type ?? ''}'`);
  }
  return Object.freeze({
    name: io.name ?? '',
    datatype,
    dims: Object.freeze([...(io.dims ?? [])]),
    optional: kind === 'input' && io.optional === true,
  });
}

export function buildModelSignature(
  config: Readonly<ModelConfig>,
  version: number,
  labels: ReadonlyMap<string, readonly string[]> = new Map(),
): ModelSignature {
  const name = config.name ?? '';
  const inputs = (config.input ?? []).map((i) => toSpec(name, i, 'input'));
  const outputs = (config.output ?? []).map((o) => toSpec(name, o, 'output'));
  return Object.freeze({
    name,
    version: String(version),
    maxBatchSize: config.max_batch_size ?? 0,
    inputs: Object.freeze(inputs),
    outputs: Object.freeze(outputs),
    inputByName: new Map(inputs.map((s) => [s.name, s])),
    outputByName: new Map(outputs.map((s) => [s.name, s])),
    labels,
    platform: config.platform ?? '',
  });
}

/** Shape as ModelMetadata reports it: [-1] + dims when the model batches (PROTOCOL.md §5.2). */
export function metadataShape(sig: ModelSignature, spec: TensorSpec): number[] {
  return sig.maxBatchSize > 0 ? [-1, ...spec.dims] : [...spec.dims];
}
