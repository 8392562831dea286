/**
 * ModelStreamInfer: one bidirectional stream carrying many ModelInferRequests, each answered by
 * ModelStreamInferResponse messages written through the core's ResponseSink (0..N per request,
 * the last one flagged `triton_final_response`), PROTOCOL.md §5.9.
 *
 * Invariants:
 * - Requests are decoded with the same converter as unary ModelInfer, so every input rule is
 *   shared. A failed request answers `error_message` on the stream and the stream goes on, unless
 *   the client sent the `triton_grpc_error: true` header: then the first error ends the stream
 *   with its real gRPC status (Triton's opt-in).
 * - Responses are written as requests complete, so independent requests may answer out of order
 *   (match them by `infer_response.id`); requests of one sequence complete in order because the
 *   sequence batcher runs them one at a time.
 * - The stream ends (OK) once the client half-closed and every accepted request has answered.
 * - Client cancellation (or a broken stream) aborts every request still queued.
 * - Bounded memory: reading pauses while MAX_STREAM_INFLIGHT requests are unanswered or while
 *   grpc-js reports its write buffer full, and resumes on drain; HTTP/2 flow control then
 *   pushes back on the client.
 */
import type { ServerDuplexStream } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { ModelInferRequest__Output } from '../../generated/inference/ModelInferRequest.js';
import type { InferParameter } from '../../generated/inference/InferParameter.js';
import type { ModelStreamInferResponse } from '../../generated/inference/ModelStreamInferResponse.js';
import type { InferenceService } from '../../core/inference-service.js';
import type { InferenceResponse } from '../../core/inference-request.js';
import { EMPTY_FINAL_RESPONSE_PARAM, FINAL_RESPONSE_PARAM, type ResponseSink } from '../../core/response-stream.js';
import { errors } from '../../errors/catalogue.js';
import { InferenceError } from '../../errors/inference-error.js';
import { logOutcome } from '../../observability/log-policy.js';
import { toInferenceRequest, toModelInferResponse } from './grpc-convert.js';
import { toServiceError } from './grpc-status.js';
import { refusal } from './bounded-deserialize.js';
import { Cancellation } from '../../core/cancellation.js';

type Stream = ServerDuplexStream<ModelInferRequest__Output, ModelStreamInferResponse>;

/** Unanswered requests on one stream before the server stops reading from it. */
export const MAX_STREAM_INFLIGHT = 256;

const RPC = 'ModelStreamInfer';

/** Stands in for a request the wire scan refused: nothing of it was decoded. */
const REFUSED_MESSAGE = { id: '', model_name: '', model_version: '' } as ModelInferRequest__Output;

export function streamInferHandler(svc: InferenceService, log: Logger): (call: Stream) => void {
  return (call) => new StreamSession(call, svc, log).start();
}

class StreamSession {
  readonly #call: Stream;
  readonly #svc: InferenceService;
  readonly #log: Logger;
  /** Abort of each unanswered request, with the error it fails with while queued. */
  readonly #aborts = new Set<() => void>();
  readonly #endOnError: boolean;
  #inflight = 0;
  #halfClosed = false;
  #closed = false;
  #writeBlocked = false;
  #paused = false;

  constructor(call: Stream, svc: InferenceService, log: Logger) {
    this.#call = call;
    this.#svc = svc;
    this.#log = log;
    this.#endOnError = String(call.metadata.get('triton_grpc_error')[0] ?? '').toLowerCase() === 'true';
  }

  start(): void {
    const call = this.#call;
    call.on('data', (msg: ModelInferRequest__Output) => this.#onRequest(msg));
    call.on('end', () => {
      this.#halfClosed = true;
      this.#finishIfDone();
    });
    call.on('cancelled', () => this.#abortAll());
    call.on('error', () => this.#abortAll());
    call.on('drain', () => {
      this.#writeBlocked = false;
      this.#flow();
    });
  }

  #onRequest(msg: ModelInferRequest__Output): void {
    if (this.#closed) return;
    // A message the wire scan refused (bounded-deserialize.ts) is answered on the stream like any
    // failed request; it has no id to echo, and the stream goes on.
    const refused = refusal(msg);
    if (refused !== undefined) {
      this.#fail(REFUSED_MESSAGE, refused, false);
      return;
    }
    this.#inflight++;
    const cancellation = new Cancellation();
    const abort = () => cancellation.cancel(errors.cancelled(msg.model_name, msg.model_version));
    this.#aborts.add(abort);
    let accepted = false;
    const done = () => {
      this.#aborts.delete(abort);
      this.#inflight--;
      this.#flow();
      this.#finishIfDone();
    };
    this.#flow();
    const sink: ResponseSink = {
      accepted: () => {
        accepted = true;
      },
      send: (r, final) => this.#send(msg, r, final),
    };
    Promise.resolve()
      .then(() => this.#svc.inferStream(toInferenceRequest(msg, cancellation), sink))
      .catch((e: unknown) => this.#fail(msg, InferenceError.from(e), accepted))
      .finally(done);
  }

  #send(msg: ModelInferRequest__Output, r: InferenceResponse | undefined, final: boolean): void {
    if (r === undefined) {
      const p = msg.parameters[EMPTY_FINAL_RESPONSE_PARAM];
      if (!final || p?.parameter_choice !== 'bool_param' || p.bool_param !== true) return;
      this.#write({ infer_response: { id: msg.id, model_name: msg.model_name, model_version: msg.model_version, parameters: finalFlag(true) } });
      return;
    }
    const res = toModelInferResponse(r);
    res.parameters = finalFlag(final);
    this.#write({ infer_response: res });
  }

  /** Setup errors keep only the request id; errors of an accepted request keep its model and the final flag. */
  #fail(msg: ModelInferRequest__Output, err: InferenceError, accepted: boolean): void {
    logOutcome(this.#log, RPC, err);
    if (this.#closed) return;
    if (this.#endOnError) {
      this.#closed = true;
      this.#abortAll();
      this.#call.emit('error', toServiceError(err));
      return;
    }
    this.#write({
      error_message: err.message,
      infer_response: accepted
        ? { id: msg.id, model_name: msg.model_name, model_version: msg.model_version, parameters: finalFlag(true) }
        : { id: msg.id },
    });
  }

  #write(m: ModelStreamInferResponse): void {
    if (this.#closed || this.#call.cancelled) return;
    if (!this.#call.write(m)) {
      this.#writeBlocked = true;
      this.#flow();
    }
  }

  /** Pauses reading while the stream is saturated; resumes when it is not. */
  #flow(): void {
    const saturated = this.#writeBlocked || this.#inflight >= MAX_STREAM_INFLIGHT;
    if (saturated && !this.#paused) {
      this.#paused = true;
      this.#call.pause();
    } else if (!saturated && this.#paused) {
      this.#paused = false;
      this.#call.resume();
    }
  }

  #finishIfDone(): void {
    if (this.#closed || !this.#halfClosed || this.#inflight > 0) return;
    this.#closed = true;
    this.#call.end();
  }

  #abortAll(): void {
    for (const abort of [...this.#aborts]) abort();
  }
}

function finalFlag(final: boolean): Record<string, InferParameter> {
  return { [FINAL_RESPONSE_PARAM]: { bool_param: final } };
}
