/**
 * THE SEAM between the server and the frameworks that run models, modelled on Triton's three
 * levels (backend → model → instance). Backends never import the core, schedulers or front-ends;
 * they receive everything they need in the context objects below.
 *
 *   repository manager ──createModel──▶ BackendModel ──createInstance──▶ ModelInstance (× instance_group count)
 *   scheduler ──────────────────────────────────────────────────────────▶ ModelInstance.execute(batch)
 */
import type { Logger } from 'pino';
import type { ModelConfig } from '../config/model-config.js';
import type { Parameters, Tensor } from '../core/tensor.js';
import type { InferenceError } from '../errors/inference-error.js';
import type { RequestTrace } from '../observability/trace/request-trace.js';
import type { RequestResponses } from '../core/response-stream.js';

/** What a backend gets to load one version of one model. */
export interface ModelLoadContext {
  modelName: string;
  version: number;
  /** Normalized, validated, frozen config. Never mutate. */
  config: Readonly<ModelConfig>;
  /** Absolute path of `<repo>/<model>`. */
  modelDir: string;
  /** Absolute path of `<repo>/<model>/<version>/<default_model_filename>` (file or directory). */
  modelPath: string;
  logger: Logger;
  /**
   * Runs a request on any model of the server through that model's own scheduler (statistics,
   * batching with direct traffic, queue policy): the capability behind a model's BLS calls
   * (`ctx.infer` of the typescript backend). Absent where the server offers none (then BLS calls
   * fail with UNAVAILABLE). Backends never import the core; this is how they reach it.
   */
  infer?: InternalInfer;
}

/** One request a model makes on another model (BLS), protocol-neutral. */
export interface InternalInferCall {
  model: string;
  /** "" = the highest READY version. */
  version: string;
  /** Inputs with their bytes; ownership passes to the call (a worker backend may detach them). */
  inputs: Tensor[];
  /** Requested outputs; empty = all of the model's outputs. */
  outputs: string[];
  parameters: Parameters;
  /** Models up the call chain, the caller last: a call to one of them is refused (it would wait on itself). */
  callers: readonly string[];
  /** The parent request's cancellation and deadline (and the call's own timeout); undefined when neither exists. */
  signal?: AbortSignal | undefined;
  /** The parent request's trace: the call is traced as its child. */
  parentTrace?: RequestTrace | undefined;
}

export interface InternalInferResult {
  modelName: string;
  modelVersion: string;
  outputs: Tensor[];
  parameters: Parameters;
}

/**
 * The core's entry for model-made requests. `onResponse`, when given, makes it a streaming call:
 * each response (0..N for a decoupled model, exactly one otherwise) goes to it, and the promise
 * resolves with the last one after the final response (undefined when the final carried none).
 * Rejects with InferenceError.
 */
export type InternalInfer = (
  call: InternalInferCall, onResponse?: (r: InternalInferResult) => void,
) => Promise<InternalInferResult | undefined>;

/** What auto-complete gets: the config as read (possibly empty) and where the artifact is. */
export interface AutoCompleteContext {
  modelName: string;
  modelPath: string;
  logger: Logger;
}

export interface InstanceContext {
  /** `<group name>_<index within group>`, unique within the model version. */
  name: string;
  /** Index of this instance across all groups of the model version, from 0. */
  index: number;
  kind: 'KIND_CPU' | 'KIND_GPU' | 'KIND_MODEL';
  deviceId: number;
}

/**
 * One batch handed to an instance. Inputs are already merged along dim 0 when the model batches
 * (`batchSize` elements), in the model config's input order. `outputNames` lists the outputs the
 * batch's requests need (a subset of the config's outputs, never empty).
 *
 * Ownership: the input `data` buffers are handed over to the instance; the instance may transfer or
 * detach them (e.g. post them to a worker thread). Callers must not read them after execute().
 */
export interface ExecuteBatch {
  batchSize: number;
  inputs: Tensor[];
  outputNames: string[];
  /**
   * The requests the batch was merged from, in batch order (their `rows` sum to batchSize when the
   * model batches; a model that does not batch gets one). Absent for batches the server makes
   * itself (warmup): read it as one request covering the batch, without parameters. Backends that
   * run model code (typescript) hand these boundaries to the model; framework backends ignore them.
   */
  requests?: readonly BatchRequest[];
}

/**
 * One request's part of a batch. Read lazily: `signal` is only materialised when a backend asks
 * for it (the request path allocates no AbortController for requests nobody can cancel).
 */
