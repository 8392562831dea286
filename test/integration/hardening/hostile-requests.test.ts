/**
 * Issue #20 parts 1–3 over the wire, against the real server: requests that declare millions of
 * entries (plain or gzip-compressed), hostile JSON headers, and client values long enough that an
 * echoing error would not fit a header. Each gets a quick, clear refusal, and the server keeps
 * answering other clients. The big-payload timings are in bench/hostile-requests.ts.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import zlib from 'node:zlib';
import { status, type ServiceError } from '@grpc/grpc-js';
import { BUNDLED_REPO } from '../../helpers/repo.js';
import { call, startServer, type TestServer } from '../../helpers/start-server.js';
import { errorOf, http, postJson } from '../http/http-client.js';
import { MAX_ERROR_BYTES } from '../../../src/errors/catalogue.js';
import type { ModelInferRequest } from '../../../src/generated/inference/ModelInferRequest.js';
import type { ModelStreamInferResponse__Output } from '../../../src/generated/inference/ModelStreamInferResponse.js';
import { loadInferenceProtos } from '../../../src/frontends/grpc/proto-loader.js';

let ts: TestServer;
before(async () => {
  ts = await startServer([BUNDLED_REPO], { allowMetrics: false });
});
after(() => ts.close());

/** One ModelInfer call written as raw HTTP/2 frames: [grpc-status, grpc-message, ms]. */
function rawInfer(message: Buffer, gzip = false, target = ts.target): Promise<[number, string, number]> {
  const t0 = performance.now();
  const session = http2.connect(`http://${target}`);
  session.on('error', () => undefined);
  return new Promise((resolve) => {
    const headers: http2.OutgoingHttpHeaders = { ':method': 'POST', ':path': '/inference.GRPCInferenceService/ModelInfer', 'content-type': 'application/grpc', te: 'trailers' };
    if (gzip) headers['grpc-encoding'] = 'gzip';
    const s = session.request(headers);
    let code = -1;
    let text = '';
    const take = (h: http2.IncomingHttpHeaders) => {
      if (h['grpc-status'] !== undefined) code = Number(h['grpc-status']);
      if (h['grpc-message'] !== undefined) text = decodeURIComponent(String(h['grpc-message']));
    };
    s.on('response', take);
    s.on('trailers', take);
    s.on('data', () => undefined);
    s.on('close', () => {
      session.close();
      resolve([code, text, performance.now() - t0]);
    });
    const prefix = Buffer.alloc(5);
    prefix.writeUInt8(gzip ? 1 : 0, 0);
    prefix.writeUInt32BE(message.length, 1);
    s.end(Buffer.concat([prefix, message]));
  });
}

const NAME = Buffer.from([0x0a, 6, ...Buffer.from('simple')]);
const emptyEntries = (tag: number, n: number) => Buffer.alloc(2 * n, Buffer.from([tag, 0]));
const infer = (req: ModelInferRequest) => call(ts.client.ModelInfer.bind(ts.client), req);
const live = () => call(ts.client.ServerLive.bind(ts.client), {});

describe('gRPC requests that declare too much', () => {
  it('5 M empty raw_input_contents: RESOURCE_EXHAUSTED naming the model, while others are answered', async () => {
    const attack = rawInfer(Buffer.concat([NAME, emptyEntries(0x3a, 5_000_000)]));
    const t0 = performance.now();
    await live();
    const liveMs = performance.now() - t0;
    const [code, message, ms] = await attack;
    assert.equal(code, status.RESOURCE_EXHAUSTED, message);
    assert.match(message, /ModelInferRequest to model 'simple' refused: 'raw_input_contents' of inference\.ModelInferRequest has more than 4096 entries/);
    assert.ok(ms < 10_000, `refused after ${ms} ms`); // ~0.1 s alone (it was 10 s and 1.2 GB)
    assert.ok(liveMs < 5000, `ServerLive took ${liveMs} ms during the attack`);
  });

  it('30 M empty entries sent gzip-compressed (57 KiB): refused the same way', async () => {
    const [code, message] = await rawInfer(zlib.gzipSync(Buffer.concat([NAME, emptyEntries(0x3a, 30_000_000)])), true);
    assert.equal(code, status.RESOURCE_EXHAUSTED, message);
    assert.match(message, /more than 4096 entries/);
    await live();
  });

  it('3 M empty inputs and wire-type garbage: RESOURCE_EXHAUSTED and INVALID_ARGUMENT', async () => {
    const [c1, m1] = await rawInfer(Buffer.concat([NAME, emptyEntries(0x2a, 3_000_000)]));
    assert.equal(c1, status.RESOURCE_EXHAUSTED, m1);
    const [c2, m2] = await rawInfer(Buffer.concat([NAME, Buffer.from([0x7e, 0x00])]));
    assert.equal(c2, status.INVALID_ARGUMENT, m2);
    assert.match(m2, /malformed ModelInferRequest to model 'simple': invalid wire type 6/);
  });
});

