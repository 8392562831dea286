/**
 * Per model-version statistics with Triton's semantics (PROTOCOL.md §2.5):
 * - `inference_count` counts batch elements, `execution_count` model executions;
 * - success/fail durations are end to end per request (arrival in the core → response ready);
 * - queue is per request (arrival → handed to an instance);
 * - compute_* are recorded per request with the durations of the batch it ran in, and once per
 *   execution in `batch_stats[batch_size]`.
 * Only the model's scheduler writes; readers get a snapshot.
 */
import type { ShadowSnapshot } from '../core/shadow-traffic.js';

export interface Duration {
  count: number;
  ns: number;
}

export interface BatchStats {
  batch_size: number;
  compute_input: Duration;
  compute_infer: Duration;
  compute_output: Duration;
}

export interface StatsSnapshot {
  last_inference: number;
  inference_count: number;
  execution_count: number;
  inference_stats: {
    success: Duration;
    fail: Duration;
    queue: Duration;
    compute_input: Duration;
    compute_infer: Duration;
    compute_output: Duration;
    cache_hit: Duration;
    cache_miss: Duration;
  };
  batch_stats: BatchStats[];
}

/**
 * Why a request failed, with Triton's `nv_inference_request_failure` reason labels: REJECTED (queue
 * full, queue timeout, server stopping), CANCELED (client cancel or deadline), BACKEND (the model's
 * execution failed), OTHER (validation and post-processing).
 */
export type FailureReason = 'REJECTED' | 'CANCELED' | 'BACKEND' | 'OTHER';
export const FAILURE_REASONS: readonly FailureReason[] = Object.freeze(['REJECTED', 'CANCELED', 'BACKEND', 'OTHER']);

/** What an observer hears once per request that reached a model version (unknown models are not counted). */
export interface InferenceOutcome {
  model: string;
  version: string;
  /** End to end in the core: arrival → response ready (or failure). */
  durationNs: number;
  /** undefined on success. */
  failure: FailureReason | undefined;
}

export type InferenceObserver = (outcome: InferenceOutcome) => void;

/** What a metrics exporter reads at scrape time for one loaded model version. */
export interface ModelMetricSample {
  name: string;
  version: string;
  stats: StatsSnapshot;
  failures: Record<FailureReason, number>;
  /** Requests queued and not yet executing. */
  pendingCount: number;
  /** The version's measured memory (bytes), 0 when unknown. */
  memoryBytes?: number;
  /** Present on a version that has served as a shadow. */
  shadow?: ShadowSnapshot;
}

export interface ComputeNs {
  computeInputNs: number;
  computeInferNs: number;
  computeOutputNs: number;
}

const zero = (): Duration => ({ count: 0, ns: 0 });
const add = (d: Duration, ns: number, count = 1): void => {
  d.count += count;
  d.ns += Math.max(0, Math.round(ns));
};

export class InferenceStats {
  #s: StatsSnapshot = {
    last_inference: 0,
    inference_count: 0,
    execution_count: 0,
    inference_stats: {
      success: zero(), fail: zero(), queue: zero(), compute_input: zero(),
      compute_infer: zero(), compute_output: zero(), cache_hit: zero(), cache_miss: zero(),
    },
    batch_stats: [],
  };
  readonly #batches = new Map<number, BatchStats>();
  readonly #failures: Record<FailureReason, number> = { REJECTED: 0, CANCELED: 0, BACKEND: 0, OTHER: 0 };
  readonly #onDemandWait = zero();

  /** A first request's wait for its model to load on demand (reported apart from the latencies). */
  recordOnDemandWait(ns: number): void {
    add(this.#onDemandWait, ns);
  }

  onDemandWait(): Duration {
    return { ...this.#onDemandWait };
  }

  /** One model execution of `batchSize` elements made of `requests` requests. */
  recordExecution(batchSize: number, requests: number, c: ComputeNs): void {
    const s = this.#s;
    s.inference_count += batchSize;
    s.execution_count += 1;
    add(s.inference_stats.compute_input, c.computeInputNs * requests, requests);
    add(s.inference_stats.compute_infer, c.computeInferNs * requests, requests);
    add(s.inference_stats.compute_output, c.computeOutputNs * requests, requests);
    let b = this.#batches.get(batchSize);
    if (b === undefined) {
      b = { batch_size: batchSize, compute_input: zero(), compute_infer: zero(), compute_output: zero() };
      this.#batches.set(batchSize, b);
    }
    add(b.compute_input, c.computeInputNs);
    add(b.compute_infer, c.computeInferNs);
    add(b.compute_output, c.computeOutputNs);
  }

  recordQueue(ns: number): void {
    add(this.#s.inference_stats.queue, ns);
  }

  recordSuccess(totalNs: number, nowMs: number = Date.now()): void {
    add(this.#s.inference_stats.success, totalNs);
    this.#s.last_inference = nowMs;
  }

  recordFailure(totalNs: number, nowMs: number = Date.now(), reason: FailureReason = 'OTHER'): void {
    add(this.#s.inference_stats.fail, totalNs);
    this.#failures[reason] += 1;
    this.#s.last_inference = nowMs;
  }

  /** Failed requests per reason; they add up to `inference_stats.fail.count`. */
  failureCounts(): Record<FailureReason, number> {
    return { ...this.#failures };
  }

  snapshot(): StatsSnapshot {
    const copy = structuredClone(this.#s);
    copy.batch_stats = [...this.#batches.values()].sort((a, b) => a.batch_size - b.batch_size).map((b) => structuredClone(b));
    return copy;
  }
}
