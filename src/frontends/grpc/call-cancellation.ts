/**
 * A gRPC call's cancellation (client cancel or deadline) as the core's Cancellation, whose reason
 * is the InferenceError the request fails with if it is still queued: DEADLINE_EXCEEDED when the
 * call's deadline has passed, CANCELLED otherwise.
 *
 * Lazy (issue 13, part 3): nothing listens on the call until a consumer subscribes (a request that
 * waits in a queue) or asks for `.signal`; a request dispatched straight to an idle instance never
 * registers a listener. Before that, `aborted` reads grpc-js's own `call.cancelled` flag, so a call
 * cancelled before it reached a queue is still seen when the scheduler checks it. The listener is
 * one module-level function (EventEmitter calls it with the call as `this`) that finds its
 * Cancellation through a symbol property: no closure per call.
 *
 * The handler calls finish() once the call is answered: grpc-js emits 'cancelled' after sending
 * the status of every call (server-interceptors notifyOnCancel), and that must not count as a
 * cancel (it would build a CANCELLED error, stack and all, per answered request). A flag, not
 * removeListener: removing an emitter's last listener allocates a fresh events object.
 */
import type { ServerUnaryCall } from '@grpc/grpc-js';
import { errors } from '../../errors/catalogue.js';
import type { InferenceError } from '../../errors/inference-error.js';
import { Cancellation } from '../../core/cancellation.js';

const OWNER = Symbol('infera.callCancellation');

type Call = ServerUnaryCall<unknown, unknown> & { [OWNER]?: CallCancellation };

function onCallCancelled(this: Call): void {
  const c = this[OWNER];
  if (c !== undefined && !c.finished) c.cancel(c.callReason());
}

export class CallCancellation extends Cancellation {
  readonly #call: Call;
  readonly #model: string;
  readonly #version: string;
  /** The call was answered: later 'cancelled' events and flags are grpc-js's end of call, not a cancel. */
  finished = false;

  constructor(call: ServerUnaryCall<unknown, unknown>, model: string, version: string) {
    super();
    this.#call = call;
    this.#model = model;
    this.#version = version;
  }

  /** The call is answered (success or error); call once, after the last use of the request. */
  finish(): void {
    this.finished = true;
  }

  /** DEADLINE_EXCEEDED when the call's deadline has passed, CANCELLED otherwise. */
  callReason(): InferenceError {
    const deadline = this.#call.getDeadline();
    const ms = deadline instanceof Date ? deadline.getTime() : deadline;
    const expired = Number.isFinite(ms) && Date.now() >= ms;
    return expired ? errors.deadlineExceeded(this.#model, this.#version) : errors.cancelled(this.#model, this.#version);
  }

  protected override watch(): void {
    this.#call[OWNER] = this;
    // grpc-js emits 'cancelled' at most once per call; `on` avoids once()'s wrapper objects.
    this.#call.on('cancelled', onCallCancelled);
  }

  protected override probe(): InferenceError | undefined {
    return this.#call.cancelled && !this.finished ? this.callReason() : undefined;
  }
}
