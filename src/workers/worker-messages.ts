/**
 * Everything that crosses the main thread ↔ worker boundary, and nothing else: the host worker's
 * open message, the per-session message union, the wire form of tensors and errors, and the
 * Runner contract that a runner module (loaded inside the worker) implements.
 *
 * A host worker (worker-entry.ts) hosts many sessions (one runner each). Each session has its own
 * MessageChannel; the worker's parentPort only carries `open` (and host-level log records):
 *
 *   main thread                                   host worker thread (worker-entry.ts)
 *   PoolSession ──── open {id, port} ──(parentPort)──▶ import(runnerModule).createRunner(init)
 *   on the session's port:
 *                       ◀──────── load-done / load-error (once, first message)
 *   WorkerInstanceProxy ─ execute {id} ─────────▶ runner.execute(inputs, outputNames, batchSize, requests, channel)
 *                       ─ cancel {id, requestIndex} ▶ aborts that request's signal at once (not queued)
 *                       ◀──────── response {id, requestIndex, final} (decoupled: 0..N, before or after result)
 *                       ◀──────── result / error {id}
 *                       ◀──────── bls-call {id: batch id, callId}  (any time during that batch: BLS, bls-client.ts)
 *   BlsHost ──────────── bls-response {id: callId} ──▶ (not queued behind the session's executes)
 *                       ◀──────── bls-cancel {id: batch id, callId} (a stream the model stopped reading)
 *   PoolSession ──────── dispose {id} ─────────▶ runner.dispose()
 *                       ◀──────── dispose-done {id}
 *                       ◀──────── log (any time)
 *
 * Transport (session-channel.ts): with the 'ring' channel these messages are frames of the host
 * worker's shared rings, tensors' bytes written once into shared memory; a message the ring cannot
 * take, and every message with the 'port' channel, goes by the session's port, its tensors' bytes
 * in the postMessage transfer list (detached, never copied by structured clone). Senders build
 * wire tensors with wireView(); the channel makes them transferable when they go by the port.
 */
import { MessagePort } from 'node:worker_threads';
import type { ExecuteTimings, InternalInferCall } from '../backends/backend.js';
import { elementByteSize, isDataType, type DataType } from '../core/datatype.js';
import { detachable } from '../core/detachable.js';
import type { Parameters, Tensor } from '../core/tensor.js';
import type { InferenceError, SerializedError } from '../errors/inference-error.js';

/** Posted on a host worker's parentPort: load a runner and serve it on `port`. */
export interface OpenSessionMessage {
  type: 'open';
  id: number;
  /** file: URL of an ES module exporting `createRunner` (see CreateRunner). */
  runnerModule: string;
  /** Passed to createRunner untouched; must be structured-cloneable. */
  init: unknown;
  /** The worker's end of the session's channel (in the transfer list). */
  port: MessagePort;
}

/**
 * Posted on a host worker's parentPort to end it without cutting a native call short: the worker
 * refuses new work, waits for what it is running (loads, batches, disposes) and answers
 * `stopped`; only then is the thread terminated. Terminating a thread inside onnxruntime-node's
 * synchronous run (1.30) makes the addon throw a C++ exception that aborts the whole process.
 */
export interface StopHostMessage {
  type: 'stop';
}

/** The worker's answer to StopHostMessage, on its parentPort. */
export interface HostStoppedMessage {
  type: 'stopped';
}

/**
 * A tensor on the wire: `byteLength` bytes of `buffer` starting at `byteOffset`. The buffer is in
 * the message's transfer list, so after posting it belongs to the receiver.
 */
export interface WireTensor {
  name: string;
  datatype: DataType;
  shape: number[];
  buffer: ArrayBuffer;
  byteOffset: number;
  byteLength: number;
  /** Set when the buffer's other bytes are no one's (a claimed view, core/detachable.ts): the receiver may move the tensor within it. */
  movable?: true;
}

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

