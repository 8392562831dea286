/**
 * A request's cancellation: the client cancelled, its deadline passed, or the ensemble it belongs
 * to failed. The core's replacement for a per-request AbortController (issue 13, part 3).
 *
 * Why not an AbortSignal: an AbortController is an EventTarget, and every request paid for one,
 * plus an 'abort' listener (a closure and a Listener record) in each layer that queued it, even
 * though almost no request is ever cancelled. A Cancellation costs one small object; everything
 * else is allocated only when it is needed:
 * - listeners are (listener, item) pairs, the listener a long-lived object (a batcher, an
 *   ensemble run) and the item the queued entry, so subscribing allocates no closure; the first
 *   pair is held in fields, further ones in an array made on the second subscribe;
 * - an AbortSignal exists only once a consumer asks for `.signal` (model code, a library that
 *   takes one), and it aborts with the same reason;
 * - a subclass may watch its source lazily (`watch`, called once, on the first subscribe or
 *   `.signal`) and report a cancellation it has not been told about yet (`probe`, read by
 *   `reason`/`aborted`): the gRPC front-end registers no listener on a call unless the request
 *   actually waits in a queue (see frontends/grpc/call-signal.ts).
 *
 * Invariants: the first cancel() wins and later ones are ignored; listeners are told at most once,
 * synchronously, in subscription order, and a listener unsubscribed before the cancel is never
 * told; subscribe() on a cancelled Cancellation does not call the listener (callers check `aborted` first, as
 * they check `signal.aborted`). Single-threaded like everything on the main thread: no locking.
 */
import { ErrorCode } from '../errors/error-codes.js';
import { errors } from '../errors/catalogue.js';
import { InferenceError } from '../errors/inference-error.js';

/** Told once when the Cancellation it subscribed to is cancelled; `item` is what it subscribed with. */
export interface CancelListener<T> {
  onCancel(item: T, reason: InferenceError | undefined): void;
}

type Pair = [CancelListener<unknown>, unknown];

export class Cancellation {
  #cancelled = false;
  #reason: InferenceError | undefined;
  #listener: CancelListener<unknown> | undefined;
  #item: unknown;
  #more: Pair[] | undefined;
  #controller: AbortController | undefined;
  #watching = false;

  /** True once cancelled (told, or found by probe()). */
  get aborted(): boolean {
    if (!this.#cancelled) this.#probeNow();
    return this.#cancelled;
  }

  /** Why: CANCELLED or DEADLINE_EXCEEDED from a front-end, the ensemble's failure for its steps; undefined when none was given. */
  get reason(): InferenceError | undefined {
    if (!this.#cancelled) this.#probeNow();
    return this.#reason;
  }

  /** Cancels (first call wins) and tells every subscribed listener, then aborts `.signal` if one was made. */
  cancel(reason?: InferenceError): void {
    if (this.#cancelled) return;
    this.#cancelled = true;
    this.#reason = reason;
    const l = this.#listener;
    const item = this.#item;
    const more = this.#more;
    this.#listener = undefined;
    this.#item = undefined;
    this.#more = undefined;
    if (l !== undefined) l.onCancel(item, reason);
    if (more !== undefined) for (const [ml, mi] of more) ml.onCancel(mi, reason);
    this.#controller?.abort(reason);
  }

  /** `listener.onCancel(item, reason)` on the cancel; until unsubscribe(listener, item). */
  subscribe<T>(listener: CancelListener<T>, item: T): void {
    if (this.#cancelled) return;
    this.#startWatching();
    if (this.#listener === undefined) {
      this.#listener = listener as CancelListener<unknown>;
      this.#item = item;
    } else {
      (this.#more ??= []).push([listener as CancelListener<unknown>, item]);
    }
  }

  /** Removes one (listener, item) pair; no effect when it is not subscribed. */
  unsubscribe<T>(listener: CancelListener<T>, item: T): void {
    if (this.#listener === listener && this.#item === item) {
      const next = this.#more?.shift();
      this.#listener = next?.[0];
      this.#item = next?.[1];
      return;
    }
    const more = this.#more;
    if (more === undefined) return;
    const i = more.findIndex((p) => p[0] === listener && p[1] === item);
    if (i >= 0) more.splice(i, 1);
  }

  /** An AbortSignal that aborts with this cancellation (made on first use; already aborted if cancelled). */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.aborted) this.#controller.abort(this.#reason);
      else this.#startWatching();
    }
    return this.#controller.signal;
  }

  /** A Cancellation that follows `signal` (for callers that hold an AbortSignal); its reason is kept when it is an InferenceError. */
  static fromSignal(signal: AbortSignal): Cancellation {
    const c = new Cancellation();
    const reasonOf = () => (signal.reason instanceof InferenceError ? signal.reason : undefined);
    if (signal.aborted) c.cancel(reasonOf());
    else signal.addEventListener('abort', () => c.cancel(reasonOf()), { once: true });
    return c;
  }

  /** Subclasses: start listening to the source; called at most once, when someone first needs to be told. */
  protected watch(): void {}

  /** Subclasses: the reason if the source was cancelled without telling this object yet, else undefined (not cancelled). */
  protected probe(): InferenceError | undefined {
    return undefined;
  }

  #startWatching(): void {
    if (this.#watching) return;
    this.#watching = true;
    this.watch();
  }

  #probeNow(): void {
    const r = this.probe();
    if (r !== undefined) this.cancel(r);
  }
}

/**
 * The error a request cancelled with `reason` fails with: the front-end's CANCELLED or
 * DEADLINE_EXCEEDED as given, CANCELLED for `model` otherwise (no reason, or an ensemble's failure
 * passed down to its steps).
 */
export function cancelError(reason: InferenceError | undefined, model: string, version: string | number): InferenceError {
  if (reason !== undefined && (reason.code === ErrorCode.CANCELLED || reason.code === ErrorCode.DEADLINE_EXCEEDED)) return reason;
  return errors.cancelled(model, version);
}
