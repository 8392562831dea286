import type { DataType } from './datatype.js';
import type { Parameters, Tensor } from './tensor.js';
import type { RequestTrace, TraceContextHeaders } from '../observability/trace/request-trace.js';
import type { RequestResponses } from './response-stream.js';
import type { Cancellation } from './cancellation.js';

/** An input as a front-end hands it to the core; `data` holds raw bytes (typed contents already encoded). */
export interface InputTensor extends Tensor {
  parameters: Parameters;
}

export interface RequestedOutput {
  name: string;
  parameters: Parameters;
}

/**
 * The protocol-neutral inference request. Front-ends build it; nothing here is protobuf or JSON.
 * `modelVersion` "" means "the highest READY version" (PROTOCOL.md §5.1).
 * `outputs` empty means "all outputs of the model config".
 * `cancellation` is cancelled when the client cancels or its deadline passes; queued work leaves
 * the queue. It is a Cancellation, not an AbortSignal, so a request that is never cancelled
 * allocates no AbortController or listener (core/cancellation.ts; `.signal` makes one on demand).
 */
export interface InferenceRequest {
  id: string;
  modelName: string;
  modelVersion: string;
  parameters: Parameters;
  inputs: InputTensor[];
  outputs: RequestedOutput[];
  cancellation?: Cancellation;
  /** W3C trace context the client sent (traceparent metadata / header); only read when traced. */
  traceContext?: TraceContextHeaders;
  /** The trace of the ensemble request this step belongs to (set by the ensemble, not front-ends). */
  parentTrace?: RequestTrace;
  /**
   * Set on a BLS call (a request a model makes from execute()): the models up its call chain, the
   * calling one last. Ensemble steps inherit it, so a cycle through an ensemble is seen too.
   */
  blsCallers?: readonly string[];
  /** Set by the core when this request is traced; the scheduler stamps its compute phases. */
  trace?: RequestTrace;
  /** Set by the core for a request of a decoupled model (inferStream): where its 0..N responses go. */
  responses?: RequestResponses;
}

export interface OutputTensor extends Tensor {
  parameters: Parameters;
}

export interface InferenceResponse {
  id: string;
  modelName: string;
  modelVersion: string;
  parameters: Parameters;
  outputs: OutputTensor[];
}

export type { DataType };
