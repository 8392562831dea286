/**
 * The HTTP transport's server-sent-events parser and what inferStream makes of a stream that
 * breaks the protocol: events split at every byte give the same data, every line ending works,
 * an oversized event or a line that is not SSE is INTERNAL at once, and over a fake server bad
 * JSON, a missing final response, an event after it and an error event all end the iterator with
 * an InferenceClientError (never a hang or a crash).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InferenceClient, InferenceClientError } from 'infera/client';
import { EventStreamParser } from '../../../src/client/event-stream-parser.js';
import { noise } from '../../helpers/noise.js';

const text = (chunks: Uint8Array[]): string[] => chunks.map((c) => Buffer.from(c).toString('utf8'));

function feed(input: string | Buffer, split: number[], max?: number): string[] {
  const p = new EventStreamParser(max);
  const bytes = typeof input === 'string' ? Buffer.from(input) : input;
  const out: string[] = [];
  let at = 0;
  for (const end of [...split, bytes.byteLength]) {
    out.push(...text(p.push(bytes.subarray(at, end))));
    at = end;
  }
  p.end();
  return out;
}

function malformed(e: unknown, re: RegExp): boolean {
  assert.ok(e instanceof InferenceClientError, String(e));
  assert.equal(e.code, 'INTERNAL');
  assert.match(e.message, re);
  return true;
}

describe('EventStreamParser', () => {
  const STREAM = '\ufeff: heartbeat\n\ndata: {"a":1}\n\nid: 7\nevent: message\nretry: 10\ndata:{"b":\ndata: 2}\n\n:\n\ndata: é\n\n';
  const EXPECTED = ['{"a":1}', '{"b":\n2}', 'é'];

  it('parses events, joining data lines, skipping comments, the BOM and the ignored fields', () => {
    assert.deepEqual(feed(STREAM, []), EXPECTED);
  });

  it('gives the same events whatever the chunking (every split point, and byte by byte)', () => {
    const bytes = Buffer.from(STREAM);
    for (let i = 1; i < bytes.byteLength; i++) assert.deepEqual(feed(bytes, [i]), EXPECTED, `split at ${i}`);
    assert.deepEqual(feed(bytes, Array.from({ length: bytes.byteLength - 1 }, (_, i) => i + 1)), EXPECTED);
  });

  it('CRLF and CR line endings, also with CR and LF in different chunks', () => {
    const crlf = 'data: 1\r\n\r\ndata: 2\r\rdata: 3\n\r\n';
    for (let i = 0; i <= crlf.length; i++) assert.deepEqual(feed(crlf, [i]), ['1', '2', '3'], `split at ${i}`);
  });

  it('an event over the cap is refused as soon as the cap is passed, unterminated line included', () => {
    const p = new EventStreamParser(64);
    p.push(Buffer.from(`data: ${'x'.repeat(40)}`));
    assert.throws(() => p.push(Buffer.from('y'.repeat(40))), (e) => malformed(e, /over 64 bytes/));
    assert.throws(() => feed(`data: ${'x'.repeat(40)}\ndata: ${'y'.repeat(40)}\n\n`, [], 64), (e) => malformed(e, /over 64 bytes/));
    // The cap is per event: many events of under the cap each are fine.
    assert.deepEqual(feed(`data: ${'x'.repeat(40)}\n\n`.repeat(10), [], 64).length, 10);
  });

  it('garbage: a line that is no SSE field, noise, an event cut short', () => {
    assert.throws(() => feed('<html>502 Bad Gateway</html>\n\n', []), (e) => malformed(e, /not server-sent events: "<html>502/));
    assert.throws(() => feed(Buffer.from(noise(4096, 3)), []), (e) => malformed(e, /not server-sent events|over|ended inside/));
    assert.throws(() => feed('data: {"a":1}\n', []), (e) => malformed(e, /ended inside an event/));
  });
});

describe('inferStream over HTTP against a server that breaks the protocol', () => {
  let server: Server;
  let url = '';
  let body: (string | Buffer)[] = [];
  let contentType = 'text/event-stream';
  let status = 200;
  before(async () => {
    server = createServer((req, res) => {
      req.resume();
      res.writeHead(status, { 'content-type': contentType });
      // Each piece in its own write, a tick apart: the client sees them as separate chunks.
      const parts = [...body];
      const next = (): void => {
        const p = parts.shift();
        if (p === undefined) res.end();
        else res.write(p, () => setTimeout(next, 1));
      };
      next();
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((ok) => server.close(() => ok())));

  const input = { name: 'IN', datatype: 'INT32' as const, shape: [1], data: Int32Array.of(1) };
  const ok = (v: number, final: boolean) => `data: {"model_name":"m","model_version":"1","parameters":{"triton_final_response":${final}},"outputs":[{"name":"OUT","datatype":"INT32","shape":[1],"data":[${v}]}]}\n\n`;

  async function run(): Promise<{ values: number[]; error: InferenceClientError | undefined }> {
    const c = new InferenceClient(url);
    const values: number[] = [];
    try {
      for await (const r of c.inferStream([{ model: 'm', inputs: [input] }])) values.push(r.output('OUT', 'INT32').data[0]!);
    } catch (e) {
      assert.ok(e instanceof InferenceClientError, String(e));
      return { values, error: e };
    } finally {
      c.close();
    }
    return { values, error: undefined };
  }

  it('events split mid-line arrive whole', async () => {
    contentType = 'text/event-stream; charset=utf-8';
    const s = ok(1, false) + ok(2, true);
    body = [s.slice(0, 7), s.slice(7, 100), s.slice(100)];
    assert.deepEqual(await run(), { values: [1, 2], error: undefined });
  });

  const BROKEN: [string, (string | Buffer)[], RegExp][] = [
    ['bad JSON', [ok(1, false), 'data: {"outputs":[\n\n'], /malformed response/],
    ['an event that is not a response', ['data: [1,2]\n\n'], /no outputs list/],
    ['no final response', [ok(1, false)], /ended without its final response/],
    ['an event after the final response', [ok(1, true), ok(2, false)], /an event after the final response/],
    ['a garbage line', [ok(1, false), 'hello\n\n'], /not server-sent events/],
    ['noise', [Buffer.from(noise(2048, 11))], /malformed response/],
  ];
  for (const [what, parts, re] of BROKEN) {
    it(`${what} → INTERNAL`, async () => {
      contentType = 'text/event-stream';
      body = parts;
      const { error } = await run();
      assert.ok(error !== undefined, 'the iterator must throw');
      malformed(error, re);
    });
  }

  it('an error event ends the iterator with the server\'s message (code UNKNOWN, as on a gRPC stream)', async () => {
    contentType = 'text/event-stream';
    body = [ok(5, false), 'data: {"error":"the model gave up"}\n\n'];
    const { values, error } = await run();
    assert.deepEqual(values, [5]);
    assert.equal(error?.code, 'UNKNOWN');
    assert.equal(error?.message, 'the model gave up');
  });

  it('a failed status with an event stream (as Triton\'s generate_stream answers) gives the event\'s error and the status', async () => {
    contentType = 'text/event-stream';
    status = 400;
    body = ['data: {"error":"bad things"}\n\n'];
    try {
      const { error } = await run();
      assert.equal(error?.code, 'INVALID_ARG');
      assert.equal(error?.httpStatus, 400);
      assert.equal(error?.message, 'bad things');
    } finally {
      status = 200;
    }
  });

  it('a server that answers plain JSON (no event streams) gives its one response', async () => {
    contentType = 'application/json';
    body = ['{"model_name":"m","model_version":"1","outputs":[{"name":"OUT","datatype":"INT32","shape":[1],"data":[9]}]}'];
    assert.deepEqual(await run(), { values: [9], error: undefined });
  });
});