/** gRPC framing of `message`, compressed-flag set when `gzip`. */
function frame(message: Buffer, gzip: boolean): Buffer {
  const prefix = Buffer.alloc(5);
  prefix.writeUInt8(gzip ? 1 : 0, 0);
  prefix.writeUInt32BE(message.length, 1);
  return Buffer.concat([prefix, message]);
}

/** One ModelStreamInfer call written as raw frames (gzip stream encoding): [grpc-status, the responses]. */
function rawStream(messages: Buffer[]): Promise<[number, ModelStreamInferResponse__Output[]]> {
  const session = http2.connect(`http://${ts.target}`);
  session.on('error', () => undefined);
  return new Promise((resolve) => {
    const s = session.request({ ':method': 'POST', ':path': '/inference.GRPCInferenceService/ModelStreamInfer', 'content-type': 'application/grpc', te: 'trailers', 'grpc-encoding': 'gzip' });
    let code = -1;
    const chunks: Buffer[] = [];
    s.on('trailers', (h) => (code = Number(h['grpc-status'])));
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('close', () => {
      session.close();
      const body = Buffer.concat(chunks);
      const out: ModelStreamInferResponse__Output[] = [];
      for (let at = 0; at < body.length; at += 5 + body.readUInt32BE(at + 1)) {
        out.push(protos.inference.ModelStreamInfer.responseDeserialize(body.subarray(at + 5, at + 5 + body.readUInt32BE(at + 1))) as ModelStreamInferResponse__Output);
      }
      resolve([code, out]);
    });
    s.end(Buffer.concat(messages));
  });
}

const protos = loadInferenceProtos();
const simpleRequest = (id: string): ModelInferRequest => ({
  model_name: 'simple', id,
  inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 16] }, { name: 'INPUT1', datatype: 'INT32', shape: [1, 16] }],
  raw_input_contents: [Buffer.alloc(64, 1), Buffer.alloc(64, 2)],
});

describe('gRPC gzip bombs', () => {
  // 256 MiB of zeros in 256 KiB; the bench sends the 1 GiB one. Each inflated chunk is scanned
  // before it is kept, so the bomb stops after its first chunk (field number 0).
  const bomb = zlib.gzipSync(Buffer.alloc(256 << 20), { level: 9 });

  it('a bomb of zeros is refused after its first chunk, and a small request meanwhile answers at once', async () => {
    const attack = rawInfer(bomb, true);
    const t0 = performance.now();
    const r = await infer(simpleRequest('meanwhile'));
    const smallMs = performance.now() - t0;
    const [code, message, ms] = await attack;
    assert.equal(code, status.INVALID_ARGUMENT, message);
    assert.match(message, /malformed ModelInferRequest: invalid field number 0 in inference\.ModelInferRequest/);
    assert.equal(r.outputs?.length, 2);
    assert.ok(ms < 1000, `refused after ${ms} ms`); // ~30 ms here (grpc-js inflating it all: ~3 s)
    assert.ok(smallMs < 3000, `simple took ${smallMs} ms during the bomb`);
  });

  it('on ModelStreamInfer, the bomb is one error on the stream and the next request is answered', async () => {
    const good = protos.inference.ModelStreamInfer.requestSerialize(simpleRequest('after-bomb'));
    const [code, responses] = await rawStream([frame(bomb, true), frame(zlib.gzipSync(good), true), frame(good, false)]);
    assert.equal(code, status.OK);
    assert.equal(responses.length, 3);
    assert.match(responses[0]!.error_message, /malformed ModelInferRequest: invalid field number 0/);
    for (const r of responses.slice(1)) {
      assert.equal(r.error_message, '');
      assert.equal(r.infer_response?.id, 'after-bomb');
    }
  });
});

