/**
 * POST /infer over JSON, binary tensors and mixes of both, compared with gRPC ModelInfer on the
 * same requests: identical outputs, byte for byte, for every datatype; then the error statuses
 * for malformed JSON, wrong kinds, bad binary framing and bad compression.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync, deflateSync, gunzipSync, inflateSync } from 'node:zlib';
import { IDENTITY_FP32_CONFIG, TempRepo } from '../../helpers/repo.js';
import { call, startServer, type TestServer } from '../../helpers/start-server.js';
import type { ModelInferRequest } from '../../../src/generated/inference/ModelInferRequest.js';
import type { ModelInferResponse__Output } from '../../../src/generated/inference/ModelInferResponse.js';
import { encodeTypedValues } from '../../../src/core/tensor-codec.js';
import { encodeBytesElements } from '../../../src/core/bytes-tensor.js';
import { binaryBody, errorOf, http, parseInferResponse, postJson, type HttpResult } from './http-client.js';

interface Case {
  dt: string;
  configType: string;
  file: string;
  /** JSON-able values (bigints are written as bare JSON integers). */
  values: unknown[];
}

const CASES: Case[] = [
  { dt: 'BOOL', configType: 'TYPE_BOOL', file: 'bool', values: [true, false, true, true] },
  { dt: 'INT8', configType: 'TYPE_INT8', file: 'int8', values: [-128, 127, 0, -1] },
  { dt: 'UINT8', configType: 'TYPE_UINT8', file: 'uint8', values: [0, 255, 7, 128] },
  { dt: 'INT16', configType: 'TYPE_INT16', file: 'int16', values: [-32768, 32767, 1, -2] },
  { dt: 'UINT16', configType: 'TYPE_UINT16', file: 'uint16', values: [0, 65535, 3, 4] },
  { dt: 'INT32', configType: 'TYPE_INT32', file: 'int32', values: [-(2 ** 31), 2 ** 31 - 1, 5, 6] },
  { dt: 'UINT32', configType: 'TYPE_UINT32', file: 'uint32', values: [0, 2 ** 32 - 1, 9, 10] },
  { dt: 'INT64', configType: 'TYPE_INT64', file: 'int64', values: [-(2n ** 63n), 2n ** 63n - 1n, 2n ** 53n + 1n, -1n] },
  { dt: 'UINT64', configType: 'TYPE_UINT64', file: 'uint64', values: [0n, 2n ** 64n - 1n, 11n, 12n] },
  { dt: 'FP32', configType: 'TYPE_FP32', file: 'fp32', values: [1.5, 0.1, -3.4028234663852886e38, 3.25] },
  { dt: 'FP64', configType: 'TYPE_FP64', file: 'fp64', values: [Math.PI, -1e300, 5e-324, 0] },
  { dt: 'BYTES', configType: 'TYPE_STRING', file: 'bytes', values: ['a', '', 'ünïcode', 'z"\\'] },
];

function config(c: Case): string {
  return `
name: "id_${c.file}"
platform: "onnxruntime_onnx"
max_batch_size: 4
input [ { name: "IN" data_type: ${c.configType} dims: [ -1 ] } ]
output [ { name: "OUT" data_type: ${c.configType} dims: [ -1 ] } ]
instance_group [ { count: 1 kind: KIND_CPU } ]
`;
}

function rawOf(dt: string, values: unknown[]): Buffer {
  if (dt === 'BYTES') return Buffer.from(encodeBytesElements(values as string[]));
  return Buffer.from(encodeTypedValues(dt as 'INT8', values));
}

/** JSON text with bigints as bare integers (what a Python client writes for numpy int64). */
function jsonText(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? `@@${x}@@` : x)).replace(/"@@(-?[0-9]+)@@"/g, '$1');
}

