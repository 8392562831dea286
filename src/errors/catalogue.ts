/**
 * Named error factories. Messages follow Triton's wording where clients or users may match on it
 * (PROTOCOL.md §5), and always name the model, version and tensor involved.
 */
import { ErrorCode } from './error-codes.js';
import { InferenceError } from './inference-error.js';

/** "model 'm' version 2" or "model 'm'" when no version is known yet. */
export function modelRef(model: string, version?: string | number): string {
  return version === undefined || version === '' ? `model '${model}'` : `model '${model}' version ${version}`;
}

export const errors = {
  invalidArg: (msg: string) => new InferenceError(ErrorCode.INVALID_ARG, msg),
  internal: (msg: string, cause?: unknown) => new InferenceError(ErrorCode.INTERNAL, msg, { cause }),
  unsupported: (msg: string) => new InferenceError(ErrorCode.UNSUPPORTED, msg),
  unavailable: (msg: string) => new InferenceError(ErrorCode.UNAVAILABLE, msg),
  resourceExhausted: (msg: string) => new InferenceError(ErrorCode.RESOURCE_EXHAUSTED, msg),

  modelNotFound: (model: string) =>
    new InferenceError(ErrorCode.NOT_FOUND, `Request for unknown model: '${model}' is not found`),
  versionNotFound: (model: string, version: string | number) =>
    new InferenceError(ErrorCode.NOT_FOUND, `Request for unknown model: '${model}' version ${version} is not found`),
  noAvailableVersions: (model: string) =>
    new InferenceError(ErrorCode.NOT_FOUND, `Request for unknown model: '${model}' has no available versions`),
  versionNotReady: (model: string, version: string | number) =>
    new InferenceError(ErrorCode.UNAVAILABLE, `Request for unknown model: '${model}' version ${version} is not at ready state`),
  badVersionString: (model: string, version: string) =>
    new InferenceError(
      ErrorCode.INVALID_ARG,
      `failed to get model version from specified version string '${version}' for model '${model}'` +
        ' (use an integer ≥ 0, or an empty string for the latest ready version)',
    ),
  serverNotReady: () => new InferenceError(ErrorCode.UNAVAILABLE, 'Server not ready'),
  serverStopping: () => new InferenceError(ErrorCode.UNAVAILABLE, 'Server exiting: not accepting new requests'),

  /** `ref` is modelRef(model, version) of the resolved model. */
  unexpectedInput: (ref: string, input: string, expected: readonly string[]) =>
    new InferenceError(
      ErrorCode.INVALID_ARG,
      `unexpected inference input '${input}' for ${ref}; expected inputs: ${quoteList(expected)}`,
    ),
  unexpectedOutput: (ref: string, output: string, expected: readonly string[]) =>
    new InferenceError(
      ErrorCode.INVALID_ARG,
      `unexpected inference output '${output}' for ${ref}; expected outputs: ${quoteList(expected)}`,
    ),
  datatypeMismatch: (ref: string, input: string, got: string, want: string) =>
    new InferenceError(
      ErrorCode.INVALID_ARG,
      `inference input '${input}' data-type is '${got}', but ${ref} expects '${want}'`,
    ),
  queueFull: (model: string, version: string | number) =>
    new InferenceError(
      ErrorCode.UNAVAILABLE,
      `Exceeds maximum queue size for ${modelRef(model, version)}: try again later`,
    ),
  queueTimeout: (model: string, version: string | number) =>
    new InferenceError(ErrorCode.UNAVAILABLE, `Request timeout expired in the queue of ${modelRef(model, version)}`),
  cancelled: (model: string, version: string | number) =>
    new InferenceError(ErrorCode.CANCELLED, `Request for ${modelRef(model, version)} was cancelled`),
  deadlineExceeded: (model: string, version: string | number) =>
    new InferenceError(ErrorCode.DEADLINE_EXCEEDED, `Deadline exceeded for request to ${modelRef(model, version)}`),
  notImplemented: (rpc: string) =>
    new InferenceError(ErrorCode.UNSUPPORTED, `${rpc} is not implemented by this Infera server yet`),
};

function quoteList(names: readonly string[]): string {
  return names.length === 0 ? 'none' : names.map((n) => `'${n}'`).join(', ');
}
