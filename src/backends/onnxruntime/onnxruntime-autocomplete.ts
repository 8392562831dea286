/**
 * Triton's ONNX Runtime auto-complete (PROTOCOL.md §8.3): fills missing inputs/outputs and
 * max_batch_size from the model's own metadata. The model is opened in a short-lived worker
 * thread, never on the main thread (an ORT load blocks the thread that does it).
 */
import type { Logger } from 'pino';
import type { AutoCompleteContext } from '../backend.js';
import { completeIo, DEFAULT_MAX_BATCH_SIZE, readArtifactInfo } from '../autocomplete-rules.js';
import type { ModelConfig } from '../../config/model-config.js';
import type { WorkerPool } from '../../workers/worker-pool.js';
import type { IoMetadata, OnnxRunnerInit, SessionIoInfo } from './onnxruntime-runner.js';
import { ONNXRUNTIME_RUNNER_URL } from './onnxruntime-types.js';

/** Triton's `default-max-batch-size` backend setting. */
export { DEFAULT_MAX_BATCH_SIZE };

export interface OnnxAutoCompleteOptions {
  /** max_batch_size given to batchable models whose config has none (or 0); default 4. */
  defaultMaxBatchSize?: number;
  loadTimeoutMs?: number;
  /** The pool whose worker reads the metadata; default the process-wide pool. */
  pool?: WorkerPool;
  /** Replaces the worker that reads the metadata (tests). */
  readMetadata?(modelName: string, modelPath: string, logger: Logger): Promise<SessionIoInfo>;
}

/** Opens the model in a pool worker, reads its input/output metadata and closes the session. */
export async function readSessionMetadata(
  modelName: string, modelPath: string, logger: Logger, loadTimeoutMs?: number, pool?: WorkerPool,
): Promise<SessionIoInfo> {
  const init: OnnxRunnerInit = {
    modelName, modelPath, metadataOnly: true, maxBatchSize: 0, inputs: [], outputs: [],
    sessionOptions: { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'disabled' },
  };
  return await readArtifactInfo({ modelName, runnerModule: ONNXRUNTIME_RUNNER_URL, init, logger, loadTimeoutMs, pool }) as SessionIoInfo;
}

/**
 * The auto-completed copy of `config` given the model's metadata (pure). Batching is supported
 * iff every input and output has a variable first dimension.
 */
export function completeFromMetadata(
  config: Readonly<ModelConfig>, io: SessionIoInfo, modelName: string, defaultMaxBatchSize = DEFAULT_MAX_BATCH_SIZE,
): ModelConfig {
  const out = structuredClone(config) as ModelConfig;
  return completeIo(out, io, modelName, defaultMaxBatchSize, (m) => (m as IoMetadata).ortType);
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
    ?? ((name: string, path: string, logger: Logger) => readSessionMetadata(name, path, logger, options.loadTimeoutMs, options.pool));
  const io = await read(ctx.modelName, ctx.modelPath, ctx.logger);
  ctx.logger.debug({ inputs: io.inputs.length, outputs: io.outputs.length }, 'auto-completing config from model metadata');
  return completeFromMetadata(config, io, ctx.modelName, options.defaultMaxBatchSize ?? DEFAULT_MAX_BATCH_SIZE);
}
