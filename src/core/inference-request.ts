import type { DataType } from './datatype.js';
import type { Parameters, Tensor } from './tensor.js';

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
 * `signal` aborts when the client cancels or its deadline passes; queued work leaves the queue.
 */
export interface InferenceRequest {
  id: string;
  modelName: string;
  modelVersion: string;
  parameters: Parameters;
  inputs: InputTensor[];
  outputs: RequestedOutput[];
  signal?: AbortSignal;
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
