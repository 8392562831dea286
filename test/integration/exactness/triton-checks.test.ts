/**
 * Behaviours Triton's own clients and QA check (issue 19, part 1), on the real server over gRPC and
 * HTTP: exact uint64 config values (Triton's QA value 18446744073709551615) from config.pbtxt and
 * from a JSON override back in /config; a pbtxt scalar given twice keeping the last value; load
 * failures worded "failed to load" + the reason; BYTES through ONNX Runtime never silently changed.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { credentials, loadPackageDefinition, status } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { TempRepo } from '../../helpers/repo.js';
import { call, fails, startServer, type TestServer } from '../../helpers/start-server.js';
import { PROTO_FILES, PROTO_LOADER_OPTIONS, resolveProtoDir } from '../../../src/frontends/grpc/proto-loader.js';
import { encodeBytesElements, bytesElementViews } from '../../../src/core/bytes-tensor.js';
import type { GRPCInferenceServiceClient } from '../../../src/generated/inference/GRPCInferenceService.js';
import type { ModelInferRequest } from '../../../src/generated/inference/ModelInferRequest.js';
import { binaryBody, errorOf, http, parseInferResponse, postJson } from '../http/http-client.js';

const MAX = '18446744073709551615';

// Triton's QA values, and max_batch_size given twice (protobuf's parser keeps the last one).
const QA_CONFIG = `
platform: "onnxruntime_onnx"
max_batch_size: 0
max_batch_size: 8
input [ { name: "IN" data_type: TYPE_FP32 dims: [ -1 ] } ]
output [ { name: "OUT" data_type: TYPE_FP32 dims: [ -1 ] } ]
instance_group [ { count: 1 kind: KIND_CPU } ]
dynamic_batching {
  priority_levels: ${MAX}
  default_priority_level: ${MAX}
  default_queue_policy { default_timeout_microseconds: ${MAX} }
  priority_queue_policy { key: 1 value { default_timeout_microseconds: ${MAX} } }
}
`;
const BYTES_ID = `
platform: "onnxruntime_onnx"
max_batch_size: 4
input [ { name: "IN" data_type: TYPE_STRING dims: [ -1 ] } ]
output [ { name: "OUT" data_type: TYPE_STRING dims: [ -1 ] } ]
instance_group [ { count: 1 kind: KIND_CPU } ]
`;

const repo = new TempRepo()
  .add('qa', { config: QA_CONFIG, versions: { 1: 'identity_fp32.onnx' } })
  .add('broken', { config: QA_CONFIG, versions: { 1: 'invalid.onnx' } })
  .add('strings', { config: BYTES_ID, versions: { 1: 'identity_bytes.onnx' } })
  .add('mangled', { versions: { 1: 'bytes_mangled.onnx' } }); // auto-completed
after(() => repo.remove());

/** A client whose 64-bit fields decode as exact decimal strings (the server's own client uses numbers). */
function exactClient(target: string): GRPCInferenceServiceClient {
  const def = loadSync([...PROTO_FILES], { ...PROTO_LOADER_OPTIONS, longs: String, includeDirs: [resolveProtoDir()] });
  const pkg = loadPackageDefinition(def) as unknown as { inference: { GRPCInferenceService: new (t: string, c: ReturnType<typeof credentials.createInsecure>) => GRPCInferenceServiceClient } };
  return new pkg.inference.GRPCInferenceService(target, credentials.createInsecure());
}


