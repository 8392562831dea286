/**
 * The core's side of one request of a decoupled model (InferenceService.inferStream): the
 * RequestResponses the instance writes to, turned into the front-end's ResponseSink calls.
 *
 * Invariants:
 * - The request ends once: at its final send, at fail(), or when its signal aborts (client
 *   cancel, disconnect, deadline); `ended` settles then, and every later call is ignored, so a
 *   model that answers after the client left writes nothing.
 * - sink.send() carries `final` exactly once, last (ResponseSink contract); a failure sends no
 *   final and rejects `ended` instead.
 */
import type { InferenceResponse, OutputTensor } from './inference-request.js';
import type { RequestResponses, ResponseSink } from './response-stream.js';
import type { Tensor } from './tensor.js';
import { errors } from '../errors/catalogue.js';
import { ErrorCode } from '../errors/error-codes.js';
import { InferenceError } from '../errors/inference-error.js';
import { deferred } from '../util/deferred.js';

export interface DecoupledTarget {
  readonly id: string;
  readonly modelName: string;
  readonly modelVersion: string;
  readonly sink: ResponseSink;
  /** The request's outputs as a response carries them (classification applied). */
  readonly outputs: (tensors: readonly Tensor[]) => OutputTensor[];
  readonly signal: AbortSignal | undefined;
}

export class DecoupledResponses implements RequestResponses {
  readonly #t: DecoupledTarget;
  readonly #ended = deferred<void>();
  #done = false;
  #onAbort: (() => void) | undefined;
  /** Responses sent so far (the final flag alone not counted). */
  count = 0;

  constructor(t: DecoupledTarget) {
    this.#t = t;
    // Whoever awaits `ended` sees the rejection; this only keeps an early one from being unhandled.
    this.#ended.promise.catch(() => undefined);
    const signal = t.signal;
    if (signal !== undefined) {
      const onAbort = (): void => this.fail(abortReason(signal, t.modelName, t.modelVersion));
      this.#onAbort = () => signal.removeEventListener('abort', onAbort);
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
    }
  }

  /** Settles when the request ended: resolves at its final response, rejects with its error. */
  get ended(): Promise<void> {
    return this.#ended.promise;
  }

  send(tensors: Tensor[] | undefined, final: boolean): void {
    if (this.#done) return;
    let response: InferenceResponse | undefined;
    if (tensors !== undefined) {
      const t = this.#t;
      try {
        response = { id: t.id, modelName: t.modelName, modelVersion: t.modelVersion, parameters: {}, outputs: t.outputs(tensors) };
      } catch (e) {
        this.fail(InferenceError.from(e));
        return;
      }
      this.count++;
    }
    if (final) this.#end();
    this.#t.sink.send(response, final);
    if (final) this.#ended.resolve();
  }

  fail(err: InferenceError): void {
    if (this.#done) return;
    this.#end();
    this.#ended.reject(err);
  }

  /** The request ended some other way (it never started, or its batch failed). */
  close(err: unknown): void {
    this.fail(InferenceError.from(err));
  }

  #end(): void {
    this.#done = true;
    this.#onAbort?.();
  }
}

function abortReason(signal: AbortSignal, model: string, version: string): InferenceError {
  const r: unknown = signal.reason;
  if (r instanceof InferenceError && (r.code === ErrorCode.CANCELLED || r.code === ErrorCode.DEADLINE_EXCEEDED)) return r;
  return errors.cancelled(model, version);
}

/** Triton's wording for a unary request to a decoupled model (UNSUPPORTED: gRPC UNIMPLEMENTED, HTTP 501). */
export function decoupledUnaryError(endpoint: string): InferenceError {
  return errors.unsupported(`${endpoint} doesn't support models with decoupled transaction policy`);
}