let ts: TestServer;
const repo = new TempRepo();
before(async () => {
  repo.addBundled('simple').addBundled('simple_string').addBundled('classifier').addBundled('fp16_scale');
  for (const c of CASES) repo.add(`id_${c.file}`, { config: config(c), versions: { 1: `identity_${c.file}.onnx` } });
  repo.add('big_identity', { config: IDENTITY_FP32_CONFIG, versions: { 1: 'identity_fp32.onnx' } });
  ts = await startServer([repo.dir]);
});
after(async () => {
  await ts.close();
  repo.remove();
});

const inferUrl = (model: string, version = '') => `${ts.httpUrl}/v2/models/${model}${version === '' ? '' : `/versions/${version}`}/infer`;
const grpcInfer = (req: ModelInferRequest) => call<ModelInferRequest, ModelInferResponse__Output>(ts.client.ModelInfer.bind(ts.client), req);

function post(model: string, text: string, headers: Record<string, string> = {}): Promise<HttpResult> {
  return http(inferUrl(model), { method: 'POST', headers, body: text });
}

/** The raw bytes of every output of an HTTP response, whether it came as JSON or binary. */
function outputBytes(r: HttpResult): Map<string, Buffer> {
  assert.equal(r.status, 200, r.body.toString().slice(0, 300));
  const p = parseInferResponse(r);
  const out = new Map<string, Buffer>();
  for (const o of p.header.outputs) {
    out.set(o.name, p.binary.get(o.name) ?? rawOf(o.datatype, jsonValues(r, o.name)));
  }
  return out;
}

/** `data` of one output, parsed so that 64-bit integers stay exact (JSON.parse would round them). */
function jsonValues(r: HttpResult, output: string): unknown[] {
  const text = r.body.toString('utf8');
  const parsed = parseInferResponse(r).header.outputs.find((o) => o.name === output)!;
  if (parsed.datatype !== 'INT64' && parsed.datatype !== 'UINT64') return parsed.data!;
  const m = new RegExp(`"name":"${output}","datatype":"[A-Z0-9]+","shape":\\[[^\\]]*\\],"data":\\[([^\\]]*)\\]`).exec(text);
  assert.ok(m, `output ${output} has JSON data`);
  return m[1]!.split(',').map((t) => BigInt(t));
}