// ── main → worker ────────────────────────────────────────────────────────────────────────────
export interface ExecuteMessage {
  type: 'execute';
  id: number;
  batchSize: number;
  inputs: WireTensor[];
  outputNames: string[];
  /** The batch's request boundaries (ExecuteBatch.requests); absent = one request, no parameters. */
  requests?: WireRequest[];
  /** The proxy may send `cancel` for this batch's requests (the worker keeps their signals). */
  cancellable?: boolean;
  /** The model is decoupled: its requests answer with `response` messages, also after `result`. */
  decoupled?: boolean;
  /** process.hrtime.bigint() just before posting; the clock is process-wide, so comparable. */
  postedAtNs: bigint;
}

/** One request's part of a batch on the wire (backend.ts BatchRequest without its signal). */
export interface WireRequest {
  rows: number;
  outputNames: string[];
  /** Structured-cloneable: strings, numbers, booleans, bigints. */
  parameters: Parameters;
}

/**
 * A request of batch `id` was cancelled or its deadline passed on the main thread: abort its
 * signal in the worker with `reason`. Handled on arrival, not behind the session's execute chain.
 */
export interface CancelMessage {
  type: 'cancel';
  id: number;
  requestIndex: number;
  reason: SerializedError;
}

export interface DisposeMessage {
  type: 'dispose';
  id: number;
}

/**
 * The answer to a bls-call: for a unary call one message with `final`; for a streaming call one
 * per response and a last one with `final` (which may carry no response). `error` ends the call.
 */
export interface BlsResponseMessage {
  type: 'bls-response';
  /** The call's callId. */
  id: number;
  final: boolean;
  response?: WireBlsResponse;
  error?: SerializedError;
}

export interface WireBlsResponse {
  model: string;
  version: string;
  outputs: WireTensor[];
  parameters: Parameters;
}

export type ToWorkerMessage = ExecuteMessage | CancelMessage | DisposeMessage | BlsResponseMessage;

// ── worker → main ────────────────────────────────────────────────────────────────────────────
export interface LoadDoneMessage {
  type: 'load-done';
  id: 0;
  /** The runner's `info`, e.g. session metadata. */
  info?: unknown;
  /** Process RSS growth while createRunner ran (the runner module already imported), bytes. */
  memoryBytes?: number;
}

export interface LoadErrorMessage {
  type: 'load-error';
  id: 0;
  error: SerializedError;
}

export interface ResultMessage {
  type: 'result';
  id: number;
  outputs: WireTensor[];
  /** Per-request answers instead of batch outputs (ExecuteResult.perRequest), in request order. */
  perRequest?: WirePerRequest[];
  /** Measured inside the worker only; the proxy adds the transit times. */
  timings: ExecuteTimings;
  /** When the worker received the execute message (process.hrtime.bigint()). */
  receivedAtNs: bigint;
  /** Just before the worker posted this result. */
  postedAtNs: bigint;
}

export type WirePerRequest = { outputs: WireTensor[] } | { error: SerializedError };

/**
 * One response of request `requestIndex` of batch `id` of a decoupled model: its outputs, or its
 * error (which ends the request), or neither (a final flag without a response). Exactly one
 * `final: true` per request, last; the outputs' buffers are in the transfer list.
 */
export interface ResponseMessage {
  type: 'response';
  id: number;
  requestIndex: number;
  outputs?: WireTensor[];
  error?: SerializedError;
  final: boolean;
}

export interface ErrorMessage {
  type: 'error';
  id: number;
  error: SerializedError;
}

export interface DisposeDoneMessage {
  type: 'dispose-done';
  id: number;
}

export interface LogMessage {
  type: 'log';
  id: 0;
  level: LogLevel;
  msg: string;
  fields?: Record<string, unknown>;
}

