/**
 * A one-shot timer with sub-millisecond precision for the batcher's queue delay and timeouts.
 *
 * Why not plain setTimeout: libuv timers have millisecond resolution and fire on the loop's
 * cached clock, so a 500 µs max_queue_delay became 1–2 ms, which is most of a small model's
 * latency. This timer sleeps on setTimeout until less than SPIN_WINDOW_NS remains, then re-checks
 * the monotonic clock on setImmediate, which yields to I/O on every turn. The cost is bounded:
 * at most one spin window of event-loop turns per armed deadline.
 */
import { nowNs } from '../util/clock.js';

const SPIN_WINDOW_NS = 1_000_000;
/** setTimeout's largest delay; a longer one (a config's 2^64 - 1 µs timeout) is slept in steps. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

export class DeadlineTimer {
  readonly #fire: () => void;
  #timeout: NodeJS.Timeout | undefined;
  #immediate: NodeJS.Immediate | undefined;
  #atNs = 0;

  constructor(fire: () => void) {
    this.#fire = fire;
  }

  get armed(): boolean {
    return this.#timeout !== undefined || this.#immediate !== undefined;
  }

  /** Arms for `atNs` (monotonic ns) unless already armed for an earlier or equal time. */
  arm(atNs: number): void {
    if (this.armed && this.#atNs <= atNs) return;
    this.clear();
    this.#atNs = atNs;
    this.#wait();
  }

  clear(): void {
    if (this.#timeout !== undefined) clearTimeout(this.#timeout);
    if (this.#immediate !== undefined) clearImmediate(this.#immediate);
    this.#timeout = undefined;
    this.#immediate = undefined;
  }

  #wait(): void {
    const remaining = this.#atNs - nowNs();
    if (remaining <= 0) {
      this.#immediate = setImmediate(() => this.#due());
    } else if (remaining > SPIN_WINDOW_NS) {
      this.#timeout = setTimeout(() => {
        this.#timeout = undefined;
        this.#wait();
      }, Math.min(MAX_TIMEOUT_MS, Math.floor((remaining - SPIN_WINDOW_NS) / 1e6)));
    } else {
      this.#immediate = setImmediate(() => {
        this.#immediate = undefined;
        this.#wait();
      });
    }
  }

  #due(): void {
    this.#immediate = undefined;
    this.#fire();
  }
}
