/**
 * Structural and cross-field rules of a model configuration (Triton's ValidateModelConfig,
 * ValidateModelIOConfig and ValidateInstanceGroup, PROTOCOL.md §3, §8.1). Meant for the output of
 * normalizeModelConfig(): it treats an absent field as its proto default, so a raw config whose
 * instance counts or version policy are still unset can report problems normalize would have fixed.
 *
 * Returns every problem rather than the first, each naming the model and the offending field,
 * so one load attempt shows the user everything to fix. Deliberately stricter than Triton in one
 * respect: a tensor name may not be used by both an input and an output.
 * Ensemble data-flow checks (every tensor produced and consumed) belong to the ensemble graph.
 */
import type {
  ModelConfig, ModelDynamicBatching, ModelInput, ModelOutput, ModelSequenceBatching, SequenceControl,
} from './model-config.js';
import { backendForPlatform, ENSEMBLE_PLATFORM } from './model-config-normalize.js';

export interface ValidateOptions {
  /** GPUs available (ids 0..gpuCount-1); KIND_GPU groups need at least one. Default 0. */
  gpuCount?: number;
  /** Why there are no GPUs (e.g. "nvidia-smi was not found"), added to KIND_GPU problems when gpuCount is 0. */
  gpuUnavailableReason?: string;
}

type Report = (message: string) => void;

const WILDCARD_DIM = -1;
const CORRID_TYPES: ReadonlySet<string> = new Set(['TYPE_UINT64', 'TYPE_INT64', 'TYPE_UINT32', 'TYPE_INT32', 'TYPE_STRING']);

/** Every problem found in `config`; an empty array means it is valid. */
export function validateModelConfig(config: ModelConfig, options: ValidateOptions = {}): string[] {
  const problems: string[] = [];
  const name = config.name ?? '';
  const report: Report = (message) => problems.push(`model '${name}': ${message}`);
  if (name === '') report("must specify 'name'");
  checkPlatform(config, report);
  const maxBatchSize = config.max_batch_size ?? 0;
  if (maxBatchSize < 0) report(`'max_batch_size' must be >= 0, got ${maxBatchSize}`);
  const latest = config.version_policy?.latest;
  if (latest !== undefined && (latest.num_versions ?? 0) < 1) {
    report(`version_policy.latest.num_versions must be >= 1, got ${latest.num_versions ?? 0}`);
  }
  checkTensors(config, report);
  checkBatchIO(config, report);
  if (config.dynamic_batching !== undefined) checkDynamicBatching(config.dynamic_batching, maxBatchSize, report);
  if (config.sequence_batching !== undefined) checkSequenceBatching(config, config.sequence_batching, report);
  if (config.model_transaction_policy?.decoupled === true && config.response_cache?.enable === true) {
    report('the response cache cannot be enabled for a decoupled model');
  }
  if (config.platform === ENSEMBLE_PLATFORM || config.ensemble_scheduling !== undefined) {
    checkEnsemble(config, report);
  } else {
    checkInstanceGroups(config, options.gpuCount ?? 0, options.gpuUnavailableReason ?? '', report);
  }
  checkMetrics(config, report);
  return problems;
}

function checkPlatform(config: ModelConfig, report: Report): void {
  const platform = config.platform ?? '';
  const backend = config.backend ?? '';
  if (platform === ENSEMBLE_PLATFORM) {
    if (backend !== '') report(`an ensemble must have platform '${ENSEMBLE_PLATFORM}' and an empty backend, got backend '${backend}'`);
    return;
  }
  if (platform === '' && backend === '') report("must specify 'platform' or 'backend'");
  const expected = backendForPlatform(platform);
  if (expected !== undefined && backend !== '' && backend !== expected) {
    report(`platform '${platform}' is run by backend '${expected}', not '${backend}'`);
  }
}

