/**
 * max_inflight_requests for one ensemble step: at most `limit` requests of that step are in flight
 * across all of the ensemble's requests; the rest wait here, FIFO, holding no resource. A waiter
 * whose signal aborts leaves the line and rejects with the signal's reason.
 */
export class StepGate {
  readonly #limit: number;
  #inflight = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(limit: number) {
    if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError(`StepGate limit must be a positive integer, got ${limit}`);
    this.#limit = limit;
  }

  get inflight(): number {
    return this.#inflight;
  }

  get waiting(): number {
    return this.#waiting.length;
  }

  /** Resolves once the caller holds a slot; the caller must release() it exactly once. */
  acquire(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#inflight < this.#limit) {
      this.#inflight++;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const grant = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = () => {
        const i = this.#waiting.indexOf(grant);
        if (i >= 0) this.#waiting.splice(i, 1);
        reject(signal!.reason);
      };
      this.#waiting.push(grant);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Hands the slot to the next waiter, if any. */
  release(): void {
    const next = this.#waiting.shift();
    if (next !== undefined) next();
    else this.#inflight = Math.max(0, this.#inflight - 1);
  }
}
