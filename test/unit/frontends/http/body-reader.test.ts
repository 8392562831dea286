// readBody (body-reader.ts): every body as the route needs it, read as it arrives. Content-Encoding
// undone as zlib does it, bounded by the size limit as sent and as inflated, the JSON header scanned
// while it arrives (a hostile one is refused without reading the rest), and garbage refused cleanly.
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import type { IncomingHttpHeaders } from 'node:http';
import { readBody, refusedBody, type BodyKind } from '../../../../src/frontends/http/body-reader.js';
import { HttpError } from '../../../../src/frontends/http/http-status.js';
import { InferenceError } from '../../../../src/errors/inference-error.js';
import { ErrorCode } from '../../../../src/errors/error-codes.js';
import { noise } from '../../../helpers/noise.js';

const refusal = (code: ErrorCode, re: RegExp) => (e: unknown) => e instanceof InferenceError && e.code === code && re.test(e.message);
const invalidArg = (re: RegExp) => refusal(ErrorCode.INVALID_ARG, re);

function chunked(b: Buffer, size = 65_536): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < b.length; at += size) out.push(b.subarray(at, at + size));
  return out;
}

/** The body, or its refusal thrown (whether it came as a rejection or as a RefusedBody). */
async function read(body: Buffer | Iterable<Buffer>, headers: IncomingHttpHeaders = {}, maxBytes = 1e6, kind: BodyKind = 'infer'): Promise<Buffer> {
  const chunks = Buffer.isBuffer(body) ? chunked(body) : body;
  const out = await readBody(headers, Readable.from(chunks), { kind, maxBytes, what: 'the header' });
  const refused = refusedBody(out);
  if (refused !== undefined) throw refused;
  return out as Buffer;
}

/** A body stream that counts the chunks pulled from it. */
function counted(chunks: () => Iterator<Buffer>): { stream: Iterable<Buffer>; pulled: () => number } {
  let pulled = 0;
  return {
    stream: { [Symbol.iterator]: () => {
      const it = chunks();
      return { next: () => { pulled++; return it.next(); } };
    } },
    pulled: () => pulled,
  };
}

