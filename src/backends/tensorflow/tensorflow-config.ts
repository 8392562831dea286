/**
 * The model config as the TensorFlow backends read it: parameters, tensor specs, and the checks
 * of a config against what the model itself declares (signature or TF.js topology).
 *
 *   parameters { key: "TF_SIGNATURE_DEF" value: { string_value: "timestwo" } }  default serving_default
 *   parameters { key: "TF_GRAPH_TAG"     value: { string_value: "serve" } }     default serve
 *   parameters { key: "TF_RUNTIME"       value: { string_value: "wasm" } }
 *       auto (default) | tfjs-node-gpu | tfjs-node | webgpu | wasm | cpu   (see tensorflow-runtime.ts)
 *
 * TF_SIGNATURE_DEF and TF_GRAPH_TAG are Triton's TensorFlow backend's names; they only apply to
 * SavedModels. Shape rules follow the ONNX backend: a -1 in the model matches any config dim; a
 * model scalar is served with config dims [1]; with max_batch_size > 0 the model's first dim must
 * be -1 and the config dims describe the rest.
 */
import type { DataType } from '../../core/datatype.js';
import { elementCount } from '../../core/datatype.js';
import { configDataTypeToWire, type ModelConfig, type ModelInput, type ModelOutput } from '../../config/model-config.js';
import { ErrorCode } from '../../errors/error-codes.js';
import { InferenceError } from '../../errors/inference-error.js';
import { isRuntimePreference, RUNTIMES, type TfRuntimePreference } from './tensorflow-runtime-name.js';
import type { TfIoInfo, TfModelIo } from './tf-io.js';

export const DEFAULT_SIGNATURE = 'serving_default';
export const DEFAULT_TAG = 'serve';

/** A config input or output as the runner checks and uses it. */
export interface TfTensorSpec {
  name: string;
  datatype: DataType;
  dims: number[];
  reshape?: number[];
}

export interface TfConfigParameters {
  signature: string;
  tag: string;
  runtime: TfRuntimePreference;
}

function stringParameter(config: Readonly<ModelConfig>, key: string): string | undefined {
  const v = config.parameters?.[key]?.string_value;
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}

/** The backend parameters of `config`. Throws INVALID_ARG for an unknown TF_RUNTIME. */
export function tfParameters(config: Readonly<ModelConfig>): TfConfigParameters {
  const runtime = stringParameter(config, 'TF_RUNTIME') ?? 'auto';
  if (!isRuntimePreference(runtime)) {
    throw new InferenceError(ErrorCode.INVALID_ARG,
      `parameter 'TF_RUNTIME' must be one of auto, ${RUNTIMES.join(', ')}; got '${runtime}'`);
  }
  return {
    signature: stringParameter(config, 'TF_SIGNATURE_DEF') ?? DEFAULT_SIGNATURE,
    tag: stringParameter(config, 'TF_GRAPH_TAG') ?? DEFAULT_TAG,
    runtime,
  };
}

function tensorSpec(t: ModelInput | ModelOutput): TfTensorSpec {
  const spec: TfTensorSpec = {
    name: t.name ?? '', datatype: configDataTypeToWire(t.data_type ?? 'TYPE_INVALID'), dims: [...(t.dims ?? [])],
  };
  if (t.reshape !== undefined) spec.reshape = [...(t.reshape.shape ?? [])];
  return spec;
}

export function tensorSpecsFromConfig(config: Readonly<ModelConfig>): { inputs: TfTensorSpec[]; outputs: TfTensorSpec[] } {
  return { inputs: (config.input ?? []).map(tensorSpec), outputs: (config.output ?? []).map(tensorSpec) };
}

function fmt(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}

/** A rank-0 model tensor served with config dims [1] and no reshape (not batching). */
export function isUnreshapedScalar(spec: TfTensorSpec, info: TfIoInfo, batching: boolean): boolean {
  return !batching && info.shape !== undefined && info.shape.length === 0 && spec.reshape === undefined
    && spec.dims.length === 1 && spec.dims[0] === 1;
}

/** Why `spec` cannot feed/fetch `info`, or undefined when compatible. */
export function incompatibility(spec: TfTensorSpec, info: TfIoInfo, batching: boolean): string | undefined {
  if (info.datatype === undefined) return `the model's type is ${info.sourceType}, which this backend cannot serve`;
  if (info.datatype !== spec.datatype) return `expected datatype ${spec.datatype} but the model's is ${info.datatype} (${info.sourceType})`;
  const shape = info.shape;
  if (shape === undefined || isUnreshapedScalar(spec, info, batching)) return undefined;
  if (batching && (shape.length === 0 || shape[0] !== -1)) {
    return `max_batch_size > 0 needs a variable first dimension but the model's shape is ${fmt(shape)}`;
  }
  const inner = spec.reshape ?? spec.dims;
  const expected = batching ? [-1, ...inner] : inner;
  const mismatch = expected.length !== shape.length || shape.some((d, i) => d !== -1 && d !== expected[i]);
  return mismatch
    ? `expected shape ${fmt(expected)} (config dims${batching ? ' after the batch dim' : ''}${spec.reshape ? ', reshaped' : ''}) but the model's is ${fmt(shape)}`
    : undefined;
}

/** Every way the config disagrees with the model's declared inputs and outputs. */
export function configProblems(specs: { inputs: TfTensorSpec[]; outputs: TfTensorSpec[] }, io: TfModelIo, batching: boolean): string[] {
  const problems: string[] = [];
  const check = (kind: 'input' | 'output', list: TfTensorSpec[], infos: TfIoInfo[]): void => {
    const byName = new Map(infos.map((m) => [m.name, m]));
    for (const spec of list) {
      const info = byName.get(spec.name);
      const why = info === undefined
        ? `the model has no such ${kind} (model ${kind}s: ${infos.map((m) => m.name).join(', ') || 'none'})`
        : incompatibility(spec, info, batching);
      if (why !== undefined) problems.push(`${kind} '${spec.name}': ${why}`);
    }
  };
  check('input', specs.inputs, io.inputs);
  check('output', specs.outputs, io.outputs);
  const configured = new Set(specs.inputs.map((s) => s.name));
  for (const m of io.inputs) {
    if (!configured.has(m.name)) problems.push(`input '${m.name}': the model requires it but the configuration does not list it`);
  }
  return problems;
}

/** The shape to feed the model for a request tensor of shape `shape`. */
export function feedShape(spec: TfTensorSpec, info: TfIoInfo, shape: number[], batching: boolean): number[] {
  if (spec.reshape !== undefined) return batching ? [shape[0] ?? 0, ...spec.reshape] : [...spec.reshape];
  if (isUnreshapedScalar(spec, info, batching)) return [];
  return shape;
}

/** The model's output shape, except that reshaped and rank-0 outputs are reported in config dims. */
export function reportedShape(spec: TfTensorSpec, dims: readonly number[], batching: boolean): number[] {
  if (spec.reshape === undefined && !(dims.length === 0 && !batching)) return [...dims];
  const want = batching ? [dims[0] ?? 0, ...spec.dims] : [...spec.dims];
  return want.every((d) => d >= 0) && elementCount(want) === elementCount(dims) ? want : [...dims];
}
