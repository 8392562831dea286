/**
 * --http-max-input-size and hostile bodies: too large (declared, chunked, after decompression),
 * truncated, lying Content-Length. Each is a 400 with a message, and the server keeps serving.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { request } from 'node:http';
import { IDENTITY_FP32_CONFIG, TempRepo } from '../../helpers/repo.js';
import { startServer, type TestServer } from '../../helpers/start-server.js';
import { errorOf, http, rawExchange } from './http-client.js';

const LIMIT = 64 * 1024;

let ts: TestServer;
let infer: string;
const repo = new TempRepo().add('id', { config: IDENTITY_FP32_CONFIG, versions: { 1: 'identity_fp32.onnx' } });
before(async () => {
  ts = await startServer([repo.dir], { httpMaxInputBytes: LIMIT });
  infer = `${ts.httpUrl}/v2/models/id/infer`;
});
after(async () => {
  await ts.close();
  repo.remove();
});

/** A JSON request of n FP32 zeros: about 2n + 80 bytes. */
function requestOf(n: number): Buffer {
  return Buffer.from(JSON.stringify({ inputs: [{ name: 'IN', datatype: 'FP32', shape: [1, n], data: new Array(n).fill(0) }] }));
}

async function stillServing(): Promise<void> {
  const r = await http(infer, { method: 'POST', body: requestOf(4) });
  assert.equal(r.status, 200);
}

describe('body size limit', () => {
  it('a body just under the limit is served', async () => {
    const body = requestOf(Math.floor((LIMIT - 200) / 2));
    assert.ok(body.length <= LIMIT);
    assert.equal((await http(infer, { method: 'POST', body })).status, 200);
  });

  it('a Content-Length over the limit → 400 naming the limit', async () => {
    const r = await http(infer, { method: 'POST', body: requestOf(LIMIT) });
    assert.equal(r.status, 400);
    assert.match(errorOf(r), new RegExp(`maximum input size of ${LIMIT} bytes`));
    await stillServing();
  });

  it('a chunked body that grows past the limit → 400', async () => {
    const r = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(infer, { method: 'POST', headers: { 'transfer-encoding': 'chunked' }, agent: false }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      const chunk = Buffer.alloc(16 * 1024, 0x20);
      for (let i = 0; i < 8; i++) req.write(chunk);
      req.end();
    });
    assert.equal(r.status, 400);
    assert.match(r.body, /maximum input size/);
    await stillServing();
  });

  it('a gzip bomb (small compressed, huge decompressed) → 400, bounded by the limit', async () => {
    const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024, 0x20));
    assert.ok(bomb.length < LIMIT);
    const r = await http(infer, { method: 'POST', headers: { 'content-encoding': 'gzip' }, body: bomb });
    assert.equal(r.status, 400);
    assert.match(errorOf(r), /decompressed request body is larger than the maximum input size/);
    await stillServing();
  });
});

describe('truncated and lying bodies', () => {
  it('Content-Length larger than what arrives before the client half-closes → 400 or a closed connection, never a crash', async () => {
    const head = `POST /v2/models/id/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n`;
    const out = await rawExchange(ts.httpUrl, Buffer.from(head + '{"inputs":['), true);
    assert.ok(out === '' || /^HTTP\/1\.1 400/.test(out), out);
    await stillServing();
  });

  it('a body longer than Content-Length: the extra bytes are a malformed next request → 400 in the {"error"} format', async () => {
    const body = '{"inputs":[]}';
    const head = `POST /v2/models/id/infer HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`;
    const out = await rawExchange(ts.httpUrl, Buffer.from(head + body + 'GARBAGE'), false);
    assert.match(out, /^HTTP\/1\.1 400/);
    assert.match(out, /\{"error":"[^"]+"\}/);
    await stillServing();
  });

  it('an Inference-Header-Content-Length beyond the body → 400', async () => {
    const r = await http(infer, { method: 'POST', headers: { 'inference-header-content-length': String(LIMIT) }, body: requestOf(4) });
    assert.equal(r.status, 400);
    assert.match(errorOf(r), /should be in range/);
  });
});
