/**
 * Prometheus families with Triton's names and labels (PROTOCOL.md §7.2), through prom-client.
 *
 * The per-model counters and the pending gauge are read at scrape time from the same statistics
 * the statistics extension reports (one sample per loaded model version), so /metrics and
 * /v2/models/stats never disagree. Only the latency histogram is fed per request, by the
 * inference observer. Node process metrics (prom-client's defaults) come alongside.
 *
 * Deviations from Triton, on purpose: `nv_inference_first_response_histogram_ms` is on by
 * default (Triton needs --metrics-config histogram_latencies=true) and has finer buckets below
 * 100 ms (Triton's 100/500/2000/5000 are kept) because CPU models answer in milliseconds.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { FAILURE_REASONS, type InferenceOutcome, type ModelMetricSample, type StatsSnapshot } from './inference-stats.js';

export const FIRST_RESPONSE_BUCKETS_MS: readonly number[] = Object.freeze([1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2000, 5000]);

const LABELS = ['model', 'version'] as const;
const SHADOW_OUTCOMES = ['matched', 'differed', 'incomparable', 'failed', 'skipped'] as const;
type Label = (typeof LABELS)[number] | 'reason';

/** Counters derived from a statistics snapshot: name, help, value. */
const SNAPSHOT_COUNTERS: ReadonlyArray<readonly [string, string, (s: StatsSnapshot) => number]> = [
  ['nv_inference_request_success', 'Number of successful inference requests, all batch sizes', (s) => s.inference_stats.success.count],
  ['nv_inference_count', 'Number of inferences performed (a batch of n counts n; does not include cached requests)', (s) => s.inference_count],
  ['nv_inference_exec_count', 'Number of model executions performed (does not include cached requests)', (s) => s.execution_count],
  ['nv_inference_request_duration_us', 'Cumulative inference request duration in microseconds (includes cached requests)', (s) => us(s.inference_stats.success.ns)],
  ['nv_inference_queue_duration_us', 'Cumulative inference queuing duration in microseconds (includes cached requests)', (s) => us(s.inference_stats.queue.ns)],
  ['nv_inference_compute_input_duration_us', 'Cumulative compute input duration in microseconds (does not include cached requests)', (s) => us(s.inference_stats.compute_input.ns)],
  ['nv_inference_compute_infer_duration_us', 'Cumulative compute inference duration in microseconds (does not include cached requests)', (s) => us(s.inference_stats.compute_infer.ns)],
  ['nv_inference_compute_output_duration_us', 'Cumulative inference compute output duration in microseconds (does not include cached requests)', (s) => us(s.inference_stats.compute_output.ns)],
];

function us(ns: number): number {
  return Math.floor(ns / 1000);
}

export interface InferenceMetricsOptions {
  /** Add prom-client's Node process metrics (default true). */
  processMetrics?: boolean;
  /** Evictions per model under --model-memory-budget (infera_model_evictions_total). */
  evictions?: () => ReadonlyMap<string, number>;
}

export class InferenceMetrics {
  readonly registry = new Registry();
  readonly #source: () => ModelMetricSample[];
  readonly #firstResponse: Histogram<(typeof LABELS)[number]>;
  /** The samples of the scrape in progress: read once, shared by every family's collect(). */
  #samples: ModelMetricSample[] = [];

  constructor(source: () => ModelMetricSample[], o: InferenceMetricsOptions = {}) {
    this.#source = source;
    const samples = () => this.#samples;
    for (const [name, help, value] of SNAPSHOT_COUNTERS) {
      new Counter<Label>({
        name, help, labelNames: LABELS, registers: [this.registry],
        collect() {
          this.reset();
          for (const s of samples()) this.inc({ model: s.name, version: s.version }, value(s.stats));
        },
      });
    }
    new Counter<Label>({
      name: 'nv_inference_request_failure',
      help: 'Number of failed inference requests, all batch sizes',
      labelNames: [...LABELS, 'reason'], registers: [this.registry],
      collect() {
        this.reset();
        for (const s of samples()) {
          for (const reason of FAILURE_REASONS) this.inc({ model: s.name, version: s.version, reason }, s.failures[reason]);
        }
      },
    });
    new Gauge<Label>({
      name: 'nv_inference_pending_request_count',
      help: 'Instantaneous number of pending requests awaiting execution per-model.',
      labelNames: LABELS, registers: [this.registry],
      collect() {
        this.reset();
        for (const s of samples()) this.set({ model: s.name, version: s.version }, s.pendingCount);
      },
    });
    new Gauge<Label>({
      name: 'infera_model_memory_bytes',
      help: 'Memory of a loaded model version, measured while its instances loaded (0 when unknown).',
      labelNames: LABELS, registers: [this.registry],
      collect() {
        this.reset();
        for (const s of samples()) this.set({ model: s.name, version: s.version }, s.memoryBytes ?? 0);
      },
    });
    new Counter<Label | 'outcome'>({
      name: 'infera_shadow_request_total',
      help: 'Shadow copies per shadow version and outcome: matched / differed / incomparable (outputs against the primary), failed, skipped (too many in flight).',
      labelNames: [...LABELS, 'outcome'], registers: [this.registry],
      collect() {
        this.reset();
        for (const s of samples()) {
          if (s.shadow === undefined) continue;
          for (const outcome of SHADOW_OUTCOMES) this.inc({ model: s.name, version: s.version, outcome }, s.shadow[outcome]);
        }
      },
    });
    new Counter<Label>({
      name: 'infera_shadow_request_duration_us',
      help: 'Cumulative duration of the successful shadow copies in microseconds.',
      labelNames: LABELS, registers: [this.registry],
      collect() {
        this.reset();
        for (const s of samples()) if (s.shadow !== undefined) this.inc({ model: s.name, version: s.version }, us(s.shadow.success_ns));
      },
    });
    new Gauge<Label>({
      name: 'infera_shadow_max_abs_diff',
      help: 'Largest absolute output element difference between a shadow version and the primary so far.',
      labelNames: LABELS, registers: [this.registry],
      collect() {
        this.reset();
        for (const s of samples()) if (s.shadow !== undefined) this.set({ model: s.name, version: s.version }, s.shadow.max_abs_diff);
      },
    });
    const evictions = o.evictions;
    if (evictions !== undefined) {
      new Counter<'model'>({
        name: 'infera_model_evictions_total',
        help: 'Models unloaded to stay within --model-memory-budget (least recently used, idle, unpinned).',
        labelNames: ['model'], registers: [this.registry],
        collect() {
          this.reset();
          for (const [model, n] of evictions()) this.inc({ model }, n);
        },
      });
    }
    this.#firstResponse = new Histogram({
      name: 'nv_inference_first_response_histogram_ms',
      help: 'Duration from request to first response in milliseconds',
      labelNames: LABELS, buckets: [...FIRST_RESPONSE_BUCKETS_MS], registers: [this.registry],
    });
    if (o.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  /** The inference observer: pass `(o) => metrics.observe(o)` to InferenceService.observe. */
  observe(o: InferenceOutcome): void {
    if (o.failure === undefined) this.#firstResponse.observe({ model: o.model, version: o.version }, o.durationNs / 1e6);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The exposition text of one scrape. */
  async scrape(): Promise<string> {
    this.#samples = this.#source();
    try {
      return await this.registry.metrics();
    } finally {
      this.#samples = [];
    }
  }
}
