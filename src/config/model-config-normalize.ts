/**
 * Fills in the defaults Triton adds to a model configuration (PROTOCOL.md §3.3, §3.4, §8.1), so
 * the rest of the server and the ModelConfig / `/config` responses see the same values Triton
 * would report. Run it once per load, after parsing and before validateModelConfig().
 *
 * Choices where Triton's docs and code differ (we follow the code):
 * - An instance group with no count gets 2 instances when it is KIND_CPU and the backend is
 *   `onnxruntime` or `tensorflow`, else 1 (Triton's docs say 1 everywhere).
 * - When instance_group is absent, the one group filled in is named after the model itself;
 *   groups given without a name are named `<model>_<index>`.
 * Platform/backend are only derived from each other and from default_model_filename; guessing
 * them from a version directory's contents is the repository's job (auto-complete, §8.3).
 */
import { ErrorCode } from '../errors/error-codes.js';
import { InferenceError } from '../errors/inference-error.js';
import type {
  ModelConfig, ModelInstanceGroup, NormalizedInstanceGroup, NormalizedModelConfig,
} from './model-config.js';

export interface NormalizeOptions {
  /** The model's directory name; the config's name must equal it (or be empty). */
  modelName: string;
  /** GPUs available to the server (ids 0..gpuCount-1). Default 0: KIND_AUTO resolves to KIND_CPU. */
  gpuCount?: number;
}

export const ENSEMBLE_PLATFORM = 'ensemble';
export const DEFAULT_SEQUENCE_IDLE_MICROSECONDS = 1_000_000;

/** Platform → backend that runs it. */
const PLATFORM_BACKEND: ReadonlyMap<string, string> = new Map([
  ['onnxruntime_onnx', 'onnxruntime'],
  ['tensorflow_savedmodel', 'tensorflow'],
  ['tensorflow_graphdef', 'tensorflow'],
  ['tensorflowjs_graph', 'tensorflowjs'],
  ['tensorflowjs_layers', 'tensorflowjs'],
  ['tensorrt_plan', 'tensorrt'],
  ['pytorch_libtorch', 'pytorch'],
  ['torch_aoti', 'pytorch'],
]);

/** Backend → platform assumed when only the backend is given (TF needs the file name to tell). */
const BACKEND_PLATFORM: ReadonlyMap<string, string> = new Map([
  ['onnxruntime', 'onnxruntime_onnx'],
  ['tensorrt', 'tensorrt_plan'],
  ['pytorch', 'pytorch_libtorch'],
]);

/** Default model file (or directory) name in a version directory, by platform then by backend. */
const PLATFORM_FILE: ReadonlyMap<string, string> = new Map([
  ['onnxruntime_onnx', 'model.onnx'],
  ['tensorflow_savedmodel', 'model.savedmodel'],
  ['tensorflow_graphdef', 'model.graphdef'],
  ['tensorflowjs_graph', 'model.json'],
  ['tensorflowjs_layers', 'model.json'],
  ['tensorrt_plan', 'model.plan'],
  ['pytorch_libtorch', 'model.pt'],
  ['torch_aoti', 'model.pt2'],
]);
const BACKEND_FILE: ReadonlyMap<string, string> = new Map([
  ['onnxruntime', 'model.onnx'],
  ['tensorflowjs', 'model.json'],
  ['tensorrt', 'model.plan'],
  ['pytorch', 'model.pt'],
  ['openvino', 'model.xml'],
  ['python', 'model.py'],
  ['typescript', 'model.ts'],
  // SavedModel or GraphDef: unknowable without the platform, so left empty for auto-complete.
  ['tensorflow', ''],
]);
const TF_FILE_PLATFORM: ReadonlyMap<string, string> = new Map([
  ['model.savedmodel', 'tensorflow_savedmodel'],
  ['model.graphdef', 'tensorflow_graphdef'],
]);

/** The backend that runs `platform`, or undefined for platforms this table does not know. */
export function backendForPlatform(platform: string): string | undefined {
  return PLATFORM_BACKEND.get(platform);
}

/** True for ensembles: platform `ensemble` or an ensemble_scheduling section. */
export function isEnsemble(config: ModelConfig): boolean {
  return config.platform === ENSEMBLE_PLATFORM || config.ensemble_scheduling !== undefined;
}