/** A model's call on another model (BLS) while the batch `id` executes; tensors in the transfer list. */
export interface BlsCallMessage {
  type: 'bls-call';
  /** The execute id of the batch making the call. */
  id: number;
  /** Numbers the session's calls; the bls-response messages carry it as their id. */
  callId: number;
  /** Index in the batch's requests of the parent request, or -1 for none (no cancellation, trace or deadline inherited). */
  request: number;
  model: string;
  version: string;
  inputs: WireTensor[];
  /** Empty = all outputs. */
  outputs: string[];
  parameters: Parameters;
  stream: boolean;
  /** The call's own timeout, on top of the parent's deadline. */
  timeoutMs?: number;
}

/** The model stopped reading a streaming call: the main thread cancels it. */
export interface BlsCancelMessage {
  type: 'bls-cancel';
  id: number;
  callId: number;
}

/** What a session's owner (the proxy) gets from PoolSession.onMessage. */
export type SessionMessage = ResultMessage | ResponseMessage | ErrorMessage | BlsCallMessage | BlsCancelMessage;

export type FromWorkerMessage =
  | LoadDoneMessage | LoadErrorMessage | ResultMessage | ResponseMessage | ErrorMessage | DisposeDoneMessage | LogMessage
  | BlsCallMessage | BlsCancelMessage;

// ── the runner contract ──────────────────────────────────────────────────────────────────────
/** Log records a runner writes; forwarded to the main thread's instance logger. */
export interface RunnerLogger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export interface RunnerContext {
  log: RunnerLogger;
  /** How the runner's model calls other models (BLS, bls-client.ts); a call names the batch (execute's batchId) it is made for. */
  bls?: BlsPort;
}

/**
 * One BLS call as a runner makes it: the core's call (InternalInferCall) less what the host adds
 * from the parent request (callers, signal, trace); `inputs` are transferred (the runner must not
 * read them afterwards).
 */
export interface BlsCall extends Pick<InternalInferCall, 'model' | 'version' | 'inputs' | 'outputs' | 'parameters'> {
  /** Index of the parent request in the batch, or -1. */
  request: number;
  timeoutMs?: number;
}

export interface BlsResponse {
  model: string;
  version: string;
  outputs: Tensor[];
  parameters: Parameters;
}

export interface BlsPort {
  /** Rejects with the callee's InferenceError. */
  infer(batchId: number, call: BlsCall): Promise<BlsResponse>;
  /** Every response of the call, in order; ends after the final one; throws the call's error. */
  inferStream(batchId: number, call: BlsCall): AsyncIterable<BlsResponse>;
}

/**
 * What execute() gets besides the tensors, for the batch's request i (worker-entry.ts owns it):
 * - signal(i): aborted when the main thread cancels request i; undefined when the batch was not
 *   sent cancellable (framework backends never are).
 * - respond(i, …): posts one response of request i (decoupled models); `final` closes it. The
 *   outputs' buffers are transferred, so the runner must not reuse them.
 */
export interface ExecuteChannel {
  /** The execute message's id, which BLS calls made for this batch name (RunnerContext.bls). */
  readonly batchId: number;
  signal(requestIndex: number): AbortSignal | undefined;
  respond(requestIndex: number, response: Tensor[] | InferenceError | undefined, final: boolean): void;
}

export interface RunnerResult {
  outputs: Tensor[];
  /** Per-request answers instead of `outputs` (see ExecuteResult.perRequest). */
  perRequest?: (Tensor[] | InferenceError)[];
  timings: ExecuteTimings;
}

/**
 * What a runner module's createRunner resolves with; lives inside one worker.
 * - execute() calls never overlap (the worker serialises messages). Input `data` views belong to
 *   the runner; output `data` views are transferred to the main thread after execute resolves,
 *   so the runner must not reuse their buffers.
 * - A rejection fails that batch only; rejections should be InferenceErrors (others become INTERNAL).
 * - dispose() is called at most once, last (also when the main thread closes the session's port).
 *   Other sessions keep running in the same worker, so a runner must release what it holds there.
 */