function checkTensors(config: ModelConfig, report: Report): void {
  const seen = new Map<string, string>();
  const tensors: Array<[string, ModelInput | ModelOutput]> = [
    ...(config.input ?? []).map((t): [string, ModelInput] => ['input', t]),
    ...(config.output ?? []).map((t): [string, ModelOutput] => ['output', t]),
  ];
  tensors.forEach(([role, tensor], index) => {
    const label = tensor.name ? `${role} '${tensor.name}'` : `${role} #${index}`;
    if (!tensor.name) report(`${label} must specify a non-empty 'name'`);
    else if (seen.has(tensor.name)) report(`${label}: the name is already used by an ${seen.get(tensor.name)}`);
    else seen.set(tensor.name, role);
    if ((tensor.data_type ?? 'TYPE_INVALID') === 'TYPE_INVALID') report(`${label} must specify 'data_type'`);
    checkShape(tensor, config.max_batch_size ?? 0, label, report);
    if (role === 'output') checkLabelFile((tensor as ModelOutput).label_filename ?? '', label, report);
  });
}

function checkShape(tensor: ModelInput | ModelOutput, maxBatchSize: number, label: string, report: Report): void {
  const dims = tensor.dims ?? [];
  const reshape = tensor.reshape?.shape;
  if (dims.length === 0 && reshape === undefined) report(`${label} must specify 'dims'`);
  // 0 is a valid (zero-size) dimension: such tensors hold no elements and still flow end to end.
  const badDim = (d: number): boolean => d < 0 && d !== WILDCARD_DIM;
  if (dims.some(badDim)) report(`${label}: every dim must be >= 0, or -1 for a variable-size dimension; got [${dims.join(', ')}]`);
  if (reshape === undefined) return;
  if (reshape.some(badDim)) report(`${label}: every reshape dim must be >= 0 or -1; got [${reshape.join(', ')}]`);
  if (reshape.length === 0 && maxBatchSize === 0) {
    report(`${label} cannot have an empty reshape in a non-batching model: scalar tensors are not supported`);
  }
  if (!dims.some(badDim) && !reshape.some(badDim) && !sameElementCount(dims, reshape)) {
    report(`${label}: dims [${dims.join(', ')}] and reshape [${reshape.join(', ')}] hold different numbers of elements`);
  }
}

/**
 * True when `dims` and `reshape` describe the same number of elements: the products of the runs
 * between variable (-1) dimensions must match pairwise. An empty reshape (a scalar) matches dims
 * of one element.
 */
function sameElementCount(dims: readonly number[], reshape: readonly number[]): boolean {
  const runs = (shape: readonly number[]): number[] => {
    const products = [1];
    for (const d of shape) {
      if (d === WILDCARD_DIM) products.push(1);
      else products[products.length - 1]! *= d;
    }
    return products;
  };
  const a = runs(dims);
  const b = runs(reshape);
  return a.length === b.length && a.every((product, i) => product === b[i]);
}

function checkLabelFile(file: string, label: string, report: Report): void {
  if (file === '') return;
  if (file.startsWith('/') || file.startsWith('\\') || file.split(/[\\/]/).includes('..')) {
    report(`${label}: label_filename '${file}' must be a path inside the model directory`);
  }
}

function checkBatchIO(config: ModelConfig, report: Report): void {
  const inputs = new Set((config.input ?? []).map((t) => t.name));
  const outputs = new Set((config.output ?? []).map((t) => t.name));
  const checkSources = (what: string, sources: string[]): void => {
    if (sources.length !== 1) report(`${what} expects exactly 1 source_input, got ${sources.length}`);
    for (const s of sources) if (!inputs.has(s)) report(`${what} names unknown source input '${s}'`);
  };
  (config.batch_input ?? []).forEach((b, i) => {
    const what = `batch_input #${i} (${b.kind ?? 'BATCH_ELEMENT_COUNT'})`;
    checkSources(what, b.source_input ?? []);
    if (b.data_type !== 'TYPE_INT32' && b.data_type !== 'TYPE_FP32') {
      report(`${what}: data_type must be TYPE_INT32 or TYPE_FP32, got ${b.data_type ?? 'TYPE_INVALID'}`);
    }
  });
  (config.batch_output ?? []).forEach((b, i) => {
    const what = `batch_output #${i}`;
    checkSources(what, b.source_input ?? []);
    const targets = b.target_name ?? [];
    targets.forEach((t, j) => {
      if (!outputs.has(t)) report(`${what} names unknown target output '${t}'`);
      if (targets.indexOf(t) !== j) report(`${what} names target output '${t}' more than once`);
    });
  });
}

