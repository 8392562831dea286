/**
 * The one error type `infera/client` throws. It carries the server's error code as the core's
 * ErrorCode names it (Triton's TRITONSERVER_Error codes: INVALID_ARG, NOT_FOUND, UNAVAILABLE, …),
 * the transport status it came with (gRPC status or HTTP status, whichever transport was used) and
 * the server's message unchanged.
 *
 * The code is recovered from the status by inverting the server's own tables (GRPC_STATUS and
 * HTTP_STATUS), so it is exact over gRPC, whose table is one-to-one. Over HTTP several codes share
 * 400; the client reports INVALID_ARG for it, the code Triton's and Infera's 400s almost always
 * mean. Failures that never reached a server answer get a code too: a refused or dropped
 * connection is UNAVAILABLE, the caller's AbortSignal CANCELLED, the call's timeoutMs
 * DEADLINE_EXCEEDED, a response the client cannot decode INTERNAL; those carry no status.
 */
import { ALL_ERROR_CODES, ErrorCode } from '../errors/error-codes.js';
import { GRPC_STATUS } from '../frontends/grpc/grpc-status.js';
import { HTTP_STATUS } from '../frontends/http/http-status.js';

export { ErrorCode };

export interface ClientErrorStatus {
  /** The gRPC status code of the failed call (gRPC transport only). */
  grpcStatus?: number;
  /** The HTTP status of the failed response (HTTP transport only). */
  httpStatus?: number;
}

export class InferenceClientError extends Error {
  /** The server's error code, e.g. 'INVALID_ARG' for a wrong shape, 'NOT_FOUND' for an unknown model. */
  readonly code: ErrorCode;
  /** gRPC status code, when the failure came back as a gRPC status. */
  readonly grpcStatus: number | undefined;
  /** HTTP status, when the failure came back as an HTTP response. */
  readonly httpStatus: number | undefined;

  constructor(code: ErrorCode, message: string, status: ClientErrorStatus = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'InferenceClientError';
    this.code = code;
    this.grpcStatus = status.grpcStatus;
    this.httpStatus = status.httpStatus;
  }
}

const CODE_BY_GRPC = new Map<number, ErrorCode>(ALL_ERROR_CODES.map((c) => [GRPC_STATUS[c], c]));
const CODE_BY_HTTP = new Map<number, ErrorCode>();
for (const c of ALL_ERROR_CODES) if (!CODE_BY_HTTP.has(HTTP_STATUS[c])) CODE_BY_HTTP.set(HTTP_STATUS[c], c);
CODE_BY_HTTP.set(400, ErrorCode.INVALID_ARG);

/** The ErrorCode a gRPC status stands for (UNKNOWN for OK or statuses outside the table). */
export function codeForGrpcStatus(status: number): ErrorCode {
  return CODE_BY_GRPC.get(status) ?? ErrorCode.UNKNOWN;
}

/** The ErrorCode an HTTP error status stands for; statuses outside the table by their class. */
export function codeForHttpStatus(status: number): ErrorCode {
  const c = CODE_BY_HTTP.get(status);
  if (c !== undefined) return c;
  if (status === 405 || status === 415) return ErrorCode.UNSUPPORTED;
  return status >= 500 ? ErrorCode.INTERNAL : ErrorCode.INVALID_ARG;
}

/** A response the client cannot make sense of: the server (or a proxy in front) broke the protocol. */
export function malformedResponse(what: string, cause?: unknown): InferenceClientError {
  return new InferenceClientError(ErrorCode.INTERNAL, `malformed response: ${what}`, {}, { cause });
}

/** A request the client refuses before sending it. */
export function invalidRequest(message: string): InferenceClientError {
  return new InferenceClientError(ErrorCode.INVALID_ARG, message);
}
