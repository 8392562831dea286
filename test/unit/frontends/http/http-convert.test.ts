import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  binarySelector, parseRequestJson, toHttpInferResponse, toInferenceRequest,
} from '../../../../src/frontends/http/http-convert.js';
import { JsonFloat } from '../../../../src/util/lossless-json.js';
import { rawBinaryRequest } from '../../../../src/frontends/http/raw-binary-request.js';
import { InferenceError } from '../../../../src/errors/inference-error.js';
import { encodeTypedValues } from '../../../../src/core/tensor-codec.js';
import { encodeBytesElements } from '../../../../src/core/bytes-tensor.js';
import type { ModelMetadata } from '../../../../src/core/inference-service.js';

const bytes = (s: string) => Buffer.from(s);
const invalidArg = (re: RegExp) => (e: unknown) => e instanceof InferenceError && e.code === 'INVALID_ARG' && re.test(e.message);
const parse = (s: string) => parseRequestJson(bytes(s), 'the request');
const req = (header: unknown, binary: Uint8Array = new Uint8Array(0)) => toInferenceRequest(header, binary, 'm', '');

describe('parseRequestJson', () => {
  it('JSON.parse results when nothing could be lost (FP32 digits stay plain numbers)', () => {
    const v = parse('{"inputs":[{"name":"x","datatype":"FP32","shape":[2],"data":[0.10000000149011612,1.5]}]}') as { inputs: { data: unknown[] }[] };
    assert.deepEqual(v.inputs[0]!.data, [0.10000000149011612, 1.5]);
  });

  it('lossless when integers are long or integer-typed data has fractions', () => {
    assert.deepEqual(parse('{"p":18446744073709551615}'), { p: 18446744073709551615n });
    const v = parse('{"inputs":[{"name":"x","datatype":"INT32","shape":[1],"data":[1.0]}]}') as { inputs: { data: unknown[] }[] };
    assert.ok(v.inputs[0]!.data[0] instanceof JsonFloat);
  });

  it('syntax errors are INVALID_ARG with an offset; NaN is accepted', () => {
    assert.throws(() => parse('{"a":}'), invalidArg(/failed to parse the request: unexpected character "}" at offset 5/));
    assert.throws(() => parse('   '), invalidArg(/JSON is empty/));
    assert.throws(() => parse('\u00ff\u00fe'), invalidArg(/failed to parse/));
    assert.ok((parse('[NaN]') as unknown[])[0] instanceof JsonFloat);
  });
});

