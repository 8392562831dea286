/**
 * Which log level each request outcome gets, in one place: server faults at error, overload and
 * shutdown at warn, client mistakes at debug (they are the client's to see, in the status).
 */
import type { Logger } from 'pino';
import type { InferenceError } from '../errors/inference-error.js';
import { ErrorCode } from '../errors/error-codes.js';

export function logOutcome(log: Logger, rpc: string, err: InferenceError): void {
  const fields = { rpc, code: err.code, err: err.message };
  switch (err.code) {
    case ErrorCode.INTERNAL:
    case ErrorCode.UNKNOWN:
      log.error({ ...fields, stack: err.stack }, 'request failed');
      break;
    case ErrorCode.UNAVAILABLE:
      log.warn(fields, 'request refused');
      break;
    default:
      log.debug(fields, 'request rejected');
  }
}
