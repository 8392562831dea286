import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { deflateRawSync, deflateSync, gzipSync, gunzipSync } from 'node:zlib';
import { decodeBody, encodeBody, pickEncoding, splitInferBody } from '../../../../src/frontends/http/http-body.js';
import { HttpError } from '../../../../src/frontends/http/http-status.js';
import { InferenceError } from '../../../../src/errors/inference-error.js';

const invalidArg = (re: RegExp) => (e: unknown) => e instanceof InferenceError && e.code === 'INVALID_ARG' && re.test(e.message);

describe('decodeBody', () => {
  const text = Buffer.from('{"inputs":[]}'.repeat(50));

  it('passes identity through and undoes gzip, zlib deflate and raw deflate', async () => {
    assert.equal(await decodeBody(text, undefined, 1e6), text);
    assert.equal(await decodeBody(text, ' Identity ', 1e6), text);
    assert.deepEqual(await decodeBody(gzipSync(text), 'gzip', 1e6), text);
    assert.deepEqual(await decodeBody(gzipSync(text), 'x-gzip', 1e6), text);
    assert.deepEqual(await decodeBody(deflateSync(text), 'deflate', 1e6), text);
    assert.deepEqual(await decodeBody(deflateRawSync(text), 'deflate', 1e6), text);
  });

  it('corrupt or truncated data → INVALID_ARG', async () => {
    await assert.rejects(decodeBody(Buffer.from('garbage'), 'gzip', 1e6), invalidArg(/failed to decompress .*gzip/));
    const z = gzipSync(text);
    await assert.rejects(decodeBody(z.subarray(0, z.length - 8), 'gzip', 1e6), invalidArg(/failed to decompress/));
    await assert.rejects(decodeBody(Buffer.alloc(0), 'deflate', 1e6), invalidArg(/failed to decompress/));
  });

  it('stops at the limit: a bomb is INVALID_ARG, never fully inflated', async () => {
    const bomb = gzipSync(Buffer.alloc(32 * 1024 * 1024));
    await assert.rejects(decodeBody(bomb, 'gzip', 1024 * 1024), invalidArg(/larger than the maximum input size of 1048576 bytes/));
    await assert.rejects(decodeBody(deflateSync(Buffer.alloc(4096)), 'deflate', 4095), invalidArg(/maximum input size/));
    assert.equal((await decodeBody(deflateSync(Buffer.alloc(4096)), 'deflate', 4096)).length, 4096);
    assert.equal((await decodeBody(gzipSync(text), 'gzip', Number.MAX_SAFE_INTEGER)).length, text.length, 'a huge limit is clamped, not refused');
  });

  it('unknown encodings → 415', async () => {
    for (const enc of ['br', 'gzip, br', 'compress']) {
      await assert.rejects(decodeBody(text, enc, 1e6), (e: unknown) => e instanceof HttpError && e.status === 415);
    }
  });
});

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
    assert.deepEqual(await decodeBody(await encodeBody(b, 'deflate'), 'deflate', 1e6), b);
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