describe('toInferenceRequest', () => {
  it('builds the core request; HTTP-only parameters are consumed', () => {
    const bin = new Uint8Array([1, 0, 0, 0, 2, 0, 0, 0]);
    const r = req({
      id: 'x', parameters: { binary_data_output: true, priority: 2, custom: 'v', ratio: new JsonFloat(0.5, '0.5'), big: 2n ** 60n },
      inputs: [
        { name: 'A', datatype: 'INT32', shape: [1, 2], data: [[3, 4]], parameters: { note: 'n' } },
        { name: 'B', datatype: 'INT32', shape: [2], parameters: { binary_data_size: 8 } },
      ],
      outputs: [{ name: 'O1', parameters: { binary_data: false, classification: 2 } }, { name: 'O2', parameters: { binary_data: true } }],
    }, bin);
    assert.deepEqual(r.request.parameters, { priority: 2, custom: 'v', ratio: 0.5, big: 2n ** 60n });
    assert.deepEqual(r.request.inputs.map((i) => [i.name, i.shape, [...i.data], i.parameters]), [
      ['A', [1, 2], [3, 0, 0, 0, 4, 0, 0, 0], { note: 'n' }],
      ['B', [2], [1, 0, 0, 0, 2, 0, 0, 0], {}],
    ]);
    assert.deepEqual(r.request.outputs, [{ name: 'O1', parameters: { classification: 2 } }, { name: 'O2', parameters: {} }]);
    const isBin = binarySelector(r.binary);
    assert.deepEqual([isBin('O1'), isBin('O2'), isBin('other')], [false, true, true]);
    assert.equal(r.request.id, 'x');
    assert.equal(r.request.modelVersion, '');
  });

  it('integer types take JSON integers only; floats take NaN/Infinity/bigints', () => {
    assert.throws(() => req({ inputs: [{ name: 'A', datatype: 'INT64', shape: [1], data: [new JsonFloat(1, '1.0')] }] }), invalidArg(/1\.0 is not an integer \(INT64\)/));
    assert.throws(() => req({ inputs: [{ name: 'A', datatype: 'UINT8', shape: [1], data: ['1'] }] }), invalidArg(/expected a JSON integer/));
    assert.throws(() => req({ inputs: [{ name: 'A', datatype: 'UINT8', shape: [1], data: [-1] }] }), invalidArg(/out of range/));
    assert.throws(() => req({ inputs: [{ name: 'A', datatype: 'BOOL', shape: [1], data: [1] }] }), invalidArg(/boolean/));
    assert.throws(() => req({ inputs: [{ name: 'A', datatype: 'BYTES', shape: [1], data: [1] }] }), invalidArg(/string/));
    assert.throws(() => req({ inputs: [{ name: 'A', datatype: 'FP32', shape: [1], data: ['1'] }] }), invalidArg(/JSON number/));
    const u = req({ inputs: [{ name: 'A', datatype: 'UINT64', shape: [1], data: [18446744073709551615n] }] });
    assert.deepEqual([...u.request.inputs[0]!.data], [255, 255, 255, 255, 255, 255, 255, 255]);
    const f = req({ inputs: [{ name: 'A', datatype: 'FP64', shape: [3], data: [new JsonFloat(NaN, 'NaN'), 2n, new JsonFloat(-Infinity, '-Infinity')] }] });
    assert.deepEqual([...new Float64Array(new Uint8Array(f.request.inputs[0]!.data).buffer)], [NaN, 2, -Infinity]);
    const s = req({ inputs: [{ name: 'A', datatype: 'BYTES', shape: [2], data: [['é', '']] }] });
    assert.deepEqual(s.request.inputs[0]!.data, encodeBytesElements(['é', '']));
  });

  it('binary framing must add up exactly', () => {
    const h = (size: number) => ({ inputs: [{ name: 'B', datatype: 'INT8', shape: [2], parameters: { binary_data_size: size } }] });
    assert.equal(req(h(2), new Uint8Array(2)).request.inputs[0]!.data.length, 2);
    assert.throws(() => req(h(2), new Uint8Array(3)), invalidArg(/unexpected additional input data .* add up to 2 bytes but 3 follow/));
    assert.throws(() => req(h(4), new Uint8Array(3)), invalidArg(/expecting 4 bytes .* only 3 remain/));
    assert.throws(() => req(h(0.5), new Uint8Array(3)), invalidArg(/binary_data_size .* non-negative integer/));
  });

  it('reserved and malformed parameters', () => {
    const base = { inputs: [] };
    assert.throws(() => req({ ...base, parameters: { triton_enable_empty_final_response: true } }), invalidArg(/reserved/));
    assert.throws(() => req({ ...base, parameters: { headers: 'x' } }), invalidArg(/reserved/));
    assert.throws(() => req({ ...base, parameters: { binary_data_output: 1 } }), invalidArg(/must be a boolean/));
    assert.throws(() => req({ ...base, parameters: { sequence_start: 1 } }), invalidArg(/boolean/));
    assert.throws(() => req({ ...base, parameters: { sequence_id: -1 } }), invalidArg(/unsigned integer or a string/));
    assert.throws(() => req({ ...base, parameters: { x: null } }), invalidArg(/string, number or boolean/));
    assert.throws(() => req({ ...base, parameters: [] }), invalidArg(/'parameters' must be a JSON object/));
    assert.deepEqual(req({ ...base, parameters: { sequence_id: 'abc', sequence_start: true, timeout: 10 } }).request.parameters,
      { sequence_id: 'abc', sequence_start: true, timeout: 10 });
    assert.throws(() => req({ inputs: [], outputs: [{ name: 'O', parameters: { binary_data: 'yes' } }] }), invalidArg(/binary_data/));
    assert.throws(() => req({ inputs: [], outputs: {} }), invalidArg(/'outputs' .* must be an array/));
    assert.throws(() => req({ inputs: [], id: 7 }), invalidArg(/'id' .* must be a string/));
  });

  it('garbage: random JSON values give INVALID_ARG or a request, never another error', () => {
    let seed = 7;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n);
    const leaf = (): unknown => [null, true, 0, -1, 1.5, 2n ** 70n, new JsonFloat(1, '1.0'), '', 'INT32', 'A', 'binary_data_size', [], {}][rnd(13)];
    const value = (d: number): unknown => {
      if (d > 3 || rnd(3) === 0) return leaf();
      if (rnd(2) === 0) return Array.from({ length: rnd(4) }, () => value(d + 1));
      const keys = ['inputs', 'outputs', 'parameters', 'name', 'datatype', 'shape', 'data', 'id', 'binary_data_size', 'binary_data', 'x'];
      return Object.fromEntries(Array.from({ length: rnd(5) }, () => [keys[rnd(keys.length)]!, value(d + 1)]));
    };
    let built = 0;
    for (let i = 0; i < 5000; i++) {
      const v = rnd(4) === 0 ? value(0) : { inputs: Array.from({ length: rnd(3) }, () => ({ name: 'A', datatype: leaf(), shape: value(2), data: value(2), parameters: value(2) })) };
      try {
        req(v, new Uint8Array(rnd(3)));
        built++;
      } catch (e) {
        assert.ok(e instanceof InferenceError && e.code === 'INVALID_ARG', `${String(e)}`);
      }
    }
    assert.ok(built > 0);
  });
});

