/**
 * Named error factories. Messages follow Triton's wording where clients or users may match on it
 * (PROTOCOL.md §5), and always name the model, version and tensor involved.
 */
import { ErrorCode } from './error-codes.js';
import { InferenceError } from './inference-error.js';

/** Longest client value echoed into a message (model, tensor and parameter names, versions). */
export const MAX_ECHO_CHARS = 128;
/** Longest error message in UTF-8 bytes: percent-encoded (≤ 3×) it still fits an 8 KiB header. */
export const MAX_ERROR_BYTES = 2048;

/** `value` cut to `max` characters with a marker naming how much was left out. */
export function clip(value: string, max: number = MAX_ECHO_CHARS): string {
  return value.length <= max ? value : `${value.slice(0, max)}…[${value.length - max} more characters]`;
}

/**
 * The message as sent to a client: at most MAX_ERROR_BYTES, so it always fits the gRPC status
 * trailer and an HTTP header, whatever a client made it echo. Front-ends apply it once, when
 * mapping an error to their protocol.
 */
export function boundedMessage(message: string): string {
  if (message.length <= MAX_ERROR_BYTES / 4 || Buffer.byteLength(message) <= MAX_ERROR_BYTES) return message;
  let cut = MAX_ERROR_BYTES - 64;
  while (Buffer.byteLength(message.slice(0, cut)) > MAX_ERROR_BYTES - 64) cut = Math.floor(cut * 0.75);
  return `${message.slice(0, cut)}…[message truncated from ${message.length} characters]`;
}

/** "model 'm' version 2" or "model 'm'" when no version is known yet; long values are clipped. */
export function modelRef(model: string, version?: string | number): string {
  const v = version === undefined ? '' : clip(String(version), 32);
  return v === '' ? `model '${clip(model)}'` : `model '${clip(model)}' version ${v}`;
}

export const errors = {
  invalidArg: (msg: string) => new InferenceError(ErrorCode.INVALID_ARG, msg),
  internal: (msg: string, cause?: unknown) => new InferenceError(ErrorCode.INTERNAL, msg, { cause }),
  unsupported: (msg: string) => new InferenceError(ErrorCode.UNSUPPORTED, msg),
  unavailable: (msg: string) => new InferenceError(ErrorCode.UNAVAILABLE, msg),
  resourceExhausted: (msg: string) => new InferenceError(ErrorCode.RESOURCE_EXHAUSTED, msg),

  modelNotFound: (model: string) =>
    new InferenceError(ErrorCode.NOT_FOUND, `Request for unknown model: '${clip(model)}' is not found`),
  versionNotFound: (model: string, version: string | number) =>
    new InferenceError(ErrorCode.NOT_FOUND, `Request for unknown model: '${clip(model)}' version ${clip(String(version), 32)} is not found`),
  noAvailableVersions: (model: string) =>
    new InferenceError(ErrorCode.NOT_FOUND, `Request for unknown model: '${model}' has no available versions`),
  versionNotReady: (model: string, version: string | number) =>
    new InferenceError(ErrorCode.UNAVAILABLE, `Request for unknown model: '${model}' version ${version} is not at ready state`),
  badVersionString: (model: string, version: string) =>
    new InferenceError(
      ErrorCode.INVALID_ARG,
      `failed to get model version from specified version string '${clip(version, 32)}' for model '${clip(model)}'` +
        ' (use an integer ≥ 0, a version label of the model, or an empty string for the latest ready version)',
    ),
  serverNotReady: () => new InferenceError(ErrorCode.UNAVAILABLE, 'Server not ready'),
  serverStopping: () => new InferenceError(ErrorCode.UNAVAILABLE, 'Server exiting: not accepting new requests'),
  /** An accepted request, queued or executing, still unfinished when the exit timeout ran out. */
  stoppedInflight: (model: string, version: string | number, exitTimeoutSecs: number) =>
    new InferenceError(
      ErrorCode.UNAVAILABLE,
      `server stopping: the request for ${modelRef(model, version)} did not finish within the exit timeout (--exit-timeout-secs=${exitTimeoutSecs})`,
    ),

  /** `ref` is modelRef(model, version) of the resolved model. */
  unexpectedInput: (ref: string, input: string, expected: readonly string[]) =>
    new InferenceError(
      ErrorCode.INVALID_ARG,
      `unexpected inference input '${clip(input)}' for ${ref}; expected inputs: ${quoteList(expected)}`,
    ),
  unexpectedOutput: (ref: string, output: string, expected: readonly string[]) =>
    new InferenceError(
      ErrorCode.INVALID_ARG,
      `unexpected inference output '${clip(output)}' for ${ref}; expected outputs: ${quoteList(expected)}`,
    ),
  datatypeMismatch: (ref: string, input: string, got: string, want: string) =>
    new InferenceError(
      ErrorCode.INVALID_ARG,
      `inference input '${clip(input)}' data-type is '${clip(got, 32)}', but ${ref} expects '${want}'`,
    ),
  queueFull: (model: string, version: string | number) =>
    new InferenceError(
      ErrorCode.UNAVAILABLE,
      `Exceeds maximum queue size for ${modelRef(model, version)}: try again later`,
    ),
  queueTimeout: (model: string, version: string | number) =>
    new InferenceError(ErrorCode.UNAVAILABLE, `Request timeout expired in the queue of ${modelRef(model, version)}`),
  /** A BLS call (or a step under one) to a model up its own call chain: it would wait on itself. */
  blsCycle: (model: string, callers: readonly string[]) =>
    new InferenceError(
      ErrorCode.INVALID_ARG,
      `BLS call to model '${clip(model)}' refused: it is already waiting on this call (call chain ${[...callers, model].map((m) => `'${clip(m)}'`).join(' → ')}); a model cannot call itself or a model that is calling it`,
    ),
  cancelled: (model: string, version: string | number) =>
    new InferenceError(ErrorCode.CANCELLED, `Request for ${modelRef(model, version)} was cancelled`),
  deadlineExceeded: (model: string, version: string | number) =>
    new InferenceError(ErrorCode.DEADLINE_EXCEEDED, `Deadline exceeded for request to ${modelRef(model, version)}`),
  /** `ref` is modelRef(model, version); `id` the correlation id as the client sent it. */
  noCorrelationId: (ref: string) =>
    new InferenceError(ErrorCode.INVALID_ARG, `inference request to ${ref} must specify a non-zero or non-empty correlation ID`),
  sequenceNotStarted: (ref: string, id: string, why: string) =>
    new InferenceError(
      ErrorCode.INVALID_ARG,
      `inference request for sequence ${id} to ${ref} must specify the START flag on the first request of the sequence: ${why}`,
    ),
  sequenceRefused: (ref: string, id: string, why: string) =>
    new InferenceError(ErrorCode.INVALID_ARG, `inference request for sequence ${id} to ${ref} is refused: ${why}`),
  sequenceCapacity: (ref: string, id: string, why: string) =>
    new InferenceError(ErrorCode.UNAVAILABLE, `sequence ${id} for ${ref} cannot be accepted: ${why}`),
  notImplemented: (rpc: string) =>
    new InferenceError(ErrorCode.UNSUPPORTED, `${rpc} is not implemented by this Infera server yet`),
};

function quoteList(names: readonly string[]): string {
  return names.length === 0 ? 'none' : names.map((n) => `'${n}'`).join(', ');
}
