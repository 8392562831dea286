import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ALL_ERROR_CODES, ErrorCode } from '../../../../src/errors/error-codes.js';
import { InferenceError } from '../../../../src/errors/inference-error.js';
import { errorBody, HTTP_STATUS, HttpError, toHttpFailure } from '../../../../src/frontends/http/http-status.js';

describe('HTTP status table', () => {
  it('maps every ErrorCode to an HTTP error status, and nothing else', () => {
    assert.deepEqual(Object.keys(HTTP_STATUS).sort(), [...ALL_ERROR_CODES].sort());
    for (const code of ALL_ERROR_CODES) {
      const s = HTTP_STATUS[code];
      assert.ok(Number.isInteger(s) && s >= 400 && s <= 599, `${code} → ${s}`);
    }
  });

  it('follows Triton where Triton has a mapping (PROTOCOL.md §5.11)', () => {
    assert.deepEqual(
      [ErrorCode.UNKNOWN, ErrorCode.INTERNAL, ErrorCode.NOT_FOUND, ErrorCode.INVALID_ARG, ErrorCode.UNAVAILABLE,
        ErrorCode.UNSUPPORTED, ErrorCode.ALREADY_EXISTS, ErrorCode.CANCELLED].map((c) => HTTP_STATUS[c]),
      [400, 500, 404, 400, 503, 501, 400, 400],
    );
  });
});

describe('toHttpFailure', () => {
  it('core errors keep their message and get the table status', () => {
    const f = toHttpFailure(new InferenceError(ErrorCode.UNAVAILABLE, 'queue full'));
    assert.deepEqual([f.status, f.message, f.error?.code], [503, 'queue full', 'UNAVAILABLE']);
  });

  it('protocol errors keep their own status', () => {
    assert.deepEqual(toHttpFailure(new HttpError(415, 'nope')), { status: 415, message: 'nope' });
  });

  it("fastify's own 4xx errors pass through", () => {
    const cl = Object.assign(new Error('Request body size did not match Content-Length'), { code: 'FST_ERR_CTP_INVALID_CONTENT_LENGTH', statusCode: 400 });
    assert.equal(toHttpFailure(cl).status, 400);
  });

  it('anything else is a 500 with its message', () => {
    assert.deepEqual([toHttpFailure(new TypeError('boom')).status, toHttpFailure('str').message], [500, 'str']);
    const spoof = Object.assign(new Error('x'), { code: 'FST_SOMETHING', statusCode: 503 });
    assert.equal(toHttpFailure(spoof).status, 500);
  });

  it('error bodies are {"error": message}, JSON-escaped', () => {
    assert.deepEqual(JSON.parse(errorBody('a "quoted"\nline')), { error: 'a "quoted"\nline' });
  });
});
