/**
 * How a model's instances are hosted in the worker pool (workers/worker-pool.ts): as sessions on
 * the shared workers (the default), or each on a worker of its own when the config asks:
 *
 *   parameters { key: "dedicated_worker" value: { string_value: "true" } }
 *
 * A dedicated worker suits a heavy session that would hold a shared thread for long (a large
 * GPU model) or a runner that keeps per-thread state. Accepted values: true/false, 1/0, yes/no.
 */
import type { ModelConfig } from '../config/model-config.js';
import { ErrorCode } from '../errors/error-codes.js';
import { InferenceError } from '../errors/inference-error.js';

export const DEDICATED_WORKER_PARAMETER = 'dedicated_worker';

/** Whether `config` asks for dedicated workers; throws INVALID_ARG for a value that is not a boolean. */
export function dedicatedWorkerRequested(config: Readonly<ModelConfig>): boolean {
  const raw = config.parameters?.[DEDICATED_WORKER_PARAMETER]?.string_value;
  if (raw === undefined) return false;
  const v = raw.trim().toLowerCase();
  if (['true', '1', 'yes'].includes(v)) return true;
  if (['false', '0', 'no', ''].includes(v)) return false;
  throw new InferenceError(ErrorCode.INVALID_ARG, `parameter '${DEDICATED_WORKER_PARAMETER}' must be true or false, got '${raw}'`);
}
