/**
 * The `onnxruntime` backend (platform `onnxruntime_onnx`). Every instance is a worker thread
 * running onnxruntime-runner.ts through the generic host (workers/); the main thread never loads
 * ORT. Session options come from the config, with Triton's ORT backend parameter names:
 *
 *   parameters { key: "intra_op_thread_count" value: { string_value: "2" } }   default: see below
 *   parameters { key: "inter_op_thread_count" value: { string_value: "1" } }   default 1
 *   parameters { key: "execution_mode"        value: { string_value: "0" } }   0 sequential, 1 parallel
 *   optimization { graph { level: L } }   Triton's mapping: -1 → basic, 1 → extended,
 *                                         2 → disabled, anything else (0, unset) → all
 *
 * Default intra-op threads: the instances of one model must not oversubscribe the CPU, so each
 * gets max(1, floor(availableParallelism / total instances of the model)); "0" lets ORT choose.
 *
 * Hosting: every instance is one ORT session on a worker of the shared pool (workers/worker-pool.ts),
 * or on a worker of its own with `parameters { key: "dedicated_worker" ... "true" }`
 * (instance-hosting.ts). ORT's run is synchronous on the worker's thread, so sessions sharing a
 * worker take turns; the pool puts the instances of one model on different workers.
 *
 * Execution providers (CPU, CUDA, TensorRT, WebGPU) per instance: see gpu/onnxruntime-providers.ts.
 * A KIND_GPU instance whose provider cannot start fails to load with the provider's own error.
 */
import { stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type { Backend, BackendModel, InstanceContext, ModelInstance, ModelLoadContext } from '../backend.js';
import { configDataTypeToWire, type ModelConfig, type ModelInput, type ModelOutput } from '../../config/model-config.js';
import { sequenceInputs, sequenceOutputs } from '../../config/sequence-tensors.js';
import { ErrorCode } from '../../errors/error-codes.js';
import { InferenceError } from '../../errors/inference-error.js';
import { workerTuning, type WorkerTuning } from '../../workers/worker-instance-proxy.js';
import { dedicatedWorkerRequested } from '../instance-hosting.js';
import { autoCompleteOnnxConfig, DEFAULT_MAX_BATCH_SIZE } from './onnxruntime-autocomplete.js';
import type { OnnxRunnerInit, OnnxSessionOptions, TensorSpec } from './onnxruntime-runner.js';
import { ONNXRUNTIME_RUNNER_URL } from './onnxruntime-types.js';
import { disableOnnxruntimeTelemetry } from './onnxruntime-env.js';
import {
  describeExecutionProviders, EXECUTION_PROVIDER_PARAMETER, ortCudaProviderInstalled, planOrtProviders,
  requestedGpuAccelerator, type GpuAccelerator,
} from '../gpu/onnxruntime-providers.js';
import { WorkerInstances } from '../worker-instances.js';

export interface OnnxruntimeBackendOptions extends WorkerTuning {
  /** Auto-complete's max_batch_size for batchable models (Triton's default-max-batch-size); default 4. */
  defaultMaxBatchSize?: number;
  /** CPUs to share between a model's instances; default os.availableParallelism(). */
  cpuCount?: number;
  /** Whether onnxruntime-node's CUDA provider is installed; default: look for its library (tests override). */
  cudaProviderInstalled?: boolean;
}

function parseIntParameter(config: Readonly<ModelConfig>, key: string, min: number): number | undefined {
  const raw = config.parameters?.[key]?.string_value;
  if (raw === undefined) return undefined;
  const value = /^\s*-?\d+\s*$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min) {
    throw new InferenceError(ErrorCode.INVALID_ARG,
      `parameter '${key}' must be an integer >= ${min}, got '${raw}'`);
  }
  return value;
}

function graphOptimizationLevel(level: number | undefined): OnnxSessionOptions['graphOptimizationLevel'] {
  switch (level) {
    case -1: return 'basic';
    case 1: return 'extended';
    case 2: return 'disabled';
    default: return 'all';
  }
}