describe('toHttpInferResponse', () => {
  const out = (name: string, datatype: 'INT64' | 'FP32' | 'BYTES' | 'INT32', shape: number[], data: Uint8Array) => ({ name, datatype, shape, data, parameters: {} });

  it("Triton's field order, flat data, exact 64-bit integers, NaN literals; id only when set", () => {
    const r = toHttpInferResponse({
      id: '', modelName: 'm', modelVersion: '3', parameters: {},
      outputs: [
        out('I', 'INT64', [1, 2], encodeTypedValues('INT64', [2n ** 63n - 1n, -1n])),
        out('F', 'FP32', [3], encodeTypedValues('FP32', [NaN, -Infinity, 0.1])),
        out('S', 'BYTES', [1], encodeBytesElements(['a"b'])),
      ],
    }, () => false);
    assert.equal(r.binary.length, 0);
    assert.equal(r.json.toString(), '{"model_name":"m","model_version":"3","outputs":[' +
      '{"name":"I","datatype":"INT64","shape":[1,2],"data":[9223372036854775807,-1]},' +
      '{"name":"F","datatype":"FP32","shape":[3],"data":[NaN,-Infinity,0.10000000149011612]},' +
      '{"name":"S","datatype":"BYTES","shape":[1],"data":["a\\"b"]}]}');
  });

  it('binary outputs: binary_data_size in the JSON, bytes in output order', () => {
    const a = encodeTypedValues('INT32', [1, 2]);
    const b = encodeTypedValues('INT32', [3]);
    const r = toHttpInferResponse({ id: 'q', modelName: 'm', modelVersion: '1', parameters: { p: 5n }, outputs: [out('A', 'INT32', [2], a), out('B', 'INT32', [1], b), out('C', 'INT32', [0], new Uint8Array(0))] }, (n) => n !== 'B');
    assert.deepEqual(r.binary, [a, new Uint8Array(0)]);
    const j = JSON.parse(r.json.toString()) as Record<string, unknown>;
    assert.deepEqual(Object.keys(j), ['id', 'model_name', 'model_version', 'parameters', 'outputs']);
    assert.deepEqual(j['parameters'], { p: 5 });
    assert.deepEqual(j['outputs'], [
      { name: 'A', datatype: 'INT32', shape: [2], parameters: { binary_data_size: 8 } },
      { name: 'B', datatype: 'INT32', shape: [1], data: [3] },
      { name: 'C', datatype: 'INT32', shape: [0], parameters: { binary_data_size: 0 } },
    ]);
  });
});

describe('rawBinaryRequest', () => {
  const meta = (datatype: string, shape: number[], inputs = 1): ModelMetadata => ({
    name: 'm', versions: ['1'], platform: 'p', outputs: [],
    inputs: Array.from({ length: inputs }, (_, i) => ({ name: `IN${i}`, datatype, shape })),
  });

  it('derives the one variable dimension and the batch of 1; every output binary', () => {
    const r = rawBinaryRequest(meta('FP32', [-1, 2, -1]), true, new Uint8Array(24), '');
    assert.deepEqual(r.request.inputs[0]!.shape, [1, 2, 3]);
    assert.equal(binarySelector(r.binary)('anything'), true);
    assert.deepEqual(rawBinaryRequest(meta('INT8', [4]), false, new Uint8Array(4), '1').request.inputs[0]!.shape, [4]);
  });

  it('BYTES: shape [1], the body is the element', () => {
    const r = rawBinaryRequest(meta('BYTES', [-1, -1]), true, Buffer.from('hello'), '');
    assert.deepEqual(r.request.inputs[0]!.shape, [1, 1]);
    assert.deepEqual(r.request.inputs[0]!.data, encodeBytesElements(['hello']));
    assert.throws(() => rawBinaryRequest(meta('BYTES', [4]), false, Buffer.from('x'), ''), invalidArg(/shape to be \[1\]/));
  });

  it('refuses what cannot be derived', () => {
    assert.throws(() => rawBinaryRequest(meta('FP32', [-1], 2), false, new Uint8Array(4), ''), invalidArg(/exactly one input/));
    assert.throws(() => rawBinaryRequest(meta('FP32', [-1, -1]), false, new Uint8Array(4), ''), invalidArg(/at most one variable dimension/));
    assert.throws(() => rawBinaryRequest(meta('FP32', [-1, 3]), false, new Uint8Array(8), ''), invalidArg(/does not fit/));
    assert.throws(() => rawBinaryRequest(meta('FP32', [2]), false, new Uint8Array(4), ''), invalidArg(/does not fit/));
  });
});
