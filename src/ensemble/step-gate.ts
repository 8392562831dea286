/**
 * max_inflight_requests for one ensemble step: at most `limit` requests of that step are in flight
 * across all of the ensemble's requests; the rest wait here, FIFO, holding no resource. A waiter
 * whose cancellation fires leaves the line and rejects with the cancellation's reason.
 */
import type { Cancellation, CancelListener } from '../core/cancellation.js';

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
  acquire(cancellation?: Cancellation): Promise<void> {
    if (cancellation?.aborted === true) return Promise.reject(cancellation.reason);
    if (this.#inflight < this.#limit) {
      this.#inflight++;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const grant = () => {
        cancellation?.unsubscribe(LEAVE, waiter);
        resolve();
      };
      const waiter: Waiter = { gate: this.#waiting, grant, reject };
      this.#waiting.push(grant);
      cancellation?.subscribe(LEAVE, waiter);
    });
  }

  /** Hands the slot to the next waiter, if any. */
  release(): void {
    const next = this.#waiting.shift();
    if (next !== undefined) next();
    else this.#inflight = Math.max(0, this.#inflight - 1);
  }
}

/** A waiter in line: what LEAVE needs to take it out and reject it. */
interface Waiter {
  readonly gate: (() => void)[];
  readonly grant: () => void;
  readonly reject: (e: unknown) => void;
}

const LEAVE: CancelListener<Waiter> = {
  onCancel: (w, reason) => {
    const i = w.gate.indexOf(w.grant);
    if (i >= 0) w.gate.splice(i, 1);
    w.reject(reason);
  },
};