function checkPreferredSizes(where: string, sizes: readonly number[], maxBatchSize: number, report: Report): void {
  if (sizes.length > 0 && maxBatchSize <= 0) {
    report(`${where}.preferred_batch_size requires max_batch_size > 0`);
    return;
  }
  for (const size of sizes) {
    if (size <= 0) report(`${where}.preferred_batch_size must be positive, got ${size}`);
    else if (size > maxBatchSize) report(`${where}.preferred_batch_size ${size} exceeds max_batch_size ${maxBatchSize}`);
  }
}

function checkDynamicBatching(dynamic: ModelDynamicBatching, maxBatchSize: number, report: Report): void {
  checkPreferredSizes('dynamic_batching', dynamic.preferred_batch_size ?? [], maxBatchSize, report);
  const levels = dynamic.priority_levels ?? 0;
  const policies = Object.entries(dynamic.priority_queue_policy ?? {});
  if (levels > 0) {
    const level = dynamic.default_priority_level ?? 0;
    if (level < 1 || level > levels) {
      report(`dynamic_batching.default_priority_level must be in [1, ${levels}], got ${level}`);
    }
    for (const [key] of policies) {
      if (BigInt(key) < 1n || BigInt(key) > BigInt(levels)) { // exact: keys and levels may be uint64 beyond 2^53
        report(`dynamic_batching.priority_queue_policy level ${key} is outside [1, ${levels}]`);
      }
    }
  }
  if (dynamic.preserve_ordering === true) {
    if (levels > 1) report('dynamic_batching.preserve_ordering allows only one priority level');
    const all = [dynamic.default_queue_policy ?? {}, ...policies.map(([, p]) => p)];
    if (all.some((p) => p.timeout_action === 'DELAY' && (p.default_timeout_microseconds ?? 0) !== 0)) {
      report('dynamic_batching.preserve_ordering cannot be combined with a DELAY timeout action');
    }
  }
}

function checkSequenceBatching(config: ModelConfig, sequence: ModelSequenceBatching, report: Report): void {
  if (config.response_cache?.enable === true) report('the response cache cannot be enabled with sequence batching');
  if (sequence.oldest !== undefined) {
    checkPreferredSizes('sequence_batching.oldest', sequence.oldest.preferred_batch_size ?? [], config.max_batch_size ?? 0, report);
  }
  const utilization = sequence.direct?.minimum_slot_utilization ?? 0;
  if (utilization < 0 || utilization > 1) {
    report(`sequence_batching.direct.minimum_slot_utilization must be in [0, 1], got ${utilization}`);
  }
  const tensors = new Set<string>();
  const kinds = new Set<string>();
  for (const input of sequence.control_input ?? []) {
    const inputName = input.name ?? '';
    if (inputName === '') report('sequence_batching.control_input must have a name');
    else if (tensors.has(inputName)) report(`sequence_batching control tensor '${inputName}' is given more than once`);
    tensors.add(inputName);
    for (const control of input.control ?? []) {
      const kind = control.kind ?? 'CONTROL_SEQUENCE_START';
      if (kinds.has(kind)) report(`sequence_batching specifies more than one ${kind} control`);
      kinds.add(kind);
      checkControl(control, kind, inputName, report);
    }
  }
  const configInputs = new Set((config.input ?? []).map((t) => t.name ?? ''));
  for (const name of tensors) {
    if (configInputs.has(name)) report(`sequence_batching control tensor '${name}' must not also be listed in 'input': the server supplies it`);
  }
  (sequence.state ?? []).forEach((st, i) => {
    const label = `sequence_batching state #${i}`;
    if (!st.input_name || !st.output_name) report(`${label} must give input_name and output_name`);
    else if (configInputs.has(st.input_name) || tensors.has(st.input_name)) report(`${label}: input_name '${st.input_name}' is already a model input or control tensor`);
    if ((st.data_type ?? 'TYPE_INVALID') === 'TYPE_INVALID') report(`${label} must give a data_type`);
  });
}

