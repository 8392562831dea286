/**
 * Triton's framework-independent auto-complete rules (PROTOCOL.md §8.3), shared by every backend
 * that can read its model's inputs and outputs: batching is supported iff every input and output
 * has a variable first dimension; a batchable model without max_batch_size gets the default (4)
 * and `dynamic_batching {}`; dims drop the batch dimension; a batch of scalars becomes dims [1]
 * with `reshape { shape: [] }`.
 */
import { wireToConfigDataType, type ModelConfig, type ModelInput, type ModelOutput } from '../config/model-config.js';
import type { DeclaredTensor } from './config-vs-model.js';
import { ErrorCode } from '../errors/error-codes.js';
import { InferenceError } from '../errors/inference-error.js';
import type { Logger } from 'pino';
import { defaultWorkerPool, type WorkerPool } from '../workers/worker-pool.js';

/** Triton's backend `default-max-batch-size`. */
export const DEFAULT_MAX_BATCH_SIZE = 4;


export function autofillError(modelName: string, why: string, code: ErrorCode = ErrorCode.INVALID_ARG): InferenceError {
  return new InferenceError(code, `autofill failed for model '${modelName}': ${why}`);
}

export interface ArtifactReader {
  modelName: string;
  runnerModule: string;
  /** The runner's metadata-only init. */
  init: unknown;
  logger: Logger;
  loadTimeoutMs?: number | undefined;
  /** Read in a worker of its own (runners that change per-thread state). */
  dedicated?: boolean;
  pool?: WorkerPool | undefined;
}

/** Loads the model metadata-only in a pool worker and returns the runner's `info`; errors become autofill errors. */
export async function readArtifactInfo(r: ArtifactReader): Promise<unknown> {
  try {
    return await (r.pool ?? defaultWorkerPool()).readInfo({
      label: `model '${r.modelName}'`, group: `autofill\u0000${r.modelName}`, runnerModule: r.runnerModule, init: r.init,
      logger: r.logger, dedicated: r.dedicated === true, nativeCalls: true, // the framework parses the artifact natively
      ...(r.loadTimeoutMs === undefined ? {} : { loadTimeoutMs: r.loadTimeoutMs }),
    });
  } catch (err) {
    const e = InferenceError.from(err);
    throw autofillError(r.modelName, e.message, e.code);
  }
}

function hasScheduler(c: ModelConfig): boolean {
  return c.dynamic_batching !== undefined || c.sequence_batching !== undefined || c.ensemble_scheduling !== undefined;
}

function ioEntry(m: DeclaredTensor, maxBatchSize: number, modelName: string): ModelInput & ModelOutput {
  if (m.shape === undefined) {
    throw autofillError(modelName, `tensor '${m.name}' has an unknown rank; the configuration must give its dims`);
  }
  const dims = maxBatchSize > 0 ? m.shape.slice(1) : [...m.shape];
  const entry: ModelInput & ModelOutput = {
    name: m.name,
    data_type: wireToConfigDataType(m.datatype ?? ''),
    dims: dims.length > 0 ? dims : [1],
  };
  // A batch of scalars: the config must name at least one dim, and the model sees none.
  // (Triton adds no reshape for an unbatched scalar; the runners map [1] ↔ [] themselves.)
  if (dims.length === 0 && maxBatchSize > 0) entry.reshape = { shape: [] };
  return entry;
}

/**
 * Applies the batching rule and fills missing inputs/outputs in `out` (a private copy the caller
 * owns). `describe` names a tensor's source type for the "cannot serve" error.
 */
export function completeIo(
  out: ModelConfig,
  io: { inputs: readonly DeclaredTensor[]; outputs: readonly DeclaredTensor[] },
  modelName: string,
  defaultMaxBatchSize: number,
  describe: (m: DeclaredTensor) => string,
): ModelConfig {
  const all = [...io.inputs, ...io.outputs];
  const unservable = all.find((m) => m.datatype === undefined);
  if (unservable !== undefined) {
    throw autofillError(modelName, `tensor '${unservable.name}' has type ${describe(unservable)}, which this backend cannot serve`);
  }
  const canBatch = all.length > 0 && all.every((m) => m.shape !== undefined && m.shape.length > 0 && m.shape[0] === -1);
  if (canBatch) {
    if ((out.max_batch_size ?? 0) === 0) out.max_batch_size = defaultMaxBatchSize;
    if ((out.max_batch_size ?? 0) > 1 && !hasScheduler(out)) out.dynamic_batching = {};
  } else if ((out.max_batch_size ?? 0) !== 0) {
    throw autofillError(modelName, 'model does not support batching while non-zero max_batch_size is specified');
  }
  const maxBatchSize = out.max_batch_size ?? 0;
  if ((out.input?.length ?? 0) === 0) out.input = io.inputs.map((m) => ioEntry(m, maxBatchSize, modelName));
  if ((out.output?.length ?? 0) === 0) out.output = io.outputs.map((m) => ioEntry(m, maxBatchSize, modelName));
  return out;
}
