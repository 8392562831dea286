import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { ALL_ERROR_CODES, ErrorCode } from '../../../../src/errors/error-codes.js';
import { InferenceError } from '../../../../src/errors/inference-error.js';
import { GRPC_STATUS, toServiceError } from '../../../../src/frontends/grpc/grpc-status.js';

describe('gRPC status table', () => {
  it('maps every ErrorCode to a distinct non-OK gRPC status, and nothing else', () => {
    assert.deepEqual(Object.keys(GRPC_STATUS).sort(), [...ALL_ERROR_CODES].sort());
    const values = ALL_ERROR_CODES.map((c) => GRPC_STATUS[c]);
    for (const v of values) assert.ok(v !== status.OK && status[v] !== undefined, `${v}`);
    assert.equal(new Set(values).size, values.length);
  });

  it("follows Triton's CodeToStatus", () => {
    assert.deepEqual(
      [ErrorCode.UNKNOWN, ErrorCode.INTERNAL, ErrorCode.NOT_FOUND, ErrorCode.INVALID_ARG, ErrorCode.UNAVAILABLE,
        ErrorCode.UNSUPPORTED, ErrorCode.ALREADY_EXISTS, ErrorCode.CANCELLED].map((c) => GRPC_STATUS[c]),
      [status.UNKNOWN, status.INTERNAL, status.NOT_FOUND, status.INVALID_ARGUMENT, status.UNAVAILABLE,
        status.UNIMPLEMENTED, status.ALREADY_EXISTS, status.CANCELLED],
    );
  });

  it('toServiceError carries code and message; foreign errors become INTERNAL', () => {
    const e = toServiceError(new InferenceError(ErrorCode.NOT_FOUND, 'no model'));
    assert.deepEqual([e.code, e.details], [status.NOT_FOUND, 'no model']);
    assert.equal(toServiceError(new Error('x')).code, status.INTERNAL);
  });
});
