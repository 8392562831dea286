/**
 * Triton's ONNX Runtime auto-complete (PROTOCOL.md §8.3): fills missing inputs/outputs and
 * max_batch_size from the model's own metadata. The model is opened in a short-lived worker
 * thread, never on the main thread (an ORT load blocks the thread that does it).
 */
import type { Logger } from 'pino';
import type { AutoCompleteContext } from '../backend.js';
import {
  wireToConfigDataType, type ModelConfig, type ModelInput, type ModelOutput,
} from '../../config/model-config.js';
import { ErrorCode } from '../../errors/error-codes.js';
import { InferenceError } from '../../errors/inference-error.js';
import { spawnWorker } from '../../workers/worker-supervisor.js';
import type { IoMetadata, OnnxRunnerInit, SessionIoInfo } from './onnxruntime-runner.js';
import { ONNXRUNTIME_RUNNER_URL } from './onnxruntime-types.js';

/** Triton's `default-max-batch-size` backend setting. */
export const DEFAULT_MAX_BATCH_SIZE = 4;

export interface OnnxAutoCompleteOptions {
  /** max_batch_size given to batchable models whose config has none (or 0); default 4. */
  defaultMaxBatchSize?: number;
  loadTimeoutMs?: number;
  /** Replaces the worker that reads the metadata (tests). */
  readMetadata?(modelName: string, modelPath: string, logger: Logger): Promise<SessionIoInfo>;
}

function autofillError(modelName: string, why: string, code: ErrorCode = ErrorCode.INVALID_ARG): InferenceError {
  return new InferenceError(code, `autofill failed for model '${modelName}': ${why}`);
}

/** Opens the model in a worker thread, reads its input/output metadata and stops the worker. */
export async function readSessionMetadata(
  modelName: string, modelPath: string, logger: Logger, loadTimeoutMs?: number,
): Promise<SessionIoInfo> {
  const init: OnnxRunnerInit = {
    modelName, modelPath, metadataOnly: true, maxBatchSize: 0, inputs: [], outputs: [],
    sessionOptions: { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'disabled' },
  };
  const spawn = { runnerModule: ONNXRUNTIME_RUNNER_URL, init, logger };
  let handle;
  try {
    handle = await spawnWorker(loadTimeoutMs === undefined ? spawn : { ...spawn, loadTimeoutMs });
  } catch (err) {
    const e = InferenceError.from(err);
    throw autofillError(modelName, e.message, e.code);
  }
  try {
    return handle.info as SessionIoInfo;
  } finally {
    await handle.stop(5_000, logger);
  }
}

function ioEntry(m: IoMetadata, maxBatchSize: number): ModelInput & ModelOutput {
  const dims = maxBatchSize > 0 ? m.shape.slice(1) : [...m.shape];
  const entry: ModelInput & ModelOutput = {
    name: m.name,
    data_type: wireToConfigDataType(m.datatype ?? ''),
    dims: dims.length > 0 ? dims : [1],
  };
  // A batch of scalars: the config must name at least one dim, and the model sees none.
  // (Triton adds no reshape for an unbatched scalar; the runner maps [1] ↔ [] itself.)
  if (dims.length === 0 && maxBatchSize > 0) entry.reshape = { shape: [] };
  return entry;
}

function hasScheduler(c: ModelConfig): boolean {
  return c.dynamic_batching !== undefined || c.sequence_batching !== undefined || c.ensemble_scheduling !== undefined;
}

/**
 * The auto-completed copy of `config` given the model's metadata (pure). Batching is supported
 * iff every input and output has a variable first dimension.
 */
export function completeFromMetadata(
  config: Readonly<ModelConfig>, io: SessionIoInfo, modelName: string, defaultMaxBatchSize = DEFAULT_MAX_BATCH_SIZE,
): ModelConfig {
  const out = structuredClone(config) as ModelConfig;
  const all = [...io.inputs, ...io.outputs];
  const unservable = all.find((m) => m.datatype === undefined);
  if (unservable !== undefined) {
    throw autofillError(modelName, `tensor '${unservable.name}' has type ${unservable.ortType}, which this backend cannot serve`);
  }
  const canBatch = all.length > 0 && all.every((m) => m.shape.length > 0 && m.shape[0] === -1);
  if (canBatch) {
    if ((out.max_batch_size ?? 0) === 0) out.max_batch_size = defaultMaxBatchSize;
    if ((out.max_batch_size ?? 0) > 1 && !hasScheduler(out)) out.dynamic_batching = {};
  } else if ((out.max_batch_size ?? 0) !== 0) {
    throw autofillError(modelName, 'model does not support batching while non-zero max_batch_size is specified');
  }
  const maxBatchSize = out.max_batch_size ?? 0;
  if ((out.input?.length ?? 0) === 0) out.input = io.inputs.map((m) => ioEntry(m, maxBatchSize));
  if ((out.output?.length ?? 0) === 0) out.output = io.outputs.map((m) => ioEntry(m, maxBatchSize));
  return out;
}

/**
 * Backend.autoCompleteConfig for onnxruntime. Returns a new config; a config that already lists
 * both inputs and outputs comes back unchanged (as Triton does, max_batch_size included).
 */
export async function autoCompleteOnnxConfig(
  config: Readonly<ModelConfig>, ctx: AutoCompleteContext, options: OnnxAutoCompleteOptions = {},
): Promise<ModelConfig> {
  if ((config.input?.length ?? 0) > 0 && (config.output?.length ?? 0) > 0) {
    return structuredClone(config) as ModelConfig;
  }
  const read = options.readMetadata
    ?? ((name: string, path: string, logger: Logger) => readSessionMetadata(name, path, logger, options.loadTimeoutMs));
  const io = await read(ctx.modelName, ctx.modelPath, ctx.logger);
  ctx.logger.debug({ inputs: io.inputs.length, outputs: io.outputs.length }, 'auto-completing config from model metadata');
  return completeFromMetadata(config, io, ctx.modelName, options.defaultMaxBatchSize ?? DEFAULT_MAX_BATCH_SIZE);
}
