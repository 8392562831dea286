/**
 * The model configuration as the rest of the server sees it: plain objects mirroring
 * `proto/model_config.proto` (Triton's ModelConfig, package `inference`).
 *
 * Representation rules (the parser, the JSON converter and normalize all keep them):
 * - field names are the proto field names (snake_case), never camelCase;
 * - enums are their value names (`'TYPE_FP32'`, `'KIND_CPU'`);
 * - every integer, 64-bit ones included, is a JS `number`; a 64-bit value beyond
 *   Number.MAX_SAFE_INTEGER is rejected when parsed, so every number here is exact;
 * - maps are `Record<string, …>`; a uint64 map key is written as its decimal string;
 * - a oneof is a set of optional fields of which at most one is present;
 * - in the raw parsed form every field is optional: a field is present iff the source set it.
 *
 * See NormalizedModelConfig for what normalizeModelConfig() guarantees to be present.
 */
import { ErrorCode } from '../errors/error-codes.js';
import { InferenceError } from '../errors/inference-error.js';

export type DataType =
  | 'TYPE_INVALID' | 'TYPE_BOOL' | 'TYPE_UINT8' | 'TYPE_UINT16' | 'TYPE_UINT32' | 'TYPE_UINT64'
  | 'TYPE_INT8' | 'TYPE_INT16' | 'TYPE_INT32' | 'TYPE_INT64' | 'TYPE_FP16' | 'TYPE_FP32'
  | 'TYPE_FP64' | 'TYPE_STRING' | 'TYPE_BF16';

/** Datatype names used on the wire by KServe v2 / Triton (PROTOCOL.md §4). */
export type WireDataType =
  | 'BOOL' | 'UINT8' | 'UINT16' | 'UINT32' | 'UINT64' | 'INT8' | 'INT16' | 'INT32' | 'INT64'
  | 'FP16' | 'FP32' | 'FP64' | 'BYTES' | 'BF16';

export type ModelInputFormat = 'FORMAT_NONE' | 'FORMAT_NHWC' | 'FORMAT_NCHW';
export type ModelInstanceGroupKind = 'KIND_AUTO' | 'KIND_GPU' | 'KIND_CPU' | 'KIND_MODEL';
export type SecondaryDeviceKind = 'KIND_NVDLA';
export type BatchInputKind =
  | 'BATCH_ELEMENT_COUNT' | 'BATCH_ACCUMULATED_ELEMENT_COUNT'
  | 'BATCH_ACCUMULATED_ELEMENT_COUNT_WITH_ZERO' | 'BATCH_MAX_ELEMENT_COUNT_AS_SHAPE'
  | 'BATCH_ITEM_SHAPE' | 'BATCH_ITEM_SHAPE_FLATTEN';
export type BatchOutputKind = 'BATCH_SCATTER_WITH_INPUT_SHAPE';
export type ModelPriority = 'PRIORITY_DEFAULT' | 'PRIORITY_MAX' | 'PRIORITY_MIN';
export type TimeoutAction = 'REJECT' | 'DELAY';
export type SequenceControlKind =
  | 'CONTROL_SEQUENCE_START' | 'CONTROL_SEQUENCE_READY' | 'CONTROL_SEQUENCE_END'
  | 'CONTROL_SEQUENCE_CORRID';

export interface ModelTensorReshape { shape?: number[] }

export interface ModelInput {
  name?: string;
  data_type?: DataType;
  format?: ModelInputFormat;
  dims?: number[];
  reshape?: ModelTensorReshape;
  is_shape_tensor?: boolean;
  allow_ragged_batch?: boolean;
  optional?: boolean;
  is_non_linear_format_io?: boolean;
}

export interface ModelOutput {
  name?: string;
  data_type?: DataType;
  dims?: number[];
  reshape?: ModelTensorReshape;
  label_filename?: string;
  is_shape_tensor?: boolean;
  is_non_linear_format_io?: boolean;
}

export interface BatchInput {
  kind?: BatchInputKind;
  target_name?: string[];
  data_type?: DataType;
  source_input?: string[];
}

export interface BatchOutput {
  target_name?: string[];
  kind?: BatchOutputKind;
  source_input?: string[];
}

/** Oneof policy_choice: at most one of latest / all / specific. */
export interface ModelVersionPolicy {
  latest?: { num_versions?: number };
  all?: Record<string, never>;
  specific?: { versions?: number[] };
}

export interface ModelRateLimiterResource { name?: string; global?: boolean; count?: number }
export interface ModelRateLimiter { resources?: ModelRateLimiterResource[]; priority?: number }
export interface SecondaryDevice { kind?: SecondaryDeviceKind; device_id?: number }