describe('readBody', () => {
  const text = Buffer.from('{"inputs":[]}'.repeat(50));

  it('passes identity through and undoes gzip, zlib deflate and raw deflate', async () => {
    assert.deepEqual(await read(text), text);
    assert.deepEqual(await read(text, { 'content-encoding': ' Identity ' }), text);
    assert.deepEqual(await read(gzipSync(text), { 'content-encoding': 'gzip' }), text);
    assert.deepEqual(await read(gzipSync(text), { 'content-encoding': 'x-gzip' }), text);
    assert.deepEqual(await read(deflateSync(text), { 'content-encoding': 'deflate' }), text);
    assert.deepEqual(await read(deflateRawSync(text), { 'content-encoding': 'deflate' }), text);
    assert.deepEqual(await read(Buffer.concat([gzipSync(text), gzipSync(text)]), { 'content-encoding': 'gzip' }), Buffer.concat([text, text]), 'two gzip members');
  });

  it('assembles a big body byte for byte, with or without Content-Length', async () => {
    const big = Buffer.from(noise(5 * 1024 * 1024 + 17, 9));
    const header = { 'inference-header-content-length': '0' };
    assert.ok((await read(chunked(big, 16_384), { ...header, 'content-length': String(big.length) }, 6e6)).equals(big));
    assert.ok((await read(chunked(big, 100_000), header, 6e6)).equals(big));
    assert.ok((await read(chunked(gzipSync(big), 1000), { ...header, 'content-encoding': 'gzip' }, 6e6)).equals(big));
  });

  it('leaves other routes\' bodies as sent', async () => {
    const z = gzipSync(text);
    assert.deepEqual(await read(z, { 'content-encoding': 'gzip' }, 1e6, 'raw'), z);
    assert.deepEqual(await read(Buffer.from('\u0000garbage'), {}, 1e6, 'raw'), Buffer.from('\u0000garbage'));
  });

  it('corrupt or truncated data → INVALID_ARG', async () => {
    await assert.rejects(read(Buffer.from('garbage'), { 'content-encoding': 'gzip' }), invalidArg(/failed to decompress .*gzip/));
    const z = gzipSync(text);
    await assert.rejects(read(z.subarray(0, z.length - 8), { 'content-encoding': 'gzip' }), invalidArg(/failed to decompress/));
    await assert.rejects(read(Buffer.alloc(0), { 'content-encoding': 'deflate' }), invalidArg(/failed to decompress/));
  });

  it('stops at the limit: as declared, as received and as inflated', async () => {
    const never = counted(function* () { yield Buffer.from('{}'); });
    await assert.rejects(read(never.stream, { 'content-length': '1000001' }), invalidArg(/larger than the maximum input size of 1000000 bytes/));
    assert.equal(never.pulled(), 0, 'refused from Content-Length, nothing read');
    await assert.rejects(read(Buffer.alloc(4097, 0x20), {}, 4096), invalidArg(/request body is larger than the maximum input size of 4096/));
    const raw = { 'inference-header-content-length': '0', 'content-encoding': 'gzip' };
    await assert.rejects(read(gzipSync(Buffer.alloc(32 * 1024 * 1024)), raw, 1024 * 1024), invalidArg(/decompressed request body is larger than the maximum input size of 1048576 bytes/));
    const d = { 'inference-header-content-length': '0', 'content-encoding': 'deflate' };
    await assert.rejects(read(deflateSync(Buffer.alloc(4096)), d, 4095), invalidArg(/maximum input size/));
    assert.equal((await read(deflateSync(Buffer.alloc(4096)), d, 4096)).length, 4096);
    assert.equal((await read(gzipSync(text), { 'content-encoding': 'gzip' }, Number.MAX_SAFE_INTEGER)).length, text.length, 'a huge limit is not refused');
  });

  it('unknown encodings → 415, before the body is read', async () => {
    for (const enc of ['br', 'gzip, br', 'compress']) {
      const body = counted(function* () { yield text; });
      await assert.rejects(read(body.stream, { 'content-encoding': enc }), (e: unknown) => e instanceof HttpError && e.status === 415);
      assert.equal(body.pulled(), 0);
    }
  });

  it('refuses a hostile JSON header while it arrives, without reading the rest', async () => {
    // 43 MB of {"inputs":[{},{},…]} as 64 KiB chunks: refused at its 16,385th object, in the first chunk.
    const chunk = Buffer.from('{},'.repeat(65_536 / 3));
    const body = counted(function* () {
      yield Buffer.from('{"inputs":[');
      for (let i = 0; i < 700; i++) yield chunk;
    });
    await assert.rejects(read(body.stream), refusal(ErrorCode.RESOURCE_EXHAUSTED, /the header has more than 16384 JSON objects/));
    assert.ok(body.pulled() < 5, `pulled ${body.pulled()} chunks`);
  });

  it('answers a refusal at once and drops the rest of a body of declared length, unread', async () => {
    const chunk = Buffer.from('{},'.repeat(65_536 / 3));
    const chunks = [Buffer.from('{"inputs":['), ...Array.from({ length: 100 }, () => chunk)];
    const payload = Readable.from((async function* () {
      for (const c of chunks) {
        await new Promise(setImmediate); // as a socket delivers them
        yield c;
      }
    })());
    const length = String(chunks.reduce((n, c) => n + c.length, 0));
    const out = await readBody({ 'content-length': length }, payload, { kind: 'infer', maxBytes: 1e8, what: 'the header' });
    assert.match(String(refusedBody(out)?.message), /more than 16384 JSON objects/, 'a RefusedBody, before the body ended');
    assert.equal(payload.readableEnded, false);
    await new Promise((resolve) => payload.once('end', resolve)); // the rest flows to nowhere
    // Without a declared length the rest may be endless: the refusal is a rejection (the connection closes).
    await assert.rejects(readBody({}, Readable.from(chunks), { kind: 'infer', maxBytes: 1e8, what: 'the header' }), /more than 16384 JSON objects/);
  });

  it('refuses a gzip bomb of zeros at its first inflated chunk', async () => {
    const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024));
    const t0 = performance.now();
    await assert.rejects(read(bomb, { 'content-encoding': 'gzip' }, 64 * 1024 * 1024), invalidArg(/failed to parse the header: unexpected character "\\u0000" at offset 0/));
    assert.ok(performance.now() - t0 < 1000, 'not inflated to the end');
  });

  it('scans only the JSON header: Inference-Header-Content-Length bytes, none for 0', async () => {
    const body = Buffer.concat([Buffer.from('{"inputs":[]}'), Buffer.alloc(1000)]);
    assert.deepEqual(await read(body, { 'inference-header-content-length': '13' }), body);
    assert.deepEqual(await read(Buffer.alloc(1000), { 'inference-header-content-length': '0' }), Buffer.alloc(1000));
    const deep = Buffer.from(`[]${'['.repeat(40)}`);
    assert.deepEqual(await read(deep, { 'inference-header-content-length': '2' }), deep, 'binary data after the header is not JSON');
    await assert.rejects(read(deep), invalidArg(/nested deeper than 32 levels/));
    await assert.rejects(read(Buffer.from('[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]'), {}, 1e6, 'json'), invalidArg(/nested deeper than 32 levels/));
  });

  it('never throws anything but its refusals on garbage, compressed or not', async () => {
    for (let seed = 1; seed <= 300; seed++) {
      const bytes = Buffer.from(noise(1 + (seed * 37) % 3000, seed));
      const enc = ['gzip', 'deflate', undefined][seed % 3];
      const headers: IncomingHttpHeaders = enc === undefined ? {} : { 'content-encoding': enc };
      if (seed % 5 === 0) headers['inference-header-content-length'] = String(seed % 40);
      try {
        await read(chunked(bytes, 1 + (seed % 700)), headers, 1e6, seed % 7 === 0 ? 'json' : 'infer');
      } catch (e) {
        assert.ok(e instanceof InferenceError || e instanceof HttpError, `seed ${seed}: ${String(e)}`);
      }
    }
  });
});
