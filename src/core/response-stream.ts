/**
 * The response path for requests that may answer 0..N times (ModelStreamInfer, and later decoupled
 * models): a protocol-neutral sink the core writes to and a front-end drains.
 *
 * Contract for every producer (InferenceService.inferStream, a future decoupled backend):
 * - send() is called 0..N times for one request; exactly one call carries `final: true`, and it is
 *   the last. A call with `final: true` may carry no response (`response` undefined): the request
 *   finished without producing another one (Triton's empty final response, which a front-end only
 *   writes when the client asked for it with `triton_enable_empty_final_response`).
 * - accepted() is called once, before any send(), when the request passed validation and entered
 *   its model's scheduler (Triton's InferAsync returned). A front-end uses it to tell a setup
 *   error (Triton keeps only the request id) from an error of an accepted request (it keeps id,
 *   model and the final flag).
 * - An error ends the request instead of a final send(): inferStream rejects with InferenceError,
 *   and no send() follows.
 * - For models that are not decoupled there is exactly one send(response, final = true).
 */
import type { InferenceResponse } from './inference-request.js';
import type { Tensor } from './tensor.js';
import type { InferenceError } from '../errors/inference-error.js';

export interface ResponseSink {
  accepted(): void;
  send(response: InferenceResponse | undefined, final: boolean): void;
}

/** The request-level parameter that asks for an empty final response (Triton's name). */
export const EMPTY_FINAL_RESPONSE_PARAM = 'triton_enable_empty_final_response';
/** The response parameter that marks the last response of a request on a stream (Triton's name). */
export const FINAL_RESPONSE_PARAM = 'triton_final_response';

/**
 * The producer side for a request of a decoupled model: InferenceService.inferStream sets one on
 * the request (InferenceRequest.responses), the scheduler hands it to the instance
 * (BatchRequest.responses) and the instance calls it as the model answers, from any time after
 * execute started until the final flag, also after execute settled. Calls after the request
 * ended (final, failed, cancelled) are ignored.
 */
export interface RequestResponses {
  /** One response (the request's outputs, in its outputNames order) or, with final, none. */
  send(outputs: Tensor[] | undefined, final: boolean): void;
  /** The request failed; nothing follows. */
  fail(err: InferenceError): void;
}