describe('every datatype: HTTP JSON, HTTP binary and gRPC agree byte for byte', () => {
  for (const c of CASES) {
    it(c.dt, async () => {
      const raw = rawOf(c.dt, c.values);
      const g = await grpcInfer({ model_name: `id_${c.file}`, inputs: [{ name: 'IN', datatype: c.dt, shape: [1, 4] }], raw_input_contents: [raw] });
      const expected = g.raw_output_contents[0]!;
      assert.deepEqual(expected, raw);
      const input = { name: 'IN', datatype: c.dt, shape: [1, 4] };
      const viaJson = await post(`id_${c.file}`, jsonText({ inputs: [{ ...input, data: c.values }] }));
      assert.deepEqual(outputBytes(viaJson).get('OUT'), expected, 'JSON in, JSON out');
      const nested = await post(`id_${c.file}`, jsonText({ inputs: [{ ...input, data: [c.values] }] }));
      assert.deepEqual(outputBytes(nested).get('OUT'), expected, 'nested JSON data');
      const b = binaryBody({ inputs: [{ ...input, parameters: { binary_data_size: raw.length } }], outputs: [{ name: 'OUT', parameters: { binary_data: true } }] }, [raw]);
      const viaBinary = await http(inferUrl(`id_${c.file}`), { method: 'POST', headers: b.headers, body: b.body });
      assert.equal(viaBinary.headers['content-type'], 'application/octet-stream');
      assert.deepEqual(outputBytes(viaBinary).get('OUT'), expected, 'binary in, binary out');
    });
  }

  it('FP16 travels as binary (JSON data is refused with 400) and matches gRPC', async () => {
    const raw = Buffer.from(new Uint16Array([0x3c00, 0x4000, 0xc000, 0x0001]).buffer);
    const g = await grpcInfer({ model_name: 'fp16_scale', inputs: [{ name: 'INPUT0', datatype: 'FP16', shape: [1, 4] }], raw_input_contents: [raw] });
    const b = binaryBody({ inputs: [{ name: 'INPUT0', datatype: 'FP16', shape: [1, 4], parameters: { binary_data_size: 8 } }], parameters: { binary_data_output: true } }, [raw]);
    const r = await http(inferUrl('fp16_scale'), { method: 'POST', headers: b.headers, body: b.body });
    assert.deepEqual(outputBytes(r).get('OUTPUT0'), g.raw_output_contents[0]);
    const j = await post('fp16_scale', JSON.stringify({ inputs: [{ name: 'INPUT0', datatype: 'FP16', shape: [1, 4], data: [1, 2, 3, 4] }] }));
    assert.equal(j.status, 400);
    assert.match(errorOf(j), /FP16 data via JSON is not supported/);
  });

  it('NaN and ±Infinity: accepted as JSON literals, written back as literals', async () => {
    const r = await post('id_fp32', '{"inputs":[{"name":"IN","datatype":"FP32","shape":[1,4],"data":[NaN,Infinity,-Infinity,0.5]}]}');
    assert.equal(r.status, 200);
    assert.match(r.body.toString(), /"data":\[NaN,Infinity,-Infinity,0\.5\]/);
  });

  it('FP32 prints as its exact double, as Triton', async () => {
    const r = await post('id_fp32', '{"inputs":[{"name":"IN","datatype":"FP32","shape":[1,1],"data":[0.1]}]}');
    assert.match(r.body.toString(), /"data":\[0\.10000000149011612\]/);
  });

  it('INT64/UINT64 beyond 2^53 come back exact in JSON', async () => {
    const r = await post('id_uint64', '{"inputs":[{"name":"IN","datatype":"UINT64","shape":[1,2],"data":[18446744073709551615,9007199254740993]}]}');
    assert.equal(r.status, 200);
    assert.match(r.body.toString(), /"data":\[18446744073709551615,9007199254740993\]/);
  });
});