describe('Triton client checks over gRPC and HTTP', () => {
  let ts: TestServer;
  let exact: GRPCInferenceServiceClient;
  before(async () => {
    ts = await startServer([repo.dir], { modelControlMode: 'explicit', loadModels: ['qa', 'strings', 'mangled'] });
    exact = exactClient(ts.target);
  });
  after(async () => {
    exact.close();
    await ts.close();
  });

  const load = (name: string, config?: string) => call(ts.client.RepositoryModelLoad.bind(ts.client), {
    repository_name: '', model_name: name, parameters: config === undefined ? {} : { config: { string_param: config } },
  });

  async function assertExactConfig(model: string): Promise<void> {
    const text = (await http(`${ts.httpUrl}/v2/models/${model}/config`)).body.toString();
    for (const field of ['priority_levels', 'default_priority_level', 'default_timeout_microseconds']) {
      assert.match(text, new RegExp(`"${field}":${MAX}[,}]`), `HTTP /config carries ${field} exactly`);
    }
    const { config } = await call(exact.ModelConfig.bind(exact), { name: model, version: '' });
    const db = config!.dynamic_batching!;
    assert.deepEqual(
      [db.priority_levels, db.default_priority_level, db.default_queue_policy!.default_timeout_microseconds],
      [MAX, MAX, MAX], 'gRPC ModelConfig carries them exactly');
    assert.equal(config!.max_batch_size, 8);
  }

  it("loads Triton's QA uint64 values from config.pbtxt and returns them exactly in /config; the last max_batch_size wins", async () => {
    await assertExactConfig('qa');
    const http8 = JSON.parse((await http(`${ts.httpUrl}/v2/models/qa/config`)).body.toString().replace(/:(\d{16,})/g, ':"$1"')) as { max_batch_size: number };
    assert.equal(http8.max_batch_size, 8);
    // The model serves, at the default level (2^64 - 1) and at level 1, batching as configured.
    const req = (priority?: number): ModelInferRequest => ({
      model_name: 'qa', inputs: [{ name: 'IN', datatype: 'FP32', shape: [1, 2] }],
      raw_input_contents: [Buffer.from(new Float32Array([1, 2]).buffer)],
      ...(priority === undefined ? {} : { parameters: { priority: { parameter_choice: 'uint64_param', uint64_param: priority } } }),
    });
    const outs = await Promise.all([req(), req(1), req()].map((r) => call(ts.client.ModelInfer.bind(ts.client), r)));
    for (const o of outs) assert.deepEqual([...new Float32Array(new Uint8Array(o.raw_output_contents[0]!).buffer)], [1, 2]);
    const r = await postJson(`${ts.httpUrl}/v2/models/qa/infer`, { inputs: [{ name: 'IN', datatype: 'FP32', shape: [1, 1], data: [3] }] });
    assert.equal(r.status, 200);
  });

  it('a JSON config override with those values (as JSON numbers) loads and comes back exactly, over gRPC and HTTP', async () => {
    const override = `{"name":"qa","platform":"onnxruntime_onnx","max_batch_size":8,
      "input":[{"name":"IN","data_type":"TYPE_FP32","dims":[-1]}],"output":[{"name":"OUT","data_type":"TYPE_FP32","dims":[-1]}],
      "instance_group":[{"count":1,"kind":"KIND_CPU"}],
      "dynamic_batching":{"priority_levels":${MAX},"default_priority_level":${MAX},"default_queue_policy":{"default_timeout_microseconds":${MAX}}}}`;
    await load('qa', override);
    await assertExactConfig('qa');
    const res = await postJson(`${ts.httpUrl}/v2/repository/models/qa/load`, { parameters: { config: override } });
    assert.equal(res.status, 200, res.body.toString());
    await assertExactConfig('qa');
    await load('qa'); // back to config.pbtxt
  });

  it("a malformed override and a model that cannot load answer 'failed to load' and the reason, over both protocols", async () => {
    await assert.rejects(load('qa', '{"max_batch_size": '), fails(status.INVALID_ARGUMENT, /^failed to load 'qa': Invalid config override: unexpected end of JSON/));
    await assert.rejects(load('qa', '{"max_batch_size": "x"}'), fails(status.INVALID_ARGUMENT, /^failed to load 'qa': Invalid config override: config\.max_batch_size: expected an integer/));
    await assert.rejects(load('broken'), fails(status.INTERNAL, /^failed to load 'broken': .*unable to load model 'broken' version 1/));
    const bad = await postJson(`${ts.httpUrl}/v2/repository/models/qa/load`, { parameters: { config: '{"nope": 1}' } });
    assert.equal(bad.status, 400);
    assert.match(errorOf(bad), /^failed to load 'qa': Invalid config override: config\.nope: unknown field/);
    const broken = await http(`${ts.httpUrl}/v2/repository/models/broken/load`, { method: 'POST' });
    assert.equal(broken.status, 500);
    assert.match(errorOf(broken), /^failed to load 'broken': .*unable to load model 'broken' version 1/);
    assert.equal((await http(`${ts.httpUrl}/v2/models/qa/ready`)).status, 200, 'the failed loads left qa serving');
  });

  describe('BYTES through ONNX Runtime: exact, or refused naming the tensor, element and why', () => {
    const grpcStrings = (elements: (string | Uint8Array)[], model = 'strings') => call(ts.client.ModelInfer.bind(ts.client), {
      model_name: model,
      inputs: [{ name: 'IN', datatype: 'BYTES', shape: model === 'strings' ? [1, elements.length] : [elements.length] }],
      raw_input_contents: [Buffer.from(encodeBytesElements(elements))],
      outputs: [{ name: 'OUT' }],
    });
    const httpStrings = (elements: (string | Uint8Array)[]) => {
      const raw = Buffer.from(encodeBytesElements(elements));
      const b = binaryBody({
        inputs: [{ name: 'IN', datatype: 'BYTES', shape: [1, elements.length], parameters: { binary_data_size: raw.length } }],
        outputs: [{ name: 'OUT', parameters: { binary_data: true } }],
      }, [raw]);
      return http(`${ts.httpUrl}/v2/models/strings/infer`, { method: 'POST', headers: b.headers, body: b.body });
    };
    const elementsOf = (data: Uint8Array) => bytesElementViews(data).map((v) => Buffer.from(v).toString('hex'));

    it('valid UTF-8, including empty strings and 4-byte characters, comes back byte for byte', async () => {
      const words = ['héllo', '', 'tab\there', '😀日本'];
      const r = await grpcStrings(words);
      assert.deepEqual(elementsOf(r.raw_output_contents[0]!), words.map((w) => Buffer.from(w).toString('hex')));
      const h = await httpStrings(words);
      assert.equal(h.status, 200);
      assert.deepEqual(elementsOf(parseInferResponse(h).binary.get('OUT')!), words.map((w) => Buffer.from(w).toString('hex')));
    });

    it('an element with a NUL byte is INVALID_ARGUMENT (400) naming the tensor and element, never cut short', async () => {
      const elements = ['ok', Buffer.from('he\u0000llo')];
      await assert.rejects(grpcStrings(elements),
        fails(status.INVALID_ARGUMENT, /^input 'IN': BYTES element 1 holds a NUL byte at offset 2, .*end at the first NUL: refused rather than truncated \(model 'strings' version 1\)$/));
      const h = await httpStrings(elements);
      assert.equal(h.status, 400);
      assert.match(errorOf(h), /^input 'IN': BYTES element 1 holds a NUL byte at offset 2/);
    });

    it('an element that is not UTF-8 is INVALID_ARGUMENT (400) naming the tensor and element, never replaced', async () => {
      const elements = [new Uint8Array([0xff, 0xfe]), 'fine'];
      await assert.rejects(grpcStrings(elements),
        fails(status.INVALID_ARGUMENT, /^input 'IN': BYTES element 0 is not valid UTF-8, .*refused rather than changed \(model 'strings' version 1\)$/));
      const h = await httpStrings(elements);
      assert.equal(h.status, 400);
      assert.match(errorOf(h), /^input 'IN': BYTES element 0 is not valid UTF-8/);
    });

    it('an output holding U+FFFD is refused: onnxruntime-node writes it for bytes that were not UTF-8', async () => {
      // Even a U+FFFD the client sent: at the output it cannot be told from a replaced byte.
      await assert.rejects(grpcStrings(['a', 'b\uFFFD']), fails(status.INVALID_ARGUMENT, /^output 'OUT': BYTES element 1 contains U\+FFFD/));
    });

    it('an output whose model bytes were not UTF-8 is refused, naming output and element', async () => {
      const ok = await grpcStrings(['x'], 'mangled');
      assert.deepEqual(elementsOf(ok.raw_output_contents[0]!), [Buffer.from('x').toString('hex')], 'OUT alone is fine');
      const nul = await call(ts.client.ModelInfer.bind(ts.client), {
        model_name: 'mangled', inputs: [{ name: 'IN', datatype: 'BYTES', shape: [1] }],
        raw_input_contents: [Buffer.from(encodeBytesElements(['x']))], outputs: [{ name: 'NUL' }],
      });
      assert.deepEqual(elementsOf(nul.raw_output_contents[0]!), ['6865006c6c6f'], 'a NUL the model produces comes back exactly');
      await assert.rejects(call(ts.client.ModelInfer.bind(ts.client), {
        model_name: 'mangled', inputs: [{ name: 'IN', datatype: 'BYTES', shape: [1] }],
        raw_input_contents: [Buffer.from(encodeBytesElements(['x']))],
      }), fails(status.INVALID_ARGUMENT, /^output 'BAD': BYTES element 0 contains U\+FFFD, .*refused rather than returned changed \(model 'mangled' version 1\)$/));
      const h = await postJson(`${ts.httpUrl}/v2/models/mangled/infer`, { inputs: [{ name: 'IN', datatype: 'BYTES', shape: [1], data: ['x'] }] });
      assert.equal(h.status, 400);
      assert.match(errorOf(h), /^output 'BAD': BYTES element 0 contains U\+FFFD/);
    });
  });
});