/** Returns a new, deep-frozen config with Triton's defaults filled in; never mutates `config`. */
export function normalizeModelConfig(config: ModelConfig, options: NormalizeOptions): NormalizedModelConfig {
  const out = structuredClone(config) as ModelConfig;
  out.name = checkedName(out.name, options.modelName);
  fillPlatformAndBackend(out);
  out.version_policy ??= { latest: { num_versions: 1 } };
  out.max_batch_size ??= 0;
  out.input ??= [];
  out.output ??= [];
  out.batch_input ??= [];
  out.batch_output ??= [];
  out.parameters ??= {};
  fillScheduling(out);
  if (isEnsemble(out)) {
    out.instance_group ??= [];
  } else {
    const optimization = (out.optimization ??= {});
    optimization.input_pinned_memory ??= { enable: true };
    optimization.output_pinned_memory ??= { enable: true };
    out.instance_group = normalizeInstanceGroups(out, options.gpuCount ?? 0);
  }
  return deepFreeze(out as NormalizedModelConfig);
}

function checkedName(name: string | undefined, modelName: string): string {
  if (name === undefined || name === '') return modelName;
  if (name !== modelName) {
    throw new InferenceError(
      ErrorCode.INVALID_ARG,
      `model configuration name '${name}' does not match its directory name '${modelName}'; they must be equal`,
    );
  }
  return name;
}

function fillPlatformAndBackend(config: ModelConfig): void {
  let platform = config.platform ?? '';
  let backend = config.backend ?? '';
  let file = config.default_model_filename ?? '';
  if (platform === '' && (backend === '' || backend === 'tensorflow')) platform = TF_FILE_PLATFORM.get(file) ?? '';
  if (platform === '' && backend === 'pytorch' && file === 'model.pt2') platform = 'torch_aoti';
  if (backend === '' && platform !== ENSEMBLE_PLATFORM) backend = PLATFORM_BACKEND.get(platform) ?? '';
  if (platform === '') platform = BACKEND_PLATFORM.get(backend) ?? '';
  if (file === '' && platform !== ENSEMBLE_PLATFORM) {
    file = PLATFORM_FILE.get(platform) ?? BACKEND_FILE.get(backend) ?? (backend === '' ? '' : `model.${backend}`);
  }
  config.platform = platform;
  config.backend = backend;
  config.default_model_filename = file;
}

function fillScheduling(config: ModelConfig): void {
  const maxBatchSize = config.max_batch_size ?? 0;
  const dynamic = config.dynamic_batching;
  if (dynamic !== undefined && (dynamic.preferred_batch_size ?? []).length === 0 && maxBatchSize > 0) {
    dynamic.preferred_batch_size = [maxBatchSize];
  }
  const sequence = config.sequence_batching;
  if (sequence === undefined) return;
  if ((sequence.max_sequence_idle_microseconds ?? 0) === 0) {
    sequence.max_sequence_idle_microseconds = DEFAULT_SEQUENCE_IDLE_MICROSECONDS;
  }
  const oldest = sequence.oldest;
  if (oldest !== undefined && (oldest.preferred_batch_size ?? []).length === 0 && maxBatchSize > 0) {
    oldest.preferred_batch_size = [maxBatchSize];
  }
}

function normalizeInstanceGroups(config: ModelConfig, gpuCount: number): NormalizedInstanceGroup[] {
  const modelName = config.name!;
  const groups: ModelInstanceGroup[] = config.instance_group?.length
    ? config.instance_group
    : [{ name: modelName, kind: gpuCount > 0 ? 'KIND_GPU' : 'KIND_CPU' }];
  return groups.map((group, index) => {
    const gpus = group.gpus ?? [];
    let kind = group.kind ?? 'KIND_AUTO';
    if (kind === 'KIND_AUTO') {
      const allListedExist = gpus.every((id) => id >= 0 && id < gpuCount);
      kind = gpuCount > 0 && allListedExist ? 'KIND_GPU' : 'KIND_CPU';
    }
    const count = (group.count ?? 0) >= 1 ? group.count! : defaultInstanceCount(kind, config.backend ?? '');
    const allGpus = Array.from({ length: gpuCount }, (_, id) => id);
    return {
      ...group,
      name: group.name || `${modelName}_${index}`,
      kind,
      count,
      gpus: kind === 'KIND_GPU' && gpus.length === 0 ? allGpus : gpus,
    };
  });
}

function defaultInstanceCount(kind: NormalizedInstanceGroup['kind'], backend: string): number {
  return kind === 'KIND_CPU' && (backend === 'onnxruntime' || backend === 'tensorflow') ? 2 : 1;
}

/** Freezes `value` and everything reachable from it; returns it. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