/** Instances the config asks for: count per group, times its GPUs for KIND_GPU (1 when there are no groups). */
export function totalInstanceCount(config: Readonly<ModelConfig>): number {
  const groups = config.instance_group ?? [];
  const perGroup = (g: (typeof groups)[number]): number => (g.kind === 'KIND_GPU' ? Math.max(1, g.gpus?.length ?? 1) : 1);
  const total = groups.reduce((n, g) => n + Math.max(0, g.count ?? 1) * perGroup(g), 0);
  return Math.max(1, total);
}

/** ORT session options for one instance of `config`. Throws INVALID_ARG for bad parameters. */
export function sessionOptionsFromConfig(config: Readonly<ModelConfig>, cpuCount: number): OnnxSessionOptions {
  const mode = parseIntParameter(config, 'execution_mode', 0);
  if (mode !== undefined && mode > 1) {
    throw new InferenceError(ErrorCode.INVALID_ARG, `parameter 'execution_mode' must be 0 or 1, got ${mode}`);
  }
  const fairShare = Math.max(1, Math.floor(cpuCount / totalInstanceCount(config)));
  return {
    intraOpNumThreads: parseIntParameter(config, 'intra_op_thread_count', 0) ?? fairShare,
    interOpNumThreads: parseIntParameter(config, 'inter_op_thread_count', 0) ?? 1,
    executionMode: mode === 1 ? 'parallel' : 'sequential',
    graphOptimizationLevel: graphOptimizationLevel(config.optimization?.graph?.level),
  };
}

function tensorSpec(kind: 'input' | 'output', t: ModelInput | ModelOutput): TensorSpec {
  const name = t.name ?? '';
  const datatype = configDataTypeToWire(t.data_type ?? 'TYPE_INVALID');
  if (datatype === 'BF16') {
    throw new InferenceError(ErrorCode.UNSUPPORTED, `${kind} '${name}' has datatype TYPE_BF16, which onnxruntime does not support`);
  }
  const spec: TensorSpec = { name, datatype, dims: [...(t.dims ?? [])] };
  if (t.reshape !== undefined) spec.reshape = [...(t.reshape.shape ?? [])];
  return spec;
}

/** The config's inputs and outputs as the runner checks and uses them. */
export function tensorSpecsFromConfig(config: Readonly<ModelConfig>): { inputs: TensorSpec[]; outputs: TensorSpec[] } {
  return {
    inputs: [...(config.input ?? []), ...sequenceInputs(config)].map((t) => tensorSpec('input', t)),
    outputs: [...(config.output ?? []), ...sequenceOutputs(config)].map((t) => tensorSpec('output', t)),
  };
}

function withModelName(modelName: string | undefined, err: unknown): InferenceError {
  const e = InferenceError.from(err);
  return new InferenceError(e.code, `model '${modelName ?? ''}': ${e.message}`, { cause: e });
}

/** Threads ORT starts for a session: its intra-op pool (the caller's thread is one), an inter-op pool in parallel mode. */
function ortThreads(o: OnnxSessionOptions): number {
  const intra = Math.max(0, o.intraOpNumThreads - 1);
  return o.executionMode === 'parallel' ? intra + Math.max(0, o.interOpNumThreads - 1) : intra;
}

/** Size of the model file (`model.onnx`, or `model.onnx` inside a directory); 0 when unreadable. */
async function modelFileBytes(modelPath: string): Promise<number> {
  try {
    const st = await stat(modelPath);
    return st.isDirectory() ? (await stat(join(modelPath, 'model.onnx'))).size : st.size;
  } catch {
    return 0;
  }
}

class OnnxruntimeModel implements BackendModel {
  readonly #ctx: ModelLoadContext;
  readonly #init: OnnxRunnerInit;
  readonly #options: OnnxruntimeBackendOptions;
  readonly #accelerator: GpuAccelerator | undefined;
  readonly #cudaInstalled: boolean;
  readonly #modelBytes: number;
  readonly #instances = new WorkerInstances();

  constructor(ctx: ModelLoadContext, init: OnnxRunnerInit, options: OnnxruntimeBackendOptions, cudaInstalled: boolean, modelBytes: number) {
    this.#ctx = ctx;
    this.#modelBytes = modelBytes;
    this.#init = init;
    this.#options = options;
    this.#accelerator = requestedGpuAccelerator(ctx.config);
    this.#cudaInstalled = cudaInstalled;
  }

