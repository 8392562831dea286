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
import { sequenceInputs, sequenceOutputs } from '../../config/sequence-tensors.js';
import type { DataType } from '../../core/datatype.js';
import { configDataTypeToWire, type ModelConfig, type ModelInput, type ModelOutput } from '../../config/model-config.js';
import { ErrorCode } from '../../errors/error-codes.js';
import { InferenceError } from '../../errors/inference-error.js';
import { configProblems as sharedConfigProblems } from '../config-vs-model.js';
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
  return {
    inputs: [...(config.input ?? []), ...sequenceInputs(config)].map(tensorSpec),
    outputs: [...(config.output ?? []), ...sequenceOutputs(config)].map(tensorSpec),
  };
}

/** Every way the config disagrees with the model's declared inputs and outputs. */
export function configProblems(specs: { inputs: TfTensorSpec[]; outputs: TfTensorSpec[] }, io: TfModelIo, batching: boolean): string[] {
  return sharedConfigProblems(specs, io, batching, { sourceType: (m: TfIoInfo) => m.sourceType, noteSourceTypeOnMismatch: true });
}