describe('simple over the three encodings', () => {
  const a = Array.from({ length: 16 }, (_, i) => i);
  const b = Array.from({ length: 16 }, (_, i) => 2 * i - 7);
  const sum = a.map((x, i) => x + b[i]!);
  const diff = a.map((x, i) => x - b[i]!);
  const i32 = (v: number[]) => Buffer.from(new Int32Array(v).buffer);

  it('JSON, binary, mixed JSON+binary and gRPC give the same outputs', async () => {
    const g = await grpcInfer({ model_name: 'simple', inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 16] }, { name: 'INPUT1', datatype: 'INT32', shape: [1, 16] }], raw_input_contents: [i32(a), i32(b)] });
    assert.deepEqual(g.raw_output_contents, [i32(sum), i32(diff)]);
    const j = await postJson(inferUrl('simple'), { id: 'r1', inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: a }, { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: b }] });
    const jp = parseInferResponse(j);
    assert.equal(jp.header.id, 'r1');
    assert.equal(jp.header.model_name, 'simple');
    assert.equal(jp.header.model_version, '1');
    assert.deepEqual(jp.header.outputs.map((o) => [o.name, o.datatype, o.shape, o.data]), [['OUTPUT0', 'INT32', [1, 16], sum], ['OUTPUT1', 'INT32', [1, 16], diff]]);
    const mixed = binaryBody({
      inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: a }, { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], parameters: { binary_data_size: 64 } }],
      outputs: [{ name: 'OUTPUT0', parameters: { binary_data: true } }, { name: 'OUTPUT1', parameters: { binary_data: false } }],
    }, [i32(b)]);
    const m = await http(inferUrl('simple', '1'), { method: 'POST', headers: mixed.headers, body: mixed.body });
    const mb = outputBytes(m);
    assert.deepEqual([mb.get('OUTPUT0'), mb.get('OUTPUT1')], g.raw_output_contents);
    const mp = parseInferResponse(m);
    assert.deepEqual(mp.header.outputs[1]!.data, diff, 'OUTPUT1 asked binary_data=false: JSON');
    assert.equal(Number(m.headers['inference-header-content-length']) + 64, m.body.length);
  });

  it('binary_data_output=true makes unlisted outputs binary; a listed output without binary_data stays JSON', async () => {
    const inputs = [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: a }, { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: b }];
    const all = parseInferResponse(await postJson(inferUrl('simple'), { inputs, parameters: { binary_data_output: true } }));
    assert.deepEqual([...all.binary.keys()], ['OUTPUT0', 'OUTPUT1']);
    const listed = parseInferResponse(await postJson(inferUrl('simple'), { inputs, parameters: { binary_data_output: true }, outputs: [{ name: 'OUTPUT1' }] }));
    assert.equal(listed.binary.size, 0);
    assert.deepEqual(listed.header.outputs.map((o) => [o.name, o.data]), [['OUTPUT1', diff]]);
  });

  it('request compression (gzip, deflate) and response compression per Accept-Encoding', async () => {
    const body = Buffer.from(JSON.stringify({ inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: a }, { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: b }] }));
    for (const [enc, zip, unzip] of [['gzip', gzipSync, gunzipSync], ['deflate', deflateSync, inflateSync]] as const) {
      const r = await http(inferUrl('simple'), { method: 'POST', headers: { 'content-encoding': enc, 'accept-encoding': enc }, body: zip(body) });
      assert.equal(r.status, 200);
      assert.equal(r.headers['content-encoding'], enc);
      const p = parseInferResponse(r, unzip(r.body));
      assert.deepEqual(p.header.outputs[0]!.data, sum);
    }
    const q = await http(inferUrl('simple'), { method: 'POST', headers: { 'accept-encoding': 'gzip;q=0, deflate;q=0.5' }, body });
    assert.equal(q.headers['content-encoding'], 'deflate');
    const none = await http(inferUrl('simple'), { method: 'POST', headers: { 'accept-encoding': 'br, identity' }, body });
    assert.equal(none.headers['content-encoding'], undefined);
  });

  it('compressed binary response: Inference-Header-Content-Length counts the uncompressed JSON', async () => {
    const req = binaryBody({ inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 16], parameters: { binary_data_size: 64 } }, { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], parameters: { binary_data_size: 64 } }], parameters: { binary_data_output: true } }, [i32(a), i32(b)]);
    const r = await http(inferUrl('simple'), { method: 'POST', headers: { ...req.headers, 'content-encoding': 'gzip', 'accept-encoding': 'gzip' }, body: gzipSync(req.body) });
    const p = parseInferResponse(r, gunzipSync(r.body));
    assert.deepEqual([p.binary.get('OUTPUT0'), p.binary.get('OUTPUT1')], [i32(sum), i32(diff)]);
  });

  it('a big binary answer (written part by part, no joined copy) comes back exact, plain and compressed', async () => {
    // identity_fp32 with 2 MiB of binary input: the answer is the JSON header then 2 MiB of output.
    const n = 512 * 1024;
    const input = Buffer.alloc(4 * n);
    for (let i = 0; i < n; i++) input.writeFloatLE(i % 1000, 4 * i);
    const req = binaryBody({ inputs: [{ name: 'IN', datatype: 'FP32', shape: [1, n], parameters: { binary_data_size: input.length } }], outputs: [{ name: 'OUT', parameters: { binary_data: true } }] }, [input]);
    const plain = await http(inferUrl('big_identity'), { method: 'POST', headers: req.headers, body: req.body });
    assert.equal(plain.status, 200);
    assert.equal(plain.headers['content-length'], String(plain.body.length));
    assert.ok(parseInferResponse(plain).binary.get('OUT')!.equals(input));
    for (const [enc, unzip] of [['gzip', gunzipSync], ['deflate', inflateSync]] as const) {
      const r = await http(inferUrl('big_identity'), { method: 'POST', headers: { ...req.headers, 'accept-encoding': enc }, body: req.body });
      assert.equal(r.headers['content-encoding'], enc);
      assert.ok(parseInferResponse(r, unzip(r.body)).binary.get('OUT')!.equals(input), enc);
    }
  });

  it('the Content-Type of the request is not checked (Triton does not)', async () => {
    const body = JSON.stringify({ inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: a }, { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: b }] });
    for (const ct of ['text/plain', 'garbage', 'application/x-www-form-urlencoded']) {
      assert.equal((await http(inferUrl('simple'), { method: 'POST', headers: { 'content-type': ct }, body })).status, 200, ct);
    }
    assert.equal((await http(inferUrl('simple'), { method: 'POST', body })).status, 200, 'no Content-Type');
  });
});