describe('--grpc-max-input-size', () => {
  let small: TestServer;
  before(async () => {
    small = await startServer([BUNDLED_REPO], { allowMetrics: false, allowHttp: false, grpcMaxInputBytes: 1 << 20 });
  });
  after(() => small.close());

  it('refuses a larger message from its declared length, and a gzip bomb once it inflates past the limit', async () => {
    // The declared length alone decides: the bytes are never sent in full.
    const [c1, m1] = await rawInfer(Buffer.concat([NAME, Buffer.alloc(2 << 20)]), false, small.target);
    assert.equal(c1, status.RESOURCE_EXHAUSTED, m1);
    assert.match(m1, /Received message larger than max \(\d+ vs 1048576\)/);
    const [c2, m2] = await rawInfer(zlib.gzipSync(Buffer.alloc(4 << 20, Buffer.from([0xa0, 0x06, 0x01]))), true, small.target);
    assert.equal(c2, status.RESOURCE_EXHAUSTED, m2);
    assert.match(m2, /decompresses to a size larger than 1048576/);
    // A compressed tensor declaring more than the limit is refused from its declared length.
    const [c3, m3] = await rawInfer(zlib.gzipSync(Buffer.concat([NAME, Buffer.from([0x3a, 0x80, 0x80, 0x80, 0x04]), Buffer.alloc(2 << 20)])), true, small.target);
    assert.equal(c3, status.RESOURCE_EXHAUSTED, m3);
    assert.match(m3, /ModelInferRequest to model 'simple' refused: 'raw_input_contents' of 8388608 bytes at byte 13 ends past the 1048576-byte message limit/);
  });
});

describe('errors fit in a header whatever the client sent', () => {
  it('a 100,000-character model name gets NOT_FOUND, clipped with a marker, and the channel keeps working', async () => {
    const name = 'm'.repeat(100_000);
    await assert.rejects(infer({ model_name: name, inputs: [] }), (e: ServiceError) => {
      assert.equal(e.code, status.NOT_FOUND);
      assert.match(e.details, /Request for unknown model: 'm{128}…\[99872 more characters\]'/);
      assert.ok(Buffer.byteLength(e.details) <= MAX_ERROR_BYTES);
      return true;
    });
    assert.deepEqual(await live(), { live: true });
  });

  it('a 100,000-dim shape is refused by its declared size', async () => {
    const req: ModelInferRequest = { model_name: 'simple', inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: Array<number>(100_000).fill(1) }] };
    await assert.rejects(infer(req), (e: ServiceError) => {
      assert.equal(e.code, status.RESOURCE_EXHAUSTED);
      assert.match(e.details, /'shape' of inference\.ModelInferRequest\.InferInputTensor has more than 64 elements/);
      return true;
    });
  });

  it('over HTTP, a 100,000-character input name is clipped in the error body', async () => {
    const r = await postJson(`${ts.httpUrl}/v2/models/simple/infer`, { inputs: [{ name: 'x'.repeat(100_000), datatype: 'INT32', shape: [1, 16], data: Array<number>(16).fill(0) }, { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: Array<number>(16).fill(0) }] });
    assert.equal(r.status, 400);
    assert.match(errorOf(r), /unexpected inference input 'x{128}…\[99872 more characters\]'/);
    assert.ok(r.body.length <= MAX_ERROR_BYTES + 64);
  });
});

describe('HTTP JSON headers that declare too much', () => {
  const url = () => `${ts.httpUrl}/v2/models/simple/infer`;
  it('nesting deeper than 32 levels: 400 before parsing', async () => {
    const r = await http(url(), { method: 'POST', body: `${'['.repeat(100_000)}${']'.repeat(100_000)}` });
    assert.equal(r.status, 400, errorOf(r));
    assert.match(errorOf(r), /the inference request header for model 'simple' is nested deeper than 32 levels/);
  });

  it('too many objects, arrays, inputs or dims: 413 before parsing', async () => {
    const cases: [string, RegExp][] = [
      [`{"inputs":[${'{},'.repeat(20_000)}{}]}`, /has more than 16384 JSON objects/],
      [`[${'[],'.repeat(1_100_000)}[]]`, /has more than 1048576 JSON arrays/],

      [JSON.stringify({ inputs: Array.from({ length: 5000 }, () => 1) }), /has 5000 inputs, more than the limit of 4096/],
      [JSON.stringify({ inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: Array<number>(65).fill(1), data: [] }] }), /shape of 65 dimensions, more than the limit of 64/],
    ];
    for (const [body, message] of cases) {
      const r = await http(url(), { method: 'POST', body });
      assert.equal(r.status, 413, errorOf(r));
      assert.match(errorOf(r), message);
    }
  });
});

