/**
 * The seam between the inference core and whatever schedules a model's requests: the dynamic
 * batcher for framework models, the ensemble scheduler for pipelines.
 *
 * Contract:
 * - enqueue() receives an already validated request; it resolves with the request's own outputs
 *   in the order of `vr.outputNames`, or rejects with an InferenceError. Every accepted request
 *   settles exactly once.
 * - stop() makes later enqueue() calls reject with UNAVAILABLE and resolves once every accepted
 *   request has settled; failQueued() fails whatever has not started yet (used after a drain timeout).
 */
import type { Tensor } from '../core/tensor.js';
import type { ValidatedRequest } from '../core/request-validator.js';
import type { InferenceError } from '../errors/inference-error.js';

export interface Scheduler {
  /**
   * Optional: the scheduler's own admission rules (the sequence batcher's sequence parameters),
   * checked synchronously just before enqueue() without changing any state. Throws InferenceError;
   * a request it refuses was never accepted (a setup error, as Triton's InferAsync returning one).
   */
  admit?(vr: ValidatedRequest): void;
  enqueue(vr: ValidatedRequest, arrivalNs?: number): Promise<Tensor[]>;
  stop(): Promise<void>;
  failQueued(err: InferenceError): void;
  /** Accepted and not yet settled. */
  readonly inflightCount: number;
  /** Waiting in a queue, not yet executing. */
  readonly pendingCount: number;
}
