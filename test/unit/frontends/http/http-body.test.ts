import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { gunzipSync, inflateSync } from 'node:zlib';
import { encodeBody, pickEncoding, splitInferBody } from '../../../../src/frontends/http/http-body.js';
import { InferenceError } from '../../../../src/errors/inference-error.js';

const invalidArg = (re: RegExp) => (e: unknown) => e instanceof InferenceError && e.code === 'INVALID_ARG' && re.test(e.message);

describe('pickEncoding and encodeBody', () => {
  it('chooses gzip or deflate by q, first listed on ties, never a refused one', () => {
    const cases: [string | undefined, string | undefined][] = [
      [undefined, undefined], ['', undefined], ['identity', undefined], ['br', undefined], ['gzip', 'gzip'], ['deflate', 'deflate'],
      ['deflate, gzip', 'deflate'], ['gzip;q=0.5, deflate', 'deflate'], ['gzip;q=0, deflate;q=0', undefined], ['*', 'gzip'],
      ['GZIP ; q=1.0', 'gzip'], ['gzip;q=abc', undefined], ['br;q=1, deflate;q=0.1', 'deflate'],
    ];
    for (const [h, want] of cases) assert.equal(pickEncoding(h), want, String(h));
  });

  it('round-trips', async () => {
    const b = Buffer.from('x'.repeat(1000));
    assert.deepEqual(gunzipSync(await encodeBody(b, 'gzip')), b);
    assert.deepEqual(inflateSync(await encodeBody(b, 'deflate')), b);
  });
});

describe('splitInferBody', () => {
  const body = Buffer.from('{"a":1}BINARY');

  it('no header: all JSON; a length: JSON then binary; 0: all binary', () => {
    const all = splitInferBody(body, undefined, 'm');
    assert.deepEqual([all.header?.toString(), all.binary.length], [body.toString(), 0]);
    const s = splitInferBody(body, '7', 'm');
    assert.deepEqual([s.header?.toString(), s.binary.toString()], ['{"a":1}', 'BINARY']);
    assert.deepEqual(splitInferBody(body, String(body.length), 'm').binary.length, 0);
    const raw = splitInferBody(body, '0', 'm');
    assert.equal(raw.header, undefined);
    assert.equal(raw.binary, body);
  });

  it('a length beyond the body or not a number → INVALID_ARG', () => {
    for (const h of [String(body.length + 1), '-1', '1e3', 'abc', '', '9'.repeat(20), '7, 7']) {
      assert.throws(() => splitInferBody(body, h, "model 'm'"), invalidArg(/Inference-Header-Content-Length|inference header size/), h);
    }
  });
});
