/**
 * ErrorCode → gRPC status: the only gRPC status table (PROTOCOL.md §5.11, Triton's CodeToStatus).
 */
import { status, type ServiceError, Metadata } from '@grpc/grpc-js';
import { ErrorCode } from '../../errors/error-codes.js';
import { InferenceError } from '../../errors/inference-error.js';
import { boundedMessage } from '../../errors/catalogue.js';

export const GRPC_STATUS: Readonly<Record<ErrorCode, status>> = Object.freeze({
  [ErrorCode.UNKNOWN]: status.UNKNOWN,
  [ErrorCode.INTERNAL]: status.INTERNAL,
  [ErrorCode.NOT_FOUND]: status.NOT_FOUND,
  [ErrorCode.INVALID_ARG]: status.INVALID_ARGUMENT,
  [ErrorCode.UNAVAILABLE]: status.UNAVAILABLE,
  [ErrorCode.UNSUPPORTED]: status.UNIMPLEMENTED,
  [ErrorCode.ALREADY_EXISTS]: status.ALREADY_EXISTS,
  [ErrorCode.CANCELLED]: status.CANCELLED,
  [ErrorCode.DEADLINE_EXCEEDED]: status.DEADLINE_EXCEEDED,
  [ErrorCode.RESOURCE_EXHAUSTED]: status.RESOURCE_EXHAUSTED,
});

/** The error object grpc-js sends as the call's status; the message is bounded to fit the trailer. */
export function toServiceError(e: unknown): Partial<ServiceError> {
  const err = InferenceError.from(e);
  return { code: GRPC_STATUS[err.code], details: boundedMessage(err.message), metadata: new Metadata() };
}
