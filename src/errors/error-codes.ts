/**
 * The closed, protocol-neutral set of error codes used by the inference core.
 *
 * Names follow Triton's TRITONSERVER_Error codes (PROTOCOL.md §5.11) plus the two gRPC-style codes
 * a Node server needs for deadlines and resource limits. Only `frontends/<protocol>/*-status.ts`
 * turn these into protocol numbers; nothing else in `src/` knows a gRPC or HTTP status.
 */
export const ErrorCode = {
  /** Catch-all for failures with no better code; Triton maps it to gRPC UNKNOWN / HTTP 400. */
  UNKNOWN: 'UNKNOWN',
  /** A server-side fault: a bug, a backend crash, a broken invariant. */
  INTERNAL: 'INTERNAL',
  /** The model, version or resource named by the client does not exist. */
  NOT_FOUND: 'NOT_FOUND',
  /** The request itself is wrong: shapes, datatypes, names, parameters, sizes. */
  INVALID_ARG: 'INVALID_ARG',
  /** Try again later: not ready, stopping, queue full, queue timeout, worker died. */
  UNAVAILABLE: 'UNAVAILABLE',
  /** The feature or RPC is not implemented (yet) by this server or model. */
  UNSUPPORTED: 'UNSUPPORTED',
  /** The thing being created exists already. */
  ALREADY_EXISTS: 'ALREADY_EXISTS',
  /** The client cancelled the request. */
  CANCELLED: 'CANCELLED',
  /** The client's deadline passed before the request finished. */
  DEADLINE_EXCEEDED: 'DEADLINE_EXCEEDED',
  /** A size limit was exceeded (message too large for the protocol's limit). */
  RESOURCE_EXHAUSTED: 'RESOURCE_EXHAUSTED',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export const ALL_ERROR_CODES: readonly ErrorCode[] = Object.freeze(Object.values(ErrorCode));