describe('classification, strings, raw binary requests', () => {
  it('classification over JSON and binary equals gRPC', async () => {
    const x = [0.5, -1, 3, 2, 0, 1, 7, -2];
    const g = await grpcInfer({ model_name: 'classifier', inputs: [{ name: 'INPUT', datatype: 'FP32', shape: [1, 8], contents: { fp32_contents: x } }], outputs: [{ name: 'PROBS', parameters: { classification: { int64_param: 3 } } }] });
    const j = await postJson(inferUrl('classifier'), { inputs: [{ name: 'INPUT', datatype: 'FP32', shape: [1, 8], data: x }], outputs: [{ name: 'PROBS', parameters: { classification: 3 } }] });
    const jp = parseInferResponse(j);
    assert.equal(jp.header.outputs[0]!.datatype, 'BYTES');
    assert.deepEqual(jp.header.outputs[0]!.shape, [1, 3]);
    assert.deepEqual(rawOf('BYTES', jp.header.outputs[0]!.data!), g.raw_output_contents[0]);
    const bin = await postJson(inferUrl('classifier'), { inputs: [{ name: 'INPUT', datatype: 'FP32', shape: [1, 8], data: x }], outputs: [{ name: 'PROBS', parameters: { classification: 3, binary_data: true } }] });
    assert.deepEqual(parseInferResponse(bin).binary.get('PROBS'), g.raw_output_contents[0]);
    const bad = await postJson(inferUrl('classifier'), { inputs: [{ name: 'INPUT', datatype: 'FP32', shape: [1, 8], data: x }], outputs: [{ name: 'PROBS', parameters: { classification: -1 } }] });
    assert.equal(bad.status, 400);
  });

  it('simple_string: JSON strings in, JSON strings out, equal to gRPC', async () => {
    const s = ['1', '2', '30', '-4'];
    const g = await grpcInfer({ model_name: 'simple_string', inputs: [{ name: 'INPUT0', datatype: 'BYTES', shape: [1, 4] }], raw_input_contents: [rawOf('BYTES', s)] });
    const j = outputBytes(await postJson(inferUrl('simple_string'), { inputs: [{ name: 'INPUT0', datatype: 'BYTES', shape: [1, 4], data: s }] }));
    assert.deepEqual([j.get('OUTPUT0'), j.get('OUTPUT1')], g.raw_output_contents);
  });

  it('raw binary request (Inference-Header-Content-Length: 0): shape from the model, outputs binary', async () => {
    const raw = rawOf('INT32', [7, 8, 9]);
    const r = await http(inferUrl('id_int32'), { method: 'POST', headers: { 'inference-header-content-length': '0' }, body: raw });
    const p = parseInferResponse(r);
    assert.deepEqual(p.header.outputs[0]!.shape, [1, 3]);
    assert.deepEqual(p.binary.get('OUT'), raw);
    const odd = await http(inferUrl('id_int32'), { method: 'POST', headers: { 'inference-header-content-length': '0' }, body: Buffer.alloc(5) });
    assert.equal(odd.status, 400);
    const multi = await http(inferUrl('simple'), { method: 'POST', headers: { 'inference-header-content-length': '0' }, body: Buffer.alloc(64) });
    assert.equal(multi.status, 400);
    assert.match(errorOf(multi), /exactly one input/);
  });
});

