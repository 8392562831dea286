/**
 * The public types of `infera/client`. Tensors are typed arrays keyed by their v2 datatype, so the
 * compiler checks that an INT64 tensor is a BigInt64Array and a BYTES tensor a list of byte
 * strings. Metadata, config, statistics and index results are the protocol's own messages, as
 * gRPC decodes them (snake_case fields, enum names, 64-bit integers as numbers), whichever
 * transport the client uses: the HTTP transport converts its JSON into the same shapes.
 */
import type { DataType } from '../core/datatype.js';
import type { TypedArrayByDataType } from '../core/tensor-codec.js';

export type { DataType };
export type { ServerMetadataResponse__Output as ServerMetadata } from '../generated/inference/ServerMetadataResponse.js';
export type { ModelMetadataResponse__Output as ModelMetadata } from '../generated/inference/ModelMetadataResponse.js';
export type { ModelConfig__Output as ModelConfig } from '../generated/inference/ModelConfig.js';
export type { ModelStatistics__Output as ModelStatistics } from '../generated/inference/ModelStatistics.js';
export type { _inference_RepositoryIndexResponse_ModelIndex__Output as RepositoryIndexEntry } from '../generated/inference/RepositoryIndexResponse.js';
export type { _inference_SystemSharedMemoryStatusResponse_RegionStatus__Output as SharedMemoryRegion } from '../generated/inference/SystemSharedMemoryStatusResponse.js';

/** A request, tensor or response parameter. Integers beyond ±2^53 travel exactly as bigints. */
export type ParameterValue = boolean | number | bigint | string;
export type Parameters = Record<string, ParameterValue>;

/**
 * What an input's `data` may be, per datatype. Fixed-size types take the typed array of their
 * element (FP16 and BF16 as Uint16Array bit patterns: see float16ToBits), BOOL also a boolean
 * array, BYTES a list of byte strings or strings (sent as UTF-8). Row-major, little-endian.
 */
export type InputDataByDataType = {
  [D in Exclude<DataType, 'BYTES' | 'BOOL'>]: TypedArrayByDataType[D];
} & {
  BOOL: Uint8Array | readonly boolean[];
  BYTES: readonly (Uint8Array | string)[];
};

/** What an output's `data` is, per datatype: a typed array view, BOOL as 0/1 bytes, BYTES as byte strings. */
export type OutputDataByDataType = { [D in Exclude<DataType, 'BYTES'>]: TypedArrayByDataType[D] } & {
  BYTES: Uint8Array[];
};

export type InferInputOf<D extends DataType> = {
  name: string;
  datatype: D;
  shape: readonly number[];
  data: InputDataByDataType[D];
  parameters?: Parameters;
};
export type InferInput = { [D in DataType]: InferInputOf<D> }[DataType];

export type OutputTensorOf<D extends DataType> = {
  name: string;
  datatype: D;
  shape: number[];
  /** Views into the response where alignment allows; treat as read-only or copy before changing. */
  data: OutputDataByDataType[D];
  parameters: Parameters;
};
export type OutputTensor = { [D in DataType]: OutputTensorOf<D> }[DataType];

/** An output to return; `classification: k` asks for the top-k classes (BYTES "value:index[:label]"). */
export interface RequestedOutput {
  name: string;
  classification?: number;
  parameters?: Parameters;
}

/** Per-call options every method takes. */
export interface CallOptions {
  /** Aborting it cancels the call: the promise rejects with code CANCELLED. */
  signal?: AbortSignal;
  /** Client-side deadline; past it the call rejects with DEADLINE_EXCEEDED (gRPC also tells the server). */
  timeoutMs?: number;
}

export interface InferRequest extends CallOptions {
  model: string;
  /** Empty or omitted: the model's highest ready version, as the server resolves it. */
  version?: string;
  /** Echoed back in the result. */
  id?: string;
  inputs: readonly InferInput[];
  /** Names or specs of the outputs to return; omitted: every output. */
  outputs?: readonly (string | RequestedOutput)[];
  /** Request parameters: `priority`, `timeout` (µs, the server's queue timeout), sequence ids, custom ones. */
  parameters?: Parameters;
}

export interface InferResult {
  model: string;
  version: string;
  id: string;
  parameters: Parameters;
  outputs: OutputTensor[];
  /**
   * The output called `name`; with a datatype, typed as that datatype. Throws
   * InferenceClientError (INTERNAL) when the response has no such output or another datatype.
   */
  output(name: string): OutputTensor;
  output<D extends DataType>(name: string, datatype: D): OutputTensorOf<D>;
}

export interface LoadModelOptions extends CallOptions {
  /** A ModelConfig, as JSON text or an object, replacing the model's config.pbtxt for this load. */
  config?: string | object;
  /** Files to load the model from instead of the repository's, keyed by path in the model folder ('1/model.onnx'). */
  files?: Readonly<Record<string, Uint8Array>>;
}

export interface UnloadModelOptions extends CallOptions {
  /** Sends `unload_dependents`: the server also unloads the models that depend on this one (Infera: the ensembles using it). */
  unloadDependents?: boolean;
}

/** A POSIX shared-memory region to register (Triton's system shared memory extension). */
export interface SharedMemoryRegistration extends CallOptions {
  /** The name requests will use for the region. */
  name: string;
  /** The shm_open key of the region, e.g. '/input_data'. */
  key: string;
  byteSize: number;
  /** Where the registered part starts inside the region (default 0). */
  offset?: number;
}

export interface ClientOptions {
  /** Default timeoutMs for every call that does not give its own. */
  timeoutMs?: number;
  /** gRPC only: channel credentials (default insecure), e.g. grpc.credentials.createSsl(). */
  credentials?: import('@grpc/grpc-js').ChannelCredentials;
  /** Extra headers (HTTP) or metadata (gRPC) sent with every call. */
  headers?: Readonly<Record<string, string>>;
}