export interface BatchRequest {
  /** Rows of the merged inputs (dim 0) that belong to this request; 1 when the model does not batch. */
  readonly rows: number;
  /** The outputs this request asked for, in its order (a subset of the batch's outputNames). */
  readonly outputNames: readonly string[];
  /** The request's parameters as the client sent them. */
  readonly parameters: Readonly<Parameters>;
  /** Aborted when the request is cancelled or its deadline passes; undefined when it cannot be. */
  readonly signal: AbortSignal | undefined;
  /** The request's trace when it is traced (a BLS call it makes is traced as its child). */
  readonly trace?: RequestTrace | undefined;
  /** When the request is itself a BLS call: the models up its call chain (InternalInferCall.callers). */
  readonly callers?: readonly string[] | undefined;
  /**
   * Decoupled models only: where the request's responses go, 0..N of them then a final flag, also
   * after execute() settled (its perRequest entry is then `[]`). Undefined for other models.
   */
  readonly responses: RequestResponses | undefined;
}

/** Durations measured by the instance, in nanoseconds, with Triton's meaning (PROTOCOL.md §2.5). */
export interface ExecuteTimings {
  /** Preparing inputs for the framework (buffer transfer and tensor creation). */
  computeInputNs: number;
  /** The framework's run call. */
  computeInferNs: number;
  /** Turning framework outputs back into raw tensors and handing them back. */
  computeOutputNs: number;
}

export interface ExecuteResult {
  /** One tensor per requested output name, batch dimension first when the model batches. */
  outputs: Tensor[];
  /**
   * Instead of batch outputs (then `outputs` is empty): one entry per `batch.requests` entry, in
   * order: that request's outputs (any order, by name; at least its outputNames) or its own error.
   * A backend that answers per request (model code) uses this, so one request's error fails only
   * that request and no outputs are concatenated only to be split again.
   */
  perRequest?: readonly (Tensor[] | InferenceError)[];
  timings: ExecuteTimings;
}

/**
 * A loaded copy of a model that executes batches; one per instance_group entry × count.
 *
 * Contract:
 * - execute() is never called concurrently on the same instance (the scheduler's instance pool
 *   guarantees it); different instances of one model may execute concurrently.
 * - execute() resolves with all outputs or rejects with an InferenceError for the whole batch.
 *   UNAVAILABLE means the instance's host died; the instance restarts itself and may be used again.
 * - `signal` is best effort: an instance may finish a batch whose requests were all cancelled.
 * - finalize() releases native sessions, threads and timers; it is called once, after the last
 *   execute() settled, and execute() is never called afterwards.
 */
export interface ModelInstance {
  readonly name: string;
  /** Memory the instance holds, measured at load (bytes); absent when unknown. Shown in model statistics. */
  readonly memoryBytes?: number;
  execute(batch: ExecuteBatch, signal?: AbortSignal): Promise<ExecuteResult>;
  finalize(): Promise<void>;
  /**
   * How busy the thread this instance runs on is now, lower is better (worker-instance-proxy.ts:
   * batches in flight there, then sessions hosted there); absent = no preference. Among a
   * model's idle instances the scheduler picks the least contended.
   */
  contention?(): number;
}

/** One loaded version of a model. createInstance may be called several times; finalize once, last. */
export interface BackendModel {
  createInstance(ctx: InstanceContext): Promise<ModelInstance>;
  finalize(): Promise<void>;
}

/**
 * A framework backend, one per kind, process-wide, registered by name in backend-registry.ts.
 * validateConfig throws InferenceError(INVALID_ARG | UNSUPPORTED) for configs it cannot serve.
 * autoCompleteConfig fills inputs/outputs/max_batch_size from the model artifact (Triton's
 * auto-complete, PROTOCOL.md §8.3); it returns a new config and never mutates its argument.
 * reportConfig runs after validateConfig on the normalized config and returns a new config with
 * the settings the backend decided that the ModelConfig responses should show (ORT: the execution
 * provider of each instance group); it must not change anything else.
 */
export interface Backend {
  readonly name: string;
  /** Platform names that select this backend (e.g. "onnxruntime_onnx"). */
  readonly platforms: readonly string[];
  /** File or folder name in a version directory that identifies this backend's models. */
  readonly defaultModelFilename: string;
  /** It serves `model_transaction_policy { decoupled: true }` (BatchRequest.responses); others refuse such configs. */
  readonly decoupled?: boolean;
  autoCompleteConfig?(config: ModelConfig, ctx: AutoCompleteContext): Promise<ModelConfig>;
  validateConfig?(config: Readonly<ModelConfig>): void;
  reportConfig?(config: Readonly<ModelConfig>): ModelConfig;
  createModel(ctx: ModelLoadContext): Promise<BackendModel>;
}