export interface Runner {
  /** Sent to the main thread with load-done (structured-cloneable). */
  readonly info?: unknown;
  /**
   * `requests`: the batch's request boundaries (rows sum to batchSize when batching); `channel`:
   * the batch's per-request signals, decoupled responses and id (ExecuteChannel). worker-entry
   * always passes both.
   */
  execute(
    inputs: Tensor[], outputNames: string[], batchSize: number, requests?: readonly WireRequest[], channel?: ExecuteChannel,
  ): Promise<RunnerResult>;
  dispose(): Promise<void>;
}

/** The one export a runner module must have. Rejecting fails the load (load-error). */
export type CreateRunner = (init: unknown, ctx: RunnerContext) => Promise<Runner>;

// ── tensors on the wire ──────────────────────────────────────────────────────────────────────
/**
 * The ArrayBuffer to transfer for `data`. Transferring detaches the whole buffer, so only a view
 * that covers all of its (non-shared) buffer, or one its buffer was claimed for (a received gRPC
 * message's big tensor, core/detachable.ts), is sent as is. Another partial view (a slice of
 * Buffer's allocation pool, of a merged batch) would take bytes that belong to someone else with
 * it, and a SharedArrayBuffer can never be detached: those pay one copy.
 */
export function transferableBuffer(data: Uint8Array): ArrayBuffer {
  if (detachable(data)) return data.buffer as ArrayBuffer;
  const copy = new ArrayBuffer(data.byteLength);
  new Uint8Array(copy).set(data);
  return copy;
}

/**
 * Wire form of `t` as a view of its own bytes, no copy: for SessionChannel.postMessage, which
 * writes only those bytes into the ring, or makes the buffer transferable for the port path.
 */
export function wireView(t: Tensor): WireTensor {
  const d = t.data;
  return { name: t.name, datatype: t.datatype, shape: t.shape, buffer: d.buffer as ArrayBuffer, byteOffset: d.byteOffset, byteLength: d.byteLength };
}

/**
 * The tensor `w` carries. A movable tensor at an offset that is not a multiple of its element size
 * is first moved down to one, in place (a memmove in the receiving thread, no allocation), so a
 * backend can view it as a typed array without copying it.
 */
export function fromWireTensor(w: WireTensor): Tensor {
  const size = elementByteSize(w.datatype);
  let at = w.byteOffset;
  if (w.movable === true && size > 1 && at % size !== 0) {
    const bytes = new Uint8Array(w.buffer);
    at -= at % size;
    bytes.copyWithin(at, w.byteOffset, w.byteOffset + w.byteLength);
  }
  return { name: w.name, datatype: w.datatype, shape: w.shape, data: new Uint8Array(w.buffer, at, w.byteLength) };
}

// ── shape checks for received messages ───────────────────────────────────────────────────────
function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function isSerializedError(x: unknown): boolean {
  return isRecord(x) && typeof x['code'] === 'string' && typeof x['message'] === 'string';
}

export function isWireTensor(x: unknown): x is WireTensor {
  if (!isRecord(x)) return false;
  const { name, datatype, shape, buffer, byteOffset, byteLength } = x;
  return typeof name === 'string' && typeof datatype === 'string' && isDataType(datatype)
    && Array.isArray(shape) && shape.every((d) => Number.isSafeInteger(d))
    && buffer instanceof ArrayBuffer && Number.isSafeInteger(byteOffset) && Number.isSafeInteger(byteLength)
    && (byteOffset as number) >= 0 && (byteLength as number) >= 0
    && (byteOffset as number) + (byteLength as number) <= buffer.byteLength;
}

function isWireTensorList(x: unknown): boolean {
  return Array.isArray(x) && x.every(isWireTensor);
}

function isWirePerRequest(x: unknown): boolean {
  return isRecord(x) && (isWireTensorList(x['outputs']) || isSerializedError(x['error']));
}

function isWireRequest(x: unknown): boolean {
  return isRecord(x) && Number.isSafeInteger(x['rows']) && Array.isArray(x['outputNames'])
    && x['outputNames'].every((n) => typeof n === 'string') && isRecord(x['parameters']);
}