export interface ModelInstanceGroup {
  name?: string;
  kind?: ModelInstanceGroupKind;
  count?: number;
  rate_limiter?: ModelRateLimiter;
  gpus?: number[];
  secondary_devices?: SecondaryDevice[];
  profile?: string[];
  passive?: boolean;
  host_policy?: string;
}

export interface GraphSpecShape { dim?: number[] }
export interface GraphSpecLowerBound { batch_size?: number; input?: Record<string, GraphSpecShape> }
export interface CudaGraphSpec {
  batch_size?: number;
  input?: Record<string, GraphSpecShape>;
  graph_lower_bound?: GraphSpecLowerBound;
}
export interface ExecutionAccelerator { name?: string; parameters?: Record<string, string> }
export interface PinnedMemoryBuffer { enable?: boolean }

export interface ModelOptimizationPolicy {
  graph?: { level?: number };
  priority?: ModelPriority;
  cuda?: {
    graphs?: boolean;
    busy_wait_events?: boolean;
    graph_spec?: CudaGraphSpec[];
    output_copy_stream?: boolean;
  };
  execution_accelerators?: {
    gpu_execution_accelerator?: ExecutionAccelerator[];
    cpu_execution_accelerator?: ExecutionAccelerator[];
  };
  input_pinned_memory?: PinnedMemoryBuffer;
  output_pinned_memory?: PinnedMemoryBuffer;
  gather_kernel_buffer_threshold?: number;
  eager_batching?: boolean;
}

/**
 * A uint64 config value: a number up to 2^53 - 1, an exact bigint beyond it (e.g. Triton's
 * 18446744073709551615 for "no limit"). Use Number(v) where only the magnitude matters.
 */
export type Uint64 = number | bigint;

export interface ModelQueuePolicy {
  timeout_action?: TimeoutAction;
  default_timeout_microseconds?: Uint64;
  allow_timeout_override?: boolean;
  max_queue_size?: number;
}

export interface ModelDynamicBatching {
  preferred_batch_size?: number[];
  max_queue_delay_microseconds?: Uint64;
  preserve_ordering?: boolean;
  priority_levels?: Uint64;
  default_priority_level?: Uint64;
  default_queue_policy?: ModelQueuePolicy;
  /** Keyed by priority level as a decimal string ("1", "2", …). */
  priority_queue_policy?: Record<string, ModelQueuePolicy>;
}

export interface SequenceStrategyDirect {
  max_queue_delay_microseconds?: Uint64;
  minimum_slot_utilization?: number;
}

export interface SequenceStrategyOldest {
  max_candidate_sequences?: number;
  preferred_batch_size?: number[];
  max_queue_delay_microseconds?: Uint64;
  preserve_ordering?: boolean;
}

export interface SequenceControl {
  kind?: SequenceControlKind;
  int32_false_true?: number[];
  fp32_false_true?: number[];
  bool_false_true?: boolean[];
  data_type?: DataType;
}

export interface SequenceControlInput { name?: string; control?: SequenceControl[] }

/** Oneof state_data: at most one of zero_data / data_file. */
export interface SequenceInitialState {
  data_type?: DataType;
  dims?: number[];
  zero_data?: boolean;
  data_file?: string;
  name?: string;
}

export interface SequenceState {
  input_name?: string;
  output_name?: string;
  data_type?: DataType;
  dims?: number[];
  initial_state?: SequenceInitialState[];
  use_same_buffer_for_input_output?: boolean;
  use_growable_memory?: boolean;
}

/** Oneof strategy_choice: at most one of direct / oldest. */
export interface ModelSequenceBatching {
  direct?: SequenceStrategyDirect;
  oldest?: SequenceStrategyOldest;
  max_sequence_idle_microseconds?: Uint64;
  control_input?: SequenceControlInput[];
  state?: SequenceState[];
  iterative_sequence?: boolean;
}

export interface EnsembleStep {
  model_name?: string;
  /** -1 means the latest version. */
  model_version?: number;
  /** Step-model input name → ensemble tensor name. */
  input_map?: Record<string, string>;
  /** Step-model output name → ensemble tensor name. */
  output_map?: Record<string, string>;
  model_namespace?: string;
}

export interface ModelEnsembling { step?: EnsembleStep[]; max_inflight_requests?: number }
export interface ModelParameter { string_value?: string }

/** Oneof input_data_type: at most one of zero_data / random_data / input_data_file. */
export interface ModelWarmupInput {
  data_type?: DataType;
  dims?: number[];
  zero_data?: boolean;
  random_data?: boolean;
  input_data_file?: string;
}

export interface ModelWarmup {
  name?: string;
  batch_size?: number;
  inputs?: Record<string, ModelWarmupInput>;
  count?: number;
}

export interface ModelOperations { op_library_filename?: string[] }
export interface ModelTransactionPolicy { decoupled?: boolean }
export interface ModelRepositoryAgent { name?: string; parameters?: Record<string, string> }
export interface ModelRepositoryAgents { agents?: ModelRepositoryAgent[] }
export interface ModelResponseCache { enable?: boolean }