function checkControl(control: SequenceControl, kind: string, tensor: string, report: Report): void {
  const lists = [control.int32_false_true ?? [], control.fp32_false_true ?? [], control.bool_false_true ?? []]
    .filter((l) => l.length > 0);
  const where = `sequence_batching control ${kind} on '${tensor}'`;
  if (kind === 'CONTROL_SEQUENCE_CORRID') {
    if (lists.length > 0) report(`${where} must not give int32/fp32/bool_false_true`);
    if (!CORRID_TYPES.has(control.data_type ?? 'TYPE_INVALID')) {
      report(`${where}: data_type must be one of ${[...CORRID_TYPES].join(', ')}`);
    }
    return;
  }
  if (lists.length !== 1) report(`${where} must give exactly one of int32_false_true, fp32_false_true, bool_false_true`);
  else if (lists[0]!.length !== 2) report(`${where}: the false/true list must have exactly 2 entries`);
}

function checkEnsemble(config: ModelConfig, report: Report): void {
  if (config.platform !== ENSEMBLE_PLATFORM) {
    report(`ensemble_scheduling is only allowed with platform '${ENSEMBLE_PLATFORM}'`);
    return;
  }
  if (config.ensemble_scheduling === undefined) report(`platform '${ENSEMBLE_PLATFORM}' requires ensemble_scheduling`);
  if ((config.instance_group ?? []).length > 0) report('an ensemble must not specify instance_group');
  if ((config.model_warmup ?? []).length > 0) report('an ensemble must not specify model_warmup');
  if (config.optimization !== undefined) report('an ensemble must not specify optimization');
  const steps = config.ensemble_scheduling?.step ?? [];
  if (config.ensemble_scheduling !== undefined && steps.length === 0) report("ensemble_scheduling must specify at least one 'step'");
  steps.forEach((step, i) => {
    if (!step.model_name) report(`ensemble step ${i} must specify 'model_name'`);
    if (Object.keys(step.input_map ?? {}).length === 0) report(`ensemble step ${i} must specify 'input_map'`);
    if (Object.keys(step.output_map ?? {}).length === 0) report(`ensemble step ${i} must specify 'output_map'`);
  });
}

function checkInstanceGroups(config: ModelConfig, gpuCount: number, noGpuReason: string, report: Report): void {
  const groups = config.instance_group ?? [];
  if (groups.length === 0) report("must specify at least one 'instance_group'");
  groups.forEach((group, i) => {
    const label = `instance_group '${group.name || `#${i}`}'`;
    const kind = group.kind ?? 'KIND_AUTO';
    const gpus = group.gpus ?? [];
    if ((group.count ?? 0) < 1) report(`${label}: count must be >= 1, got ${group.count ?? 0}`);
    if (kind === 'KIND_AUTO') report(`${label}: kind KIND_AUTO must be resolved (normalize the config first)`);
    if ((kind === 'KIND_CPU' || kind === 'KIND_MODEL') && gpus.length > 0) {
      report(`${label} has kind ${kind} but lists GPUs [${gpus.join(', ')}]`);
    }
    if (kind === 'KIND_GPU') {
      if (gpuCount === 0) report(`${label} has kind KIND_GPU but no GPUs are available${noGpuReason === '' ? '' : ` (${noGpuReason})`}`);
      else if (gpus.length === 0) report(`${label} has kind KIND_GPU but lists no GPUs`);
      const range = gpuCount === 0 ? 'none' : `0..${gpuCount - 1}`;
      for (const id of gpus) if (id < 0 || id >= gpuCount) report(`${label} names unavailable GPU ${id} (available GPU ids: ${range})`);
    }
    if ((group.profile ?? []).length > 0 && config.platform !== 'tensorrt_plan') {
      report(`${label}: 'profile' is only allowed for platform tensorrt_plan`);
    }
  });
}

function checkMetrics(config: ModelConfig, report: Report): void {
  (config.model_metrics?.metric_control ?? []).forEach((control, i) => {
    if (!control.metric_identifier?.family) report(`model_metrics.metric_control #${i} must specify metric_identifier.family`);
    if ((control.histogram_options?.buckets ?? []).length === 0) {
      report(`model_metrics.metric_control #${i} must specify histogram_options.buckets`);
    }
  });
}
