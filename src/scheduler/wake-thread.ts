/**
 * Sub-millisecond wake-ups without spinning the event loop (issue 13, part 4).
 *
 *   main thread                          wake thread (one per process)
 *   wakeAt(t): at = min(at, t) ──notify──▶ Atomics.wait(gen, remaining ms, fractional)
 *   'message' → each due Waker.wake() ◀── at reached: at = ∞, postMessage
 *
 * Why a thread: libuv timers have millisecond resolution and run on the loop's cached clock, and
 * Atomics.waitAsync's own timeout goes through the same millisecond timers, so the only
 * sub-millisecond sleep in Node that does not burn a core is a blocking Atomics.wait with a
 * fractional timeout (a timed condition-variable wait), which must not run on the main thread.
 * The thread sleeps until the earliest wake-up any Waker asked for and posts one message (one
 * per wake-up, not per request): the loop sleeps in epoll meanwhile and serves I/O as usual.
 * Not Atomics.waitAsync for the way back: its promise resolves from a platform task that runs no
 * microtask checkpoint, so on an idle loop the `.then` waited for unrelated I/O (measured: a
 * 700 µs wait took 309 ms). The previous design re-checked the clock on
 * setImmediate for the last millisecond of every wait, which kept the loop (a whole core on a
 * small machine, taken from the instance workers) busy for every batching window.
 *
 * Invariants: the shared wake time only moves earlier while armed (a later request is folded in
 * at the next wake); the thread clears it with compareExchange, so a request made while it fires
 * is never lost; a Waker woken early (the wake served an earlier Waker) is simply asked again.
 * Both threads read the same monotonic clock (process.hrtime, process-wide). The worker is
 * unref'd; a keep-alive timer handle is ref'd only while a wake-up is pending, so a pending wake
 * keeps the process alive as a setTimeout would, and an idle thread never does. If the thread cannot be started, `available` is false and
 * callers fall back to their own wait; if it dies, pending wakers are woken at once to do so.
 */
import { Worker } from 'node:worker_threads';
import { nowNs } from '../util/clock.js';

export interface Waker {
  /** Called on the main thread at or after `atNs` (nowNs clock). */
  wake(): void;
}

const NEVER = 2n ** 63n - 1n;

/** The thread: sleeps until `at`, re-reading it whenever `gen` changes. Plain JS, evaluated in the worker. */
const THREAD_SOURCE = `
const { workerData, parentPort } = require('node:worker_threads');
const ctl = new Int32Array(workerData.ctl);
const at = new BigInt64Array(workerData.at);
const NEVER = ${NEVER}n;
for (;;) {
  const gen = Atomics.load(ctl, 0);
  const target = Atomics.load(at, 0);
  if (target === NEVER) { Atomics.wait(ctl, 0, gen); continue; }
  const remaining = target - process.hrtime.bigint();
  if (remaining > 0n) { Atomics.wait(ctl, 0, gen, Number(remaining) / 1e6); continue; }
  if (Atomics.compareExchange(at, 0, target, NEVER) !== target) continue;
  parentPort.postMessage(0);
}
`;

class WakeThread {
  /** [0] generation, bumped when `at` changes. */
  readonly #ctl = new Int32Array(new SharedArrayBuffer(4));
  /** The earliest requested wake-up, hrtime ns; NEVER = none. */
  readonly #at = new BigInt64Array(new SharedArrayBuffer(8));
  readonly #due = new Map<Waker, number>();
  /**
   * Ref'd only while a wake-up is pending, so a pending wake keeps the process alive. A timer
   * handle, not the worker: Worker.ref() after unref() did not reliably hold the loop (measured:
   * a process exited with a wake pending).
   */
  readonly #keepAlive = setInterval(() => undefined, 2 ** 31 - 1);
  /** False when the thread could not start or has died: callers wait by themselves. */
  available: boolean;

  constructor() {
    Atomics.store(this.#at, 0, NEVER);
    this.#keepAlive.unref();
    let worker: Worker | undefined;
    try {
      // execArgv []: the parent's flags (e.g. --input-type=module) would make the CommonJS source fail to start.
      worker = new Worker(THREAD_SOURCE, { eval: true, execArgv: [], workerData: { ctl: this.#ctl.buffer, at: this.#at.buffer } });
      // Listeners first: adding a 'message' listener refs the worker's port again.
      worker.on('message', () => this.#fired());
      worker.on('error', () => this.#lost());
      worker.on('exit', () => this.#lost());
      worker.unref();
    } catch {
      worker = undefined;
    }
    this.available = worker !== undefined;
  }

  /** `waker.wake()` at or after `atNs`; replaces an earlier request of the same waker. */
  wakeAt(waker: Waker, atNs: number): void {
    if (this.#due.size === 0) this.#keepAlive.ref();
    this.#due.set(waker, atNs);
    this.#request(atNs);
  }

  cancel(waker: Waker): void {
    if (this.#due.delete(waker) && this.#due.size === 0) this.#keepAlive.unref();
  }

  #request(atNs: number): void {
    const t = BigInt(Math.ceil(atNs));
    if (t >= Atomics.load(this.#at, 0)) return;
    Atomics.store(this.#at, 0, t);
    Atomics.add(this.#ctl, 0, 1);
    Atomics.notify(this.#ctl, 0);
  }

  /** The thread is gone: every pending waker is woken now and, seeing `available` false, waits by itself. */
  #lost(): void {
    if (!this.available) return;
    this.available = false;
    const pending = [...this.#due.keys()];
    this.#due.clear();
    this.#keepAlive.unref();
    for (const w of pending) w.wake();
  }

  #fired(): void {
    const now = nowNs();
    let next = Number.POSITIVE_INFINITY;
    const woken: Waker[] = [];
    for (const [w, at] of this.#due) {
      if (at <= now) woken.push(w);
      else next = Math.min(next, at);
    }
    for (const w of woken) this.#due.delete(w);
    if (this.#due.size === 0) this.#keepAlive.unref();
    if (Number.isFinite(next)) this.#request(next);
    for (const w of woken) w.wake();
  }
}

let thread: WakeThread | undefined;

/** The process's wake thread, started on first use. */
export function wakeThread(): WakeThread {
  return (thread ??= new WakeThread());
}