export interface MetricControl {
  metric_identifier?: { family?: string };
  /** The only member of oneof metric_options. */
  histogram_options?: { buckets?: number[] };
}

export interface ModelMetrics { metric_control?: MetricControl[] }

/** Oneof scheduling_choice: at most one of dynamic_batching / sequence_batching / ensemble_scheduling. */
export interface ModelConfig {
  name?: string;
  platform?: string;
  backend?: string;
  runtime?: string;
  version_policy?: ModelVersionPolicy;
  max_batch_size?: number;
  input?: ModelInput[];
  output?: ModelOutput[];
  batch_input?: BatchInput[];
  batch_output?: BatchOutput[];
  optimization?: ModelOptimizationPolicy;
  dynamic_batching?: ModelDynamicBatching;
  sequence_batching?: ModelSequenceBatching;
  ensemble_scheduling?: ModelEnsembling;
  instance_group?: ModelInstanceGroup[];
  default_model_filename?: string;
  cc_model_filenames?: Record<string, string>;
  metric_tags?: Record<string, string>;
  parameters?: Record<string, ModelParameter>;
  model_warmup?: ModelWarmup[];
  model_operations?: ModelOperations;
  model_transaction_policy?: ModelTransactionPolicy;
  model_repository_agents?: ModelRepositoryAgents;
  response_cache?: ModelResponseCache;
  model_metrics?: ModelMetrics;
}

/** An instance group after normalization: kind is resolved (never KIND_AUTO), count ≥ 1 unless invalid. */
export interface NormalizedInstanceGroup extends ModelInstanceGroup {
  name: string;
  kind: Exclude<ModelInstanceGroupKind, 'KIND_AUTO'>;
  count: number;
  gpus: number[];
}

/**
 * What normalizeModelConfig() returns (deep-frozen). Guaranteed present: name, platform and backend
 * (either may be '' when unknown; backend is '' for ensembles), default_model_filename ('' for
 * ensembles), version_policy, max_batch_size, input, output, instance_group (empty for ensembles),
 * batch_input, batch_output, parameters. Non-ensembles also get optimization with both pinned-memory
 * settings present.
 */
export interface NormalizedModelConfig extends ModelConfig {
  name: string;
  platform: string;
  backend: string;
  default_model_filename: string;
  version_policy: ModelVersionPolicy;
  max_batch_size: number;
  input: ModelInput[];
  output: ModelOutput[];
  batch_input: BatchInput[];
  batch_output: BatchOutput[];
  instance_group: NormalizedInstanceGroup[];
  parameters: Record<string, ModelParameter>;
}

const CONFIG_TO_WIRE: Readonly<Record<Exclude<DataType, 'TYPE_INVALID'>, WireDataType>> = {
  TYPE_BOOL: 'BOOL', TYPE_UINT8: 'UINT8', TYPE_UINT16: 'UINT16', TYPE_UINT32: 'UINT32',
  TYPE_UINT64: 'UINT64', TYPE_INT8: 'INT8', TYPE_INT16: 'INT16', TYPE_INT32: 'INT32',
  TYPE_INT64: 'INT64', TYPE_FP16: 'FP16', TYPE_FP32: 'FP32', TYPE_FP64: 'FP64',
  TYPE_STRING: 'BYTES', TYPE_BF16: 'BF16',
};

const WIRE_TO_CONFIG: ReadonlyMap<string, DataType> = new Map(
  Object.entries(CONFIG_TO_WIRE).map(([config, wire]) => [wire, config as DataType]),
);

/** Every config datatype name, TYPE_INVALID first, in enum-number order. */
export const CONFIG_DATA_TYPES: readonly DataType[] = Object.freeze([
  'TYPE_INVALID', ...(Object.keys(CONFIG_TO_WIRE) as DataType[]),
]);

/**
 * Config datatype → wire datatype (`TYPE_STRING` → `BYTES`). TYPE_INVALID has no wire name:
 * it throws INVALID_ARG, which validateModelConfig() prevents for validated configs.
 */
export function configDataTypeToWire(dataType: DataType): WireDataType {
  const wire = (CONFIG_TO_WIRE as Record<string, WireDataType | undefined>)[dataType];
  if (wire === undefined) {
    throw new InferenceError(ErrorCode.INVALID_ARG, `datatype '${dataType}' has no wire datatype`);
  }
  return wire;
}

/**
 * Wire datatype → config datatype (`BYTES` → `TYPE_STRING`). Case-sensitive and exact, as in
 * Triton; unknown strings give 'TYPE_INVALID' so callers can word their own error.
 */
export function wireToConfigDataType(wire: string): DataType {
  return WIRE_TO_CONFIG.get(wire) ?? 'TYPE_INVALID';
}
