/**
 * --http-header-timeout-secs, --http-request-timeout-secs and --http-idle-timeout-secs: slow and
 * stalled HTTP connections end, with 408 where a response can still be written, and the server
 * keeps answering others.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { BUNDLED_REPO } from '../../helpers/repo.js';
import { startServer, type TestServer } from '../../helpers/start-server.js';

let ts: TestServer;
let port = 0;
before(async () => {
  ts = await startServer([BUNDLED_REPO], { allowGrpc: false, allowMetrics: false, httpHeaderTimeoutSecs: 1, httpRequestTimeoutSecs: 2, httpIdleTimeoutSecs: 3 });
  port = Number(new URL(ts.httpUrl).port);
});
after(() => ts.close());

/** Opens a raw connection, writes `first`, and resolves with what came back and when it closed. */
function raw(first: string, each?: { every: number; chunk: string }): Promise<{ text: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const s: Socket = connect(port, '127.0.0.1', () => s.write(first));
    let text = '';
    let timer: NodeJS.Timeout | undefined;
    if (each !== undefined) timer = setInterval(() => s.writable && s.write(each.chunk), each.every);
    s.on('data', (c) => (text += c.toString()));
    s.on('error', () => undefined);
    s.on('close', () => {
      clearInterval(timer);
      resolve({ text, ms: performance.now() - t0 });
    });
    setTimeout(() => reject(new Error(`connection still open after 15 s; got: ${text}`)), 15_000).unref();
  });
}

describe('slow HTTP connections', () => {
  it('headers that never finish get 408 after the header timeout', async () => {
    const r = await raw('POST /v2/models/simple/infer HTTP/1.1\r\nHost: x\r\n');
    assert.match(r.text, /^HTTP\/1\.1 408/);
    assert.match(r.text, /"error":"malformed HTTP request: ERR_HTTP_REQUEST_TIMEOUT"/);
    assert.ok(r.ms >= 900 && r.ms < 10_000, `closed after ${r.ms} ms`);
  });

  it('a body trickled a byte at a time ends at the request timeout', async () => {
    const r = await raw('POST /v2/models/simple/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n{', { every: 200, chunk: ' ' });
    assert.ok(r.ms >= 1900 && r.ms < 12_000, `closed after ${r.ms} ms`);
  });

  it('headers and then nothing (a chunk declaring 2^64 bytes) end by the request or idle timeout', async () => {
    const r = await raw('POST /v2/models/simple/infer HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n');
    assert.ok(r.ms < 10_000, `closed after ${r.ms} ms`);
  });

  it('a prompt client is still answered', async () => {
    const res = await fetch(`${ts.httpUrl}/v2/health/ready`);
    assert.equal(res.status, 200);
  });
});