  /** Spawns one worker whose session runs on the provider planned for the instance's kind and device. */
  async createInstance(ictx: InstanceContext): Promise<ModelInstance> {
    const plan = planOrtProviders(ictx.kind, ictx.deviceId, this.#accelerator, this.#cudaInstalled);
    const log = this.#ctx.logger;
    if (plan.name === 'webgpu' && ictx.deviceId !== 0) {
      log.warn({ instance: ictx.name, deviceId: ictx.deviceId }, 'the WebGPU provider cannot pick a GPU: this instance runs on the default adapter');
    }
    const init: OnnxRunnerInit = { ...this.#init, executionProviders: plan.executionProviders, gpuDeviceId: ictx.kind === 'KIND_GPU' ? ictx.deviceId : undefined };
    const o = this.#options;
    const proxy = await this.#instances.create({
      name: ictx.name, modelName: this.#ctx.modelName, version: this.#ctx.version,
      runnerModule: ONNXRUNTIME_RUNNER_URL, init, logger: log, nativeCalls: true,
      dedicated: dedicatedWorkerRequested(this.#ctx.config), modelBytes: this.#modelBytes, threads: ortThreads(init.sessionOptions),
      ...workerTuning(o),
    });
    // A GPU provider is worth a line; a thousand CPU sessions are not (start-up logs progress instead).
    log[plan.name === 'cpu' ? 'debug' : 'info']({ instance: ictx.name, kind: ictx.kind, deviceId: plan.deviceId, executionProvider: plan.name },
      `instance ${ictx.name} runs on the ${plan.name} execution provider`);
    return proxy;
  }

  /** Finalizes instances the caller did not finalize (finalize is idempotent on each). */
  finalize(): Promise<void> {
    return this.#instances.finalizeAll();
  }
}

/** Checks that need no model file: datatypes ORT can carry, session parameters. */
function validateOnnxConfig(config: Readonly<ModelConfig>): void {
  try {
    tensorSpecsFromConfig(config);
    sessionOptionsFromConfig(config, 1);
    requestedGpuAccelerator(config);
    dedicatedWorkerRequested(config);
  } catch (err) {
    throw withModelName(config.name, err);
  }
}

export function createOnnxruntimeBackend(options: OnnxruntimeBackendOptions = {}): Backend {
  disableOnnxruntimeTelemetry(); // before any instance's worker loads onnxruntime-node
  const cpuCount = (): number => options.cpuCount ?? availableParallelism();
  let cudaProbe: boolean | undefined;
  const cudaInstalled = (): boolean => (cudaProbe ??= options.cudaProviderInstalled ?? ortCudaProviderInstalled());
  return {
    name: 'onnxruntime',
    platforms: ['onnxruntime_onnx'],
    defaultModelFilename: 'model.onnx',
    validateConfig: validateOnnxConfig,
    reportConfig: (config) => ({
      ...config,
      parameters: {
        ...config.parameters,
        [EXECUTION_PROVIDER_PARAMETER]: { string_value: describeExecutionProviders(config, cudaInstalled()) },
      },
    }),
    autoCompleteConfig: (config, ctx) => autoCompleteOnnxConfig(config, ctx, {
      defaultMaxBatchSize: options.defaultMaxBatchSize ?? DEFAULT_MAX_BATCH_SIZE,
      ...(options.pool === undefined ? {} : { pool: options.pool }),
      ...(options.loadTimeoutMs === undefined ? {} : { loadTimeoutMs: options.loadTimeoutMs }),
    }),
    async createModel(ctx: ModelLoadContext): Promise<BackendModel> {
      const { config } = ctx;
      let init: OnnxRunnerInit;
      try {
        init = {
          modelName: ctx.modelName, version: ctx.version, modelPath: ctx.modelPath,
          sessionOptions: sessionOptionsFromConfig(config, cpuCount()),
          maxBatchSize: config.max_batch_size ?? 0,
          ...tensorSpecsFromConfig(config),
        };
      } catch (err) {
        throw withModelName(ctx.modelName, err);
      }
      ctx.logger.debug({ sessionOptions: init.sessionOptions }, 'onnxruntime model configured');
      return new OnnxruntimeModel(ctx, init, options, cudaInstalled(), await modelFileBytes(ctx.modelPath));
    },
  };
}