describe('bad requests get the right status and say why', () => {
  const good = { name: 'IN', datatype: 'INT32', shape: [1, 2] };
  const cases: [string, string, number, RegExp][] = [
    ['malformed JSON (400, not Triton\'s 500)', '{"inputs": [', 400, /failed to parse .*offset/],
    ['empty body', '', 400, /JSON is empty/],
    ['not an object', '[1,2]', 400, /must be a JSON object/],
    ['no inputs', '{}', 400, /'inputs' array/],
    ['input not an object', '{"inputs":[7]}', 400, /input 0 .* JSON object/],
    ['missing name', '{"inputs":[{"datatype":"INT32","shape":[1],"data":[1]}]}', 400, /string 'name'/],
    ['bad datatype', '{"inputs":[{"name":"IN","datatype":"int32","shape":[1,2],"data":[1,2]}]}', 400, /invalid datatype "int32"/],
    ['shape not an array', '{"inputs":[{"name":"IN","datatype":"INT32","shape":"1,2","data":[1,2]}]}', 400, /'shape' array/],
    ['negative dim', '{"inputs":[{"name":"IN","datatype":"INT32","shape":[1,-2],"data":[1,2]}]}', 400, /non-negative integer/],
    ['string for INT32', jsonText({ inputs: [{ ...good, data: [1, '2'] }] }), 400, /expected a JSON integer/],
    ['1.0 for INT32', '{"inputs":[{"name":"IN","datatype":"INT32","shape":[1,2],"data":[1,2.0]}]}', 400, /2\.0 is not an integer/],
    ['1.5 for INT32', '{"inputs":[{"name":"IN","datatype":"INT32","shape":[1,2],"data":[1,1.5]}]}', 400, /1\.5 is not an integer/],
    ['out of range INT32', '{"inputs":[{"name":"IN","datatype":"INT32","shape":[1,2],"data":[1,2147483648]}]}', 400, /out of range/],
    ['too few elements', jsonText({ inputs: [{ ...good, data: [1] }] }), 400, /has 1 elements in 'data' but shape \[1,2\] needs 2/],
    ['data not an array', jsonText({ inputs: [{ ...good, data: 5 }] }), 400, /must be an array/],
    ['data and binary_data_size', jsonText({ inputs: [{ ...good, data: [1, 2], parameters: { binary_data_size: 8 } }] }), 400, /exactly one of/],
    ['no data at all', jsonText({ inputs: [good] }), 400, /exactly one of/],
    ['triton_ parameter', jsonText({ inputs: [{ ...good, data: [1, 2] }], parameters: { triton_x: 1 } }), 400, /reserved/],
    ['object parameter', jsonText({ inputs: [{ ...good, data: [1, 2] }], parameters: { custom: { a: 1 } } }), 400, /must be a string, number or boolean/],
    ['priority as string', jsonText({ inputs: [{ ...good, data: [1, 2] }], parameters: { priority: 'high' } }), 400, /unsigned integer/],
    ['unknown input (core)', jsonText({ inputs: [{ ...good, name: 'NOPE', data: [1, 2] }] }), 400, /unexpected inference input 'NOPE'/],
    ['unknown output (core)', jsonText({ inputs: [{ ...good, data: [1, 2] }], outputs: [{ name: 'X' }] }), 400, /unexpected inference output 'X'/],
    ['wrong datatype (core)', jsonText({ inputs: [{ ...good, datatype: 'FP32', data: [1, 2] }] }), 400, /data-type is 'FP32'/],
    ['shared memory without a byte size', jsonText({ inputs: [{ ...good, parameters: { shared_memory_region: 'r' } }] }), 400, /'shared_memory_byte_size' must be given/],
    ['an unregistered shared memory region', jsonText({ inputs: [{ ...good, parameters: { shared_memory_region: 'r', shared_memory_byte_size: 8 } }] }), 404, /Unable to find shared memory region: 'r'/],
    ['deep nesting', `{"inputs":[{"name":"IN","datatype":"INT32","shape":[1,2],"data":${'['.repeat(100)}1,2${']'.repeat(100)}}]}`, 400, /nested deeper/],
  ];
  for (const [name, body, status, match] of cases) {
    it(name, async () => {
      const r = await post('id_int32', body);
      assert.equal(r.status, status, r.body.toString());
      assert.match(errorOf(r), match);
    });
  }

  it('unknown model 404, unknown version 404', async () => {
    const body = jsonText({ inputs: [{ ...good, data: [1, 2] }] });
    assert.equal((await post('ghost', body)).status, 404);
    assert.equal((await http(inferUrl('id_int32', '7'), { method: 'POST', body })).status, 404);
  });
});

