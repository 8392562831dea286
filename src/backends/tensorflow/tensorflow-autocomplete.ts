/**
 * Auto-complete for the TensorFlow backends, as Triton's TensorFlow backend does it: inputs and
 * outputs from the model's own declaration (SavedModel signature, TF.js signature or topology),
 * max_batch_size from whether every input and output has a variable first dimension, and for
 * TF.js models the platform from model.json's format. The files are read in a short-lived
 * worker thread, never on the main thread.
 */
import type { Logger } from 'pino';
import type { AutoCompleteContext } from '../backend.js';
import { autofillError, completeIo, DEFAULT_MAX_BATCH_SIZE, readArtifactInfo } from '../autocomplete-rules.js';
import type { ModelConfig } from '../../config/model-config.js';
import { InferenceError } from '../../errors/inference-error.js';
import type { WorkerPool } from '../../workers/worker-pool.js';
import { tfParameters } from './tensorflow-config.js';
import type { TfRunnerInfo, TfRunnerInit } from './tensorflow-runner.js';
import type { TfIoInfo } from './tf-io.js';

/** Triton's `default-max-batch-size` backend setting. */
export { DEFAULT_MAX_BATCH_SIZE };

/** The TF.js model file in a version folder. */
export const TFJS_MODEL_FILE = 'model.json';

export const TENSORFLOW_RUNNER_URL: string = new URL('./tensorflow-runner.js', import.meta.url).href;

export type ReadModelInfo = (init: TfRunnerInit, logger: Logger) => Promise<TfRunnerInfo>;

/**
 * Loads the model metadata-only and returns what it declares; in a worker of its own, because a
 * layers model activates a tfjs backend, which is per-thread state (see tensorflow-backend.ts).
 */
export async function readModelInfo(init: TfRunnerInit, logger: Logger, loadTimeoutMs?: number, pool?: WorkerPool): Promise<TfRunnerInfo> {
  return await readArtifactInfo({
    modelName: init.modelName, runnerModule: TENSORFLOW_RUNNER_URL, init: { ...init, metadataOnly: true }, logger,
    loadTimeoutMs, pool, dedicated: true,
  }) as TfRunnerInfo;
}


const PLATFORM_OF_FORMAT: Readonly<Record<string, string>> = {
  savedmodel: 'tensorflow_savedmodel', 'graph-model': 'tensorflowjs_graph', 'layers-model': 'tensorflowjs_layers',
};

/** The auto-completed copy of `config` given what the model declares (pure). */
export function completeFromModelInfo(
  config: Readonly<ModelConfig>, info: TfRunnerInfo, modelName: string, defaultMaxBatchSize = DEFAULT_MAX_BATCH_SIZE,
): ModelConfig {
  const out = structuredClone(config) as ModelConfig;
  if (!out.platform) out.platform = PLATFORM_OF_FORMAT[info.format] ?? '';
  return completeIo(out, info.io, modelName, defaultMaxBatchSize, (m) => (m as TfIoInfo).sourceType);
}

export interface TfAutoCompleteOptions {
  format: 'savedmodel' | 'tfjs';
  defaultMaxBatchSize?: number;
  loadTimeoutMs?: number;
  /** The pool whose worker reads the model; default the process-wide pool. */
  pool?: WorkerPool;
  /** Replaces the worker that reads the model (tests). */
  readInfo?: ReadModelInfo;
}

/**
 * Backend.autoCompleteConfig. A SavedModel config that lists inputs and outputs comes back
 * unchanged (as Triton does); a TF.js one too once it names its platform.
 */
export async function autoCompleteTfConfig(
  config: Readonly<ModelConfig>, ctx: AutoCompleteContext, options: TfAutoCompleteOptions,
): Promise<ModelConfig> {
  const base = structuredClone(config) as ModelConfig;
  // The server's generic default for an unknown backend would be "model.tensorflowjs".
  if (options.format === 'tfjs' && !base.default_model_filename) base.default_model_filename = TFJS_MODEL_FILE;
  const complete = (base.input?.length ?? 0) > 0 && (base.output?.length ?? 0) > 0;
  if (complete && (options.format === 'savedmodel' || base.platform)) return base;
  let params;
  try {
    params = tfParameters(config);
  } catch (err) {
    throw autofillError(ctx.modelName, InferenceError.from(err).message);
  }
  const init: TfRunnerInit = {
    modelName: ctx.modelName, modelPath: ctx.modelPath, format: options.format, tag: params.tag,
    signature: params.signature, runtime: 'cpu', gpuInstance: false, maxBatchSize: 0, inputs: [], outputs: [],
  };
  const read = options.readInfo ?? ((i: TfRunnerInit, l: Logger) => readModelInfo(i, l, options.loadTimeoutMs, options.pool));
  const info = await read(init, ctx.logger);
  ctx.logger.debug({ inputs: info.io.inputs.length, outputs: info.io.outputs.length }, 'auto-completing config from the TensorFlow model');
  return completeFromModelInfo(base, info, ctx.modelName, options.defaultMaxBatchSize ?? DEFAULT_MAX_BATCH_SIZE);
}
