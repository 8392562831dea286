/**
 * Triton's GPU gauges (PROTOCOL.md §7.2), labelled `gpu_uuid`, from nvidia-smi instead of DCGM:
 *
 *   nv_gpu_utilization          0–1
 *   nv_gpu_memory_total_bytes
 *   nv_gpu_memory_used_bytes
 *
 * A poller runs the query every `intervalMs` (Triton's --metrics-interval-ms) and keeps the latest
 * answer; scrapes read that answer and never wait for nvidia-smi. A failed poll (tool gone, driver
 * wedged, unreadable output) empties the gauges rather than showing stale values, and is logged
 * once until a poll succeeds again. A value nvidia-smi reports as [N/A] is left out.
 */
import type { Logger } from 'pino';
import { Gauge, type Registry } from 'prom-client';
import type { GpuDevice } from '../backends/gpu/gpu-devices.js';
import { InferenceError } from '../errors/inference-error.js';

export interface GpuMetricsOptions {
  /** One reading of every GPU the server uses (e.g. nvidia-smi, renumbered by CUDA_VISIBLE_DEVICES). */
  query: () => Promise<readonly GpuDevice[]>;
  intervalMs: number;
  logger?: Logger | undefined;
}

type Reading = (d: GpuDevice) => number | undefined;

const GAUGES: ReadonlyArray<readonly [string, string, Reading]> = [
  ['nv_gpu_utilization', 'GPU utilization rate [0.0 - 1.0)', (d) => d.utilization],
  ['nv_gpu_memory_total_bytes', 'GPU total memory, in bytes', (d) => d.memoryTotalBytes],
  ['nv_gpu_memory_used_bytes', 'GPU used memory, in bytes', (d) => d.memoryUsedBytes],
];

export class GpuMetrics {
  readonly #o: GpuMetricsOptions;
  #latest: readonly GpuDevice[] = [];
  #timer: NodeJS.Timeout | undefined;
  #failing = false;
  #polling: Promise<void> | undefined;

  constructor(o: GpuMetricsOptions) {
    this.#o = o;
  }

  /** The devices of the last successful poll (empty after a failed one). */
  get latest(): readonly GpuDevice[] {
    return this.#latest;
  }

  /** Adds the three gauges to `registry`; call once per registry. */
  register(registry: Registry): void {
    const latest = () => this.#latest;
    for (const [name, help, read] of GAUGES) {
      new Gauge<'gpu_uuid'>({
        name, help, labelNames: ['gpu_uuid'], registers: [registry],
        collect() {
          this.reset();
          for (const d of latest()) {
            const v = read(d);
            if (v !== undefined) this.set({ gpu_uuid: d.uuid }, v);
          }
        },
      });
    }
  }

  /** Polls now, then every intervalMs until stop(); the timer does not keep the process alive. */
  async start(): Promise<void> {
    await this.poll();
    this.#timer ??= setInterval(() => void this.poll(), this.#o.intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** One poll; overlapping calls share the one in flight. Never rejects. */
  poll(): Promise<void> {
    this.#polling ??= this.#poll().finally(() => (this.#polling = undefined));
    return this.#polling;
  }

  async #poll(): Promise<void> {
    try {
      this.#latest = await this.#o.query();
      if (this.#failing) this.#o.logger?.info('GPU metrics: polling works again');
      this.#failing = false;
    } catch (e) {
      this.#latest = [];
      if (!this.#failing) this.#o.logger?.warn({ reason: InferenceError.from(e).message }, 'GPU metrics: poll failed; nv_gpu_* gauges are empty until it works');
      this.#failing = true;
    }
  }
}
