/**
 * The main-thread side of BLS calls from a worker-hosted instance (the worker side is
 * bls-client.ts): turns a bls-call message into an InternalInferCall, runs it through the
 * server's entry (ModelLoadContext.infer, i.e. the callee's own scheduler) and posts the answer
 * back on the session's channel (session-channel.ts): by the shared ring, output bytes copied into
 * shared memory, or by the port, output bytes in the transfer list.
 *
 * What the call inherits from its parent request (BatchRequest of the batch making the call):
 * - cancellation and deadline: the parent's signal is the child's signal, so a client cancelling
 *   the parent (or its deadline passing) takes the child out of the callee's queue;
 * - the trace: the child is traced as the parent's child span;
 * - the call chain: the parent's callers (without a parent, those of every request of the batch)
 *   plus this model, which the service checks (a model calling itself, or a model that is calling
 *   it, is refused instead of waiting on itself).
 * A call with its own timeout, or a streaming call (which bls-cancel can end), gets a signal of
 * its own that also follows the parent's. Nothing here runs a model: the event loop only posts.
 */
import type { BatchRequest, InternalInfer, InternalInferCall, InternalInferResult } from '../backends/backend.js';
import { ErrorCode } from '../errors/error-codes.js';
import { errors } from '../errors/catalogue.js';
import { InferenceError } from '../errors/inference-error.js';
import type { SessionChannel } from './session-channel.js';
import { fromWireTensor, wireView, type BlsCallMessage, type BlsResponseMessage } from './worker-messages.js';

export interface BlsHostOptions {
  modelName: string;
  /** The server's entry; absent = every call fails with UNAVAILABLE. */
  infer: InternalInfer | undefined;
  /** The requests of the batch `id` while it executes; undefined once it finished. */
  batchRequests(id: number): readonly BatchRequest[] | undefined;
  /** A call of batch `id` started (true) or settled (false): the watchdog does not count a batch's waits on its calls. */
  onCall?(id: number, started: boolean): void;
}

export class BlsHost {
  readonly #o: BlsHostOptions;
  /** Streaming calls and calls with a timeout, by callId: aborted by bls-cancel. */
  readonly #cancellable = new Map<number, AbortController>();

  constructor(o: BlsHostOptions) {
    this.#o = o;
  }

  call(msg: BlsCallMessage, port: SessionChannel): void {
    const infer = this.#o.infer;
    if (infer === undefined) {
      reply(port, { type: 'bls-response', id: msg.callId, final: true, error: errors.unavailable(`model '${this.#o.modelName}': this server offers no BLS calls`).serialize() });
      return;
    }
    const batch = this.#o.batchRequests(msg.id);
    const parent = msg.request >= 0 ? batch?.[msg.request] : undefined;
    const call: InternalInferCall = {
      model: msg.model, version: msg.version, inputs: msg.inputs.map(fromWireTensor), outputs: msg.outputs,
      parameters: msg.parameters, callers: callChain(this.#o.modelName, parent, batch),
      signal: this.#signal(msg, parent?.signal), parentTrace: parent?.trace,
    };
    const onResponse = msg.stream ? (r: InternalInferResult) => answer(port, msg.callId, false, r) : undefined;
    this.#o.onCall?.(msg.id, true);
    infer(call, onResponse).then(
      (r) => answer(port, msg.callId, true, msg.stream ? undefined : r),
      (e: unknown) => reply(port, { type: 'bls-response', id: msg.callId, final: true, error: InferenceError.from(e).serialize() }),
    ).finally(() => {
      this.#cancellable.delete(msg.callId);
      this.#o.onCall?.(msg.id, false);
    });
  }

  /** The model stopped reading a streaming call. */
  cancel(callId: number): void {
    this.#cancellable.get(callId)?.abort(new InferenceError(ErrorCode.CANCELLED, `BLS call of model '${this.#o.modelName}' was cancelled by the model`));
  }

  /** Cancels every call still running (the instance's worker died or it is finalized). */
  cancelAll(): void {
    for (const id of [...this.#cancellable.keys()]) this.cancel(id);
  }

  #signal(msg: BlsCallMessage, parent: AbortSignal | undefined): AbortSignal | undefined {
    if (!msg.stream && msg.timeoutMs === undefined) return parent;
    const own = new AbortController();
    this.#cancellable.set(msg.callId, own);
    const signals = [own.signal];
    if (parent !== undefined) signals.push(parent);
    if (msg.timeoutMs !== undefined) {
      const timeout = AbortSignal.timeout(msg.timeoutMs);
      // AbortSignal.timeout's reason is a DOMException; the batcher reports it as DEADLINE_EXCEEDED through ours.
      timeout.addEventListener('abort', () => own.abort(errors.deadlineExceeded(msg.model, msg.version)), { once: true });
    }
    return signals.length === 1 ? own.signal : AbortSignal.any(signals);
  }
}

/**
 * The models the call waits under: the parent's chain, or without a parent every chain of the
 * batch (any of its requests may be the one waiting), then the calling model.
 */
function callChain(model: string, parent: BatchRequest | undefined, batch: readonly BatchRequest[] | undefined): string[] {
  const up = parent !== undefined ? (parent.callers ?? []) : [...new Set((batch ?? []).flatMap((r) => r.callers ?? []))];
  return [...up, model];
}

function answer(port: SessionChannel, callId: number, final: boolean, r: InternalInferResult | undefined): void {
  const msg: BlsResponseMessage = { type: 'bls-response', id: callId, final };
  if (r !== undefined) {
    msg.response = { model: r.modelName, version: r.modelVersion, outputs: r.outputs.map(wireView), parameters: r.parameters };
  }
  reply(port, msg);
}

/** A closed port (the worker died or the session ended) drops the answer: nobody waits for it. */
function reply(port: SessionChannel, msg: BlsResponseMessage): void {
  try {
    port.postMessage(msg);
  } catch {
    // The session is gone.
  }
}
