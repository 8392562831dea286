/**
 * The contract a TypeScript/JavaScript model implements (backend "typescript"), exported from the
 * package root so model authors write `import type { ModelArgs, InferRequest, ... } from 'infera'`.
 * Types only: nothing here runs, so a model's import of it is erased by type stripping.
 *
 *   export default class Model implements TypescriptModel {
 *     async initialize(args: ModelArgs) { ... }
 *     async execute(requests: InferRequest[]): Promise<(InferResponse | Error)[]> { ... }
 *     async finalize() { ... }
 *   }
 *
 * Tensors are typed arrays over the request's bytes (a view, not a copy, when the bytes are
 * aligned for the element type): BOOL/UINT8 Uint8Array, INT8 Int8Array, INT16/UINT16, INT32/UINT32,
 * INT64/UINT64 BigInt64Array/BigUint64Array, FP16 and BF16 Uint16Array (raw bits), FP32
 * Float32Array, FP64 Float64Array, BYTES Uint8Array[] (one view per element, byte-exact).
 */
import type { DataType } from '../../core/datatype.js';
import type { ModelConfig } from '../../config/model-config.js';
import type { Parameters } from '../../core/tensor.js';

export type { DataType, ModelConfig, Parameters };

export type TensorData =
  | Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array
  | BigInt64Array | BigUint64Array | Float32Array | Float64Array | Uint8Array[];

export interface ModelTensor {
  datatype: DataType;
  shape: number[];
  data: TensorData;
}

/** What initialize() gets, as Triton's Python backend `args`. */
export interface ModelArgs {
  modelName: string;
  modelVersion: number;
  instanceName: string;
  instanceKind: 'KIND_CPU' | 'KIND_GPU' | 'KIND_MODEL';
  instanceDeviceId: number;
  /** The parsed, normalized config (Triton's model_config, as JSON). */
  modelConfig: Readonly<ModelConfig>;
  /** Absolute path of `<repo>/<model>`. */
  modelRepository: string;
}

export interface InferRequest {
  /** Input tensors by name, batch dimension first when the model batches. */
  inputs: ReadonlyMap<string, ModelTensor>;
  /** The outputs the request asked for (never empty). */
  requestedOutputs: readonly string[];
  parameters: Readonly<Parameters>;
  /**
   * Aborted when the client cancels the request, disconnects, or its deadline passes (its
   * `reason` is an Error saying which); a long-running execute() should watch it. What execute()
   * returns for an aborted request is discarded: the request has already failed.
   */
  signal: AbortSignal;
  /** Decoupled models only (`model_transaction_policy { decoupled: true }`): where this request's responses go. */
  responseSender?: ResponseSender;
}

/**
 * A decoupled request's responses (Triton python's get_response_sender()): send() 0..N times,
 * from inside execute() or after it returned, then once with `{ final: true }` (with or without a
 * last response). send(error) fails the request and ends it. The request stays open until then.
 * After the request ended by cancellation send() does nothing; after a final it throws.
 */
export interface ResponseSender {
  send(response?: InferResponse | Error, options?: { final?: boolean }): void;
}

/** Outputs by name; `datatype` defaults to the config's, `shape` is required. */
export interface InferResponse {
  outputs: Record<string, { shape: number[]; data: TensorData; datatype?: DataType }>;
}

export interface TypescriptModel {
  initialize?(args: ModelArgs): void | Promise<void>;
  /**
   * One response (or Error) per request, in request order. A thrown error fails every request.
   * Decoupled models answer through each request's responseSender and return nothing (a value
   * returned is ignored); a thrown error fails every request without its final response yet.
   */
  execute(requests: InferRequest[]): (InferResponse | Error)[] | void | Promise<(InferResponse | Error)[] | void>;
  finalize?(): void | Promise<void>;
}

/**
 * The default-exported class itself. `autoCompleteConfig` (optional, Triton's
 * auto_complete_config) runs once per load, before any instance, in a worker of its own: it gets a
 * copy of the config as read from config.pbtxt (possibly almost empty) and returns the completed
 * config: inputs, outputs, max_batch_size, dynamic_batching, model_transaction_policy, ... The
 * model's name and backend cannot change. Skipped with --disable-auto-complete-config.
 */
export interface TypescriptModelClass {
  new (): TypescriptModel;
  autoCompleteConfig?(config: ModelConfig): ModelConfig | Promise<ModelConfig>;
}