describe('HTTP bodies refused while they arrive', () => {
  /** Raw HTTP/1.1 on one socket: write `head` and `first`, resolve with the first response's text once it is complete. */
  function exchange(sock: net.Socket): (bytes: Buffer | string) => Promise<string> {
    let pending = '';
    let waiter: ((text: string) => void) | undefined;
    sock.on('data', (d: Buffer) => {
      pending += d.toString('latin1');
      const end = pending.indexOf('\r\n\r\n');
      if (end < 0 || waiter === undefined) return;
      const length = Number(/content-length: (\d+)/i.exec(pending.slice(0, end))?.[1] ?? 0);
      if (pending.length < end + 4 + length) return;
      const text = pending.slice(0, end + 4 + length);
      pending = pending.slice(end + 4 + length);
      const w = waiter;
      waiter = undefined;
      w(text);
    });
    return (bytes) => new Promise((resolve) => {
      waiter = resolve;
      sock.write(bytes);
    });
  }

  it('a hostile header is answered before the rest of its body is sent; the rest is dropped and the connection serves the next request', { timeout: 30_000 }, async () => {
    const total = 8 * 1024 * 1024; // declared; far more objects than the limit
    const body = Buffer.from(`{"inputs":[${'{},'.repeat(total / 3)}`).subarray(0, total);
    const { port } = new URL(ts.httpUrl);
    const sock = net.connect(Number(port), '127.0.0.1');
    await new Promise((resolve) => sock.once('connect', resolve));
    const send = exchange(sock);
    const head = `POST /v2/models/simple/infer HTTP/1.1\r\nHost: x\r\nContent-Length: ${total}\r\n\r\n`;
    const answer = await send(Buffer.concat([Buffer.from(head), body.subarray(0, 256 * 1024)]));
    assert.match(answer, /^HTTP\/1\.1 413 /);
    assert.match(answer, /more than 16384 JSON objects/);
    assert.doesNotMatch(answer, /connection: close/i, 'the connection stays usable');
    // The other 7.75 MiB, then a second request on the same connection.
    sock.write(body.subarray(256 * 1024));
    const next = await send('GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.match(next, /^HTTP\/1\.1 200 /);
    sock.destroy();
  });

  it('a gzip bomb of zeros is refused at its first byte, not inflated to the limit', async () => {
    const t0 = performance.now();
    const r = await http(`${ts.httpUrl}/v2/models/simple/infer`, { method: 'POST', body: zlib.gzipSync(Buffer.alloc(64 << 20)), headers: { 'content-encoding': 'gzip' } });
    assert.equal(r.status, 400, errorOf(r));
    assert.match(errorOf(r), /the inference request header for model 'simple': unexpected character "\\u0000" at offset 0/);
    assert.ok(performance.now() - t0 < 5000);
  });
});

describe('gRPC raw entries refused from their declared size', () => {
  const header = Buffer.concat([NAME, ...['INPUT0', 'INPUT1'].map((n) => {
    const t = Buffer.concat([Buffer.from([0x0a, n.length]), Buffer.from(n), Buffer.from([0x12, 5]), Buffer.from('INT32'), Buffer.from([0x1a, 2, 1, 16])]);
    return Buffer.concat([Buffer.from([0x2a, t.length]), t]);
  })]);
  const rawEntry = (n: number) => {
    const len: number[] = [];
    for (let v = n; ; v = Math.floor(v / 128)) {
      if (v < 128) {
        len.push(v);
        break;
      }
      len.push((v % 128) | 0x80);
    }
    return Buffer.concat([Buffer.from([0x3a, ...len]), Buffer.alloc(n)]);
  };

  it('gzip: a valid header, then 256 MiB of zeros for a 64-byte input, is refused in its first chunk', async () => {
    const [code, message, ms] = await rawInfer(zlib.gzipSync(Buffer.concat([header, rawEntry(256 << 20), rawEntry(64)])), true);
    assert.equal(code, status.INVALID_ARGUMENT);
    assert.equal(message, "input byte size mismatch for input 'INPUT0' for model 'simple'. Expected 64, got 268435456");
    assert.ok(ms < 5000, `${ms} ms`);
    await live();
  });

  it('uncompressed: a 16 MiB entry for a 64-byte input gets the same answer, and the next request is served', async () => {
    const [code, message] = await rawInfer(Buffer.concat([header, rawEntry(16 << 20), rawEntry(64)]));
    assert.equal(code, status.INVALID_ARGUMENT);
    assert.equal(message, "input byte size mismatch for input 'INPUT0' for model 'simple'. Expected 64, got 16777216");
    const [ok] = await rawInfer(Buffer.concat([header, rawEntry(64), rawEntry(64)]));
    assert.equal(ok, status.OK);
  });
});
