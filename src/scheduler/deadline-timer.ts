/**
 * A one-shot timer with sub-millisecond precision for the batcher's queue delay and timeouts.
 *
 * Why not plain setTimeout: libuv timers have millisecond resolution and fire on the loop's
 * cached clock, so a 500 µs max_queue_delay became 1–2 ms, which is most of a small model's
 * latency (Triton's delays are in µs). Three stages:
 *   1. setTimeout until less than FINE_WINDOW_NS (2 ms) remains;
 *   2. the process's wake thread (wake-thread.ts), which sleeps precisely off the loop, until
 *      SPIN_TAIL_NS (100 µs) before the deadline: the loop idles in epoll meanwhile;
 *   3. re-checking the clock on setImmediate for that last tail, which yields to I/O every turn.
 * The tail absorbs the thread's wake-up latency (two thread switches, tens of µs on an idle
 * machine) so the deadline is kept to the µs, at a tenth of the spin the earlier design paid: it
 * re-checked on setImmediate for the whole last millisecond of every armed window, a core kept
 * busy for every batching window (issue 13, part 4). Without the thread (it failed to start) the
 * spin covers the whole FINE window, as before. Never fires before the deadline.
 */
import { nowNs } from '../util/clock.js';
import { wakeThread, type Waker } from './wake-thread.js';

/** Below this, setTimeout's millisecond granularity (and late firing) would miss the deadline. */
const FINE_WINDOW_NS = 2_000_000;
/** The last stretch re-checked on setImmediate, covering the wake thread's latency. */
const SPIN_TAIL_NS = 100_000;
/** setTimeout's largest delay; a longer one (a config's 2^64 - 1 µs timeout) is slept in steps. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

export class DeadlineTimer implements Waker {
  readonly #fire: () => void;
  #timeout: NodeJS.Timeout | undefined;
  #immediate: NodeJS.Immediate | undefined;
  /** Waiting on the wake thread. */
  #fine = false;
  #atNs = 0;

  constructor(fire: () => void) {
    this.#fire = fire;
    wakeThread(); // started with its first timer, so the first delay window does not wait for it to boot
  }

  get armed(): boolean {
    return this.#timeout !== undefined || this.#immediate !== undefined || this.#fine;
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
    if (this.#fine) wakeThread().cancel(this);
    this.#timeout = undefined;
    this.#immediate = undefined;
    this.#fine = false;
  }

  /** Wake thread callback (Waker): due, or woken early by another waker's wake-up. */
  wake(): void {
    this.#fine = false;
    this.#wait();
  }

  #wait(): void {
    const remaining = this.#atNs - nowNs();
    if (remaining <= 0) {
      this.#immediate = setImmediate(() => this.#due());
    } else if (remaining > FINE_WINDOW_NS) {
      this.#timeout = setTimeout(() => {
        this.#timeout = undefined;
        this.#wait();
      }, Math.min(MAX_TIMEOUT_MS, Math.floor((remaining - FINE_WINDOW_NS) / 1e6)));
    } else if (remaining > SPIN_TAIL_NS && wakeThread().available) {
      this.#fine = true;
      wakeThread().wakeAt(this, this.#atNs - SPIN_TAIL_NS);
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