/** True when `x` is a well-formed FromWorkerMessage (the main thread ignores anything else). */
export function isFromWorkerMessage(x: unknown): x is FromWorkerMessage {
  if (!isRecord(x) || !Number.isSafeInteger(x['id'])) return false;
  switch (x['type']) {
    case 'load-done': return x['memoryBytes'] === undefined || Number.isSafeInteger(x['memoryBytes']);
    case 'dispose-done': return true;
    case 'load-error': case 'error': return isSerializedError(x['error']);
    case 'log':
      return (LOG_LEVELS as readonly unknown[]).includes(x['level']) && typeof x['msg'] === 'string'
        && (x['fields'] === undefined || isRecord(x['fields']));
    case 'bls-call':
      return Number.isSafeInteger(x['callId']) && Number.isSafeInteger(x['request']) && typeof x['model'] === 'string'
        && typeof x['version'] === 'string' && isWireTensorList(x['inputs']) && Array.isArray(x['outputs'])
        && x['outputs'].every((n) => typeof n === 'string') && isRecord(x['parameters']) && typeof x['stream'] === 'boolean'
        && (x['timeoutMs'] === undefined || (typeof x['timeoutMs'] === 'number' && x['timeoutMs'] >= 0));
    case 'bls-cancel': return Number.isSafeInteger(x['callId']);
    case 'response':
      return Number.isSafeInteger(x['requestIndex']) && typeof x['final'] === 'boolean'
        && (x['outputs'] === undefined || isWireTensorList(x['outputs'])) && (x['error'] === undefined || isSerializedError(x['error']));
    case 'result':
      return isWireTensorList(x['outputs']) && isRecord(x['timings'])
        && (x['perRequest'] === undefined || (Array.isArray(x['perRequest']) && x['perRequest'].every(isWirePerRequest)))
        && typeof x['receivedAtNs'] === 'bigint' && typeof x['postedAtNs'] === 'bigint';
    default: return false;
  }
}

export function isStopHostMessage(x: unknown): x is StopHostMessage {
  return isRecord(x) && x['type'] === 'stop';
}

export function isHostStoppedMessage(x: unknown): x is HostStoppedMessage {
  return isRecord(x) && x['type'] === 'stopped';
}

/** True when `x` is a well-formed OpenSessionMessage (the host worker ignores anything else). */
export function isOpenSessionMessage(x: unknown): x is OpenSessionMessage {
  return isRecord(x) && x['type'] === 'open' && Number.isSafeInteger(x['id']) && typeof x['runnerModule'] === 'string'
    && x['port'] instanceof MessagePort;
}

/** True when `x` is a well-formed ToWorkerMessage (the worker ignores anything else). */
export function isToWorkerMessage(x: unknown): x is ToWorkerMessage {
  if (!isRecord(x) || !Number.isSafeInteger(x['id'])) return false;
  if (x['type'] === 'dispose') return true;
  if (x['type'] === 'bls-response') {
    const r = x['response'];
    return typeof x['final'] === 'boolean' && (x['error'] === undefined || isSerializedError(x['error']))
      && (r === undefined || (isRecord(r) && typeof r['model'] === 'string' && typeof r['version'] === 'string'
        && isWireTensorList(r['outputs']) && isRecord(r['parameters'])));
  }
  if (x['type'] === 'cancel') return Number.isSafeInteger(x['requestIndex']) && isSerializedError(x['reason']);
  return x['type'] === 'execute' && Number.isSafeInteger(x['batchSize']) && isWireTensorList(x['inputs'])
    && Array.isArray(x['outputNames']) && x['outputNames'].every((n) => typeof n === 'string')
    && (x['requests'] === undefined || (Array.isArray(x['requests']) && x['requests'].every(isWireRequest)))
    && typeof x['postedAtNs'] === 'bigint';
}
