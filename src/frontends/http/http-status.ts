/**
 * ErrorCode → HTTP status: the only HTTP status table (PROTOCOL.md §5.11, Triton's
 * HttpCodeFromError), plus the few protocol-level statuses that have no ErrorCode (unknown path,
 * wrong method, unsupported Content-Encoding). Every error body is `{"error": "<message>"}`.
 */
import { ErrorCode } from '../../errors/error-codes.js';
import { InferenceError } from '../../errors/inference-error.js';
import { boundedMessage } from '../../errors/catalogue.js';

/**
 * Triton's mapping where Triton has one. DEADLINE_EXCEEDED and RESOURCE_EXHAUSTED have no
 * Triton HTTP counterpart: 504 and 413 are the statuses an HTTP client expects for them.
 */
export const HTTP_STATUS: Readonly<Record<ErrorCode, number>> = Object.freeze({
  [ErrorCode.UNKNOWN]: 400,
  [ErrorCode.INTERNAL]: 500,
  [ErrorCode.NOT_FOUND]: 404,
  [ErrorCode.INVALID_ARG]: 400,
  [ErrorCode.UNAVAILABLE]: 503,
  [ErrorCode.UNSUPPORTED]: 501,
  [ErrorCode.ALREADY_EXISTS]: 400,
  [ErrorCode.CANCELLED]: 400,
  [ErrorCode.DEADLINE_EXCEEDED]: 504,
  [ErrorCode.RESOURCE_EXHAUSTED]: 413,
});

/** A protocol-level failure whose status is not one of an ErrorCode's. */
export class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
    this.name = 'HttpError';
  }
}

export const notFound = (): HttpError => new HttpError(404, 'Not Found');
export const methodNotAllowed = (): HttpError => new HttpError(405, 'Method Not Allowed');
export const unsupportedMediaType = (msg: string): HttpError => new HttpError(415, msg);

/** fastify's own errors carry a `code` (FST_ERR_…) and a 4xx/5xx `statusCode`. */
interface FastifyLikeError {
  code?: unknown;
  statusCode?: unknown;
  message: string;
}

export interface HttpFailure {
  status: number;
  message: string;
  /** Set for errors of the core (logged through the log policy). */
  error?: InferenceError;
}

/** Any thrown value → status and message. */
export function toHttpFailure(e: unknown): HttpFailure {
  if (e instanceof HttpError) return { status: e.status, message: e.message };
  if (e instanceof InferenceError) return { status: HTTP_STATUS[e.code], message: e.message, error: e };
  if (e instanceof Error) {
    const f = e as Error & FastifyLikeError;
    if (f.code === 'ECONNRESET' || f.code === 'ECONNABORTED' || f.message === 'aborted') {
      // The client went away mid-body: its doing, not a server fault (logged at debug, answer unseen).
      const err = new InferenceError(ErrorCode.CANCELLED, 'the client closed the connection before the request body arrived');
      return { status: HTTP_STATUS[err.code], message: err.message, error: err };
    }
    if (typeof f.code === 'string' && f.code.startsWith('FST_') && typeof f.statusCode === 'number' && f.statusCode < 500) {
      return { status: f.statusCode, message: f.message };
    }
  }
  const err = InferenceError.from(e);
  return { status: HTTP_STATUS[err.code], message: err.message, error: err };
}

/** `{"error": "<message>"}`, the message bounded as over gRPC (it may also be logged or proxied as a header). */
export function errorBody(message: string): string {
  return JSON.stringify({ error: boundedMessage(message) });
}
