/**
 * The client reads outside data too: a server (or a proxy in front of it) that breaks the protocol
 * must give an InferenceClientError with code INTERNAL, never a crash, a hang or a short typed
 * array. HTTP responses come from a node:http server that answers garbage; gRPC responses are fed
 * to the decoder directly. Also: the status → code tables are the server's, inverted.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InferenceClient, InferenceClientError } from 'infera/client';
import { codeForGrpcStatus, codeForHttpStatus } from '../../../src/client/client-error.js';
import { decodeOutput } from '../../../src/client/client-tensors.js';
import { fromModelInferResponse } from '../../../src/client/grpc-transport.js';
import { ALL_ERROR_CODES } from '../../../src/errors/error-codes.js';
import { GRPC_STATUS } from '../../../src/frontends/grpc/grpc-status.js';
import { HTTP_STATUS } from '../../../src/frontends/http/http-status.js';
import { noise } from '../../helpers/noise.js';

const input = { name: 'IN', datatype: 'FP32' as const, shape: [2], data: new Float32Array(2) };

/** Each case: the JSON header and the binary part the fake server answers /infer with (no binary: no header length). */
const CASES: [string, string, string | Buffer | undefined, RegExp][] = [
  ['not JSON', 'garbage{', undefined, /malformed response/],
  ['no outputs', '{"model_name":"m"}', undefined, /no outputs list/],
  ['an output without shape', '{"outputs":[{"name":"o","datatype":"FP32"}]}', undefined, /without name, datatype or shape/],
  ['an unknown datatype', '{"outputs":[{"name":"o","datatype":"FP8","shape":[1],"parameters":{"binary_data_size":1}}]}', 'X', /unknown datatype 'FP8'/],
  ['binary past the body', '{"outputs":[{"name":"o","datatype":"FP32","shape":[1],"parameters":{"binary_data_size":400}}]}', 'abcd', /runs past the body/],
  ['too few bytes for the shape', '{"outputs":[{"name":"o","datatype":"FP32","shape":[4],"parameters":{"binary_data_size":4}}]}', 'abcd', /needs 16 bytes, got 4/],
  ['JSON data of the wrong kind', '{"outputs":[{"name":"o","datatype":"INT32","shape":[2],"data":["x",1]}]}', undefined, /malformed response/],
  ['JSON data of the wrong count', '{"outputs":[{"name":"o","datatype":"INT32","shape":[3],"data":[1,2]}]}', undefined, /malformed response/],
  ['bad BYTES framing', '{"outputs":[{"name":"o","datatype":"BYTES","shape":[1],"parameters":{"binary_data_size":4}}]}', Buffer.from([9, 0, 0, 0]), /malformed response/],
  ['noise', '', Buffer.from(noise(4096, 7)), /malformed response/],
];

describe('a garbage-answering HTTP server', () => {
  let server: Server;
  let url = '';
  let current: (typeof CASES)[number] = CASES[0]!;
  before(async () => {
    server = createServer((req, res) => {
      req.resume();
      if (req.url === '/v2/health/live') {
        res.writeHead(500).end('<html>proxy error</html>');
        return;
      }
      const [, json, binary] = current;
      if (binary === undefined) res.writeHead(200).end(json);
      else res.writeHead(200, { 'inference-header-content-length': String(Buffer.byteLength(json)) }).end(Buffer.concat([Buffer.from(json), Buffer.from(binary)]));
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((ok) => server.close(() => ok())));

  for (const c of CASES) {
    it(`${c[0]} → INTERNAL`, async () => {
      current = c;
      const client = new InferenceClient(url);
      await assert.rejects(client.infer({ model: 'm', inputs: [input] }), (e: unknown) => {
        assert.ok(e instanceof InferenceClientError, String(e));
        assert.equal(e.code, 'INTERNAL');
        assert.match(e.message, c[3]);
        return true;
      });
    });
  }

  it('a header length beyond the body → INTERNAL', async () => {
    current = ['', '{}', undefined, /./];
    const lying = createServer((req, res) => {
      req.resume();
      res.writeHead(200, { 'inference-header-content-length': '999' }).end('{}');
    });
    await new Promise<void>((ok) => lying.listen(0, '127.0.0.1', ok));
    try {
      const c = new InferenceClient(`http://127.0.0.1:${(lying.address() as AddressInfo).port}`);
      await assert.rejects(c.infer({ model: 'm', inputs: [input] }), /Inference-Header-Content-Length '999' for a 2-byte body/);
    } finally {
      await new Promise<void>((ok) => lying.close(() => ok()));
    }
  });

  it('a non-JSON error body keeps the status and shows the body', async () => {
    await assert.rejects(new InferenceClient(url).serverLive(), (e: unknown) =>
      e instanceof InferenceClientError && e.code === 'INTERNAL' && e.httpStatus === 500 && /proxy error/.test(e.message));
  });
});

describe('gRPC response decoding', () => {
  const msg = (raw: Buffer[], outputs: { datatype: string; shape: number[] }[]) => ({
    model_name: 'm', model_version: '1', id: '', parameters: {}, raw_output_contents: raw,
    outputs: outputs.map((o, i) => ({ name: `o${i}`, parameters: {}, contents: null, ...o })),
  });

  it('more raw contents than outputs, or fewer, is INTERNAL', () => {
    assert.throws(() => fromModelInferResponse(msg([Buffer.alloc(4), Buffer.alloc(4)], [{ datatype: 'FP32', shape: [1] }])), /1 outputs but 2 raw_output_contents/);
  });

  it('sizes and framing are checked against the shape', () => {
    const [bad] = fromModelInferResponse(msg([Buffer.alloc(6)], [{ datatype: 'INT64', shape: [1] }])).outputs;
    assert.throws(() => decodeOutput(bad!), (e: unknown) => e instanceof InferenceClientError && e.code === 'INTERNAL' && /needs 8 bytes, got 6/.test(e.message));
    const [bytes] = fromModelInferResponse(msg([Buffer.from([1, 0, 0, 0, 65, 1, 0, 0, 0, 66])], [{ datatype: 'BYTES', shape: [3] }])).outputs;
    assert.throws(() => decodeOutput(bytes!), /2 BYTES elements for shape \[3\]/);
  });

  it('typed contents are accepted where raw ones are absent', () => {
    const m = msg([], [{ datatype: 'INT32', shape: [2] }]);
    m.outputs[0]!.contents = { int_contents: [5, -6] } as never;
    const out = decodeOutput(fromModelInferResponse(m).outputs[0]!);
    assert.deepEqual(Array.from(out.data as Int32Array), [5, -6]);
  });
});

describe('status → code', () => {
  it('every ErrorCode comes back from its gRPC status', () => {
    for (const c of ALL_ERROR_CODES) assert.equal(codeForGrpcStatus(GRPC_STATUS[c]), c);
    assert.equal(codeForGrpcStatus(0), 'UNKNOWN');
  });

  it('HTTP statuses map to the code they stand for', () => {
    for (const c of ALL_ERROR_CODES) if (HTTP_STATUS[c] !== 400) assert.equal(codeForHttpStatus(HTTP_STATUS[c]), c);
    assert.deepEqual([400, 405, 415, 418, 502].map(codeForHttpStatus), ['INVALID_ARG', 'UNSUPPORTED', 'UNSUPPORTED', 'INVALID_ARG', 'INTERNAL']);
  });
});
