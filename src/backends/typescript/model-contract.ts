/**
 * The contract a TypeScript/JavaScript model implements (backend "typescript"), exported from the
 * package root so model authors write `import type { ModelArgs, InferRequest, ... } from 'infera'`.
 * Types only: nothing here runs, so a model's import of it is erased by type stripping.
 *
 *   export default class Model implements TypescriptModel {
 *     async initialize(args: ModelArgs) { ... }
 *     async execute(requests: InferRequest[], ctx: ExecuteContext): Promise<(InferResponse | Error)[]> { ... }
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

/**
 * An input of a BLS call. `datatype` may be left out for typed arrays whose type says it
 * (Float32Array FP32, Int32Array INT32, BigInt64Array INT64, ..., Uint16Array UINT16: FP16/BF16
 * must say so) and for BYTES given as an array of Uint8Array or string elements.
 * Ownership passes to the call: a typed array whose view covers its whole ArrayBuffer may be
 * transferred (detached, read as empty afterwards: always with the 'port' worker channel, with
 * 'ring' when the call is too big for a ring frame); pass `data.slice()` to keep using it.
 */
export interface InferInput {
  datatype?: DataType;
  shape: number[];
  data: TensorData | (Uint8Array | string)[];
}

/** One request a model makes on a model of the server (BLS), from execute(). */
export interface InferCall {
  model: string;
  /** Default: the highest READY version. */
  version?: string | number;
  inputs: Record<string, InferInput>;
  /** Default: every output of the model. */
  outputs?: string[];
  parameters?: Parameters;
  /**
   * The request this call works for: the call is cancelled with it, ends at its deadline and is
   * traced as its child. Default: the batch's only request when execute() got exactly one; with
   * several, a call without `parent` inherits none of these (self-calls and cycles are refused either way).
   */
  parent?: InferRequest;
  /** The call's own timeout in milliseconds (DEADLINE_EXCEEDED), on top of the parent's deadline. */
  timeoutMs?: number;
}

/** A response of a BLS call; tensors are typed arrays as InferRequest inputs are. */
export interface InferResult {
  model: string;
  version: string;
  outputs: Record<string, ModelTensor>;
  parameters: Readonly<Parameters>;
}

/**
 * What a failed BLS call rejects with: the callee's error, with the server's error code
 * ('NOT_FOUND', 'INVALID_ARG', 'UNAVAILABLE', 'CANCELLED', 'DEADLINE_EXCEEDED', 'INTERNAL', ...).
 * Returned (or thrown) from execute(), it fails the request with that code and message.
 */
export interface InferError extends Error {
  code: string;
}

/**
 * execute()'s second argument. A call runs through the callee's own scheduler: it is batched with
 * the callee's other traffic and counted in its statistics. A model may not call itself, nor a
 * model that is (directly or through others) calling it: such a call rejects with INVALID_ARG at
 * once, since it would wait for the instance that is making it.
 */
export interface ExecuteContext {
  /** Resolves with the callee's response (a non-decoupled model's only one); rejects with an InferError. */
  infer(call: InferCall): Promise<InferResult>;
  /** Every response of the call in order (0..N for a decoupled model, one otherwise); throws an InferError. Leaving the loop early cancels the call. */
  inferStream(call: InferCall): AsyncIterable<InferResult>;
}

export interface TypescriptModel {
  initialize?(args: ModelArgs): void | Promise<void>;
  /**
   * One response (or Error) per request, in request order. A thrown error fails every request.
   * Decoupled models answer through each request's responseSender and return nothing (a value
   * returned is ignored); a thrown error fails every request without its final response yet.
   * `ctx` makes calls on other models of the server (BLS).
   */
  execute(requests: InferRequest[], ctx: ExecuteContext): (InferResponse | Error)[] | void | Promise<(InferResponse | Error)[] | void>;
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