describe('bad binary framing and compression', () => {
  const raw = rawOf('INT32', [1, 2]);
  const header = { inputs: [{ name: 'IN', datatype: 'INT32', shape: [1, 2], parameters: { binary_data_size: 8 } }] };
  const send = (body: Buffer, headers: Record<string, string>) => http(inferUrl('id_int32'), { method: 'POST', headers, body });

  it('a well-framed request works (control)', async () => {
    const b = binaryBody(header, [raw]);
    assert.equal((await send(b.body, b.headers)).status, 200);
  });

  const framing: [string, () => { body: Buffer; headers: Record<string, string> }, RegExp][] = [
    ['header length beyond the body', () => ({ ...binaryBody(header, [raw]), headers: { 'inference-header-content-length': '100000' } }), /should be in range/],
    ['header length not a number', () => ({ ...binaryBody(header, [raw]), headers: { 'inference-header-content-length': 'abc' } }), /non-negative integer/],
    ['header length cutting the JSON', () => ({ ...binaryBody(header, [raw]), headers: { 'inference-header-content-length': '10' } }), /failed to parse/],
    ['binary sizes add up to less than the tail', () => binaryBody(header, [raw, Buffer.alloc(4)]), /unexpected additional input data/],
    ['binary sizes add up to more than the tail', () => binaryBody(header, [raw.subarray(0, 4)]), /expecting 8 bytes/],
    ['binary_data_size without the header', () => ({ body: Buffer.from(JSON.stringify(header)), headers: {} }), /expecting 8 bytes .* only 0 remain/],
    ['binary size that does not fit the shape (core)', () => binaryBody({ inputs: [{ ...header.inputs[0], shape: [1, 3], parameters: { binary_data_size: 8 } }] }, [raw]), /byte size mismatch/],
    ['binary_data_size negative', () => binaryBody({ inputs: [{ ...header.inputs[0], parameters: { binary_data_size: -8 } }] }, [raw]), /non-negative integer/],
  ];
  for (const [name, make, match] of framing) {
    it(`${name} → 400`, async () => {
      const { body, headers } = make();
      const r = await send(body, headers);
      assert.equal(r.status, 400, r.body.toString());
      assert.match(errorOf(r), match);
    });
  }

  it('corrupt gzip → 400; unknown Content-Encoding → 415', async () => {
    const bad = await send(Buffer.from('definitely not gzip'), { 'content-encoding': 'gzip' });
    assert.equal(bad.status, 400);
    assert.match(errorOf(bad), /failed to decompress/);
    const truncated = gzipSync(Buffer.from(JSON.stringify(header)));
    assert.equal((await send(truncated.subarray(0, truncated.length - 6), { 'content-encoding': 'gzip' })).status, 400);
    const br = await send(Buffer.from('{}'), { 'content-encoding': 'br' });
    assert.equal(br.status, 415);
    assert.match(errorOf(br), /unsupported Content-Encoding 'br'/);
  });
});
