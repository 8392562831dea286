// The pre-scan of request wire bytes (wire-scan.ts) and the bounded deserializers built on it:
// well-formed requests decode as before; what a request declares beyond the limits, and wire
// data protobufjs would decode anyway, are refused with the right code, fast, naming the model.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadInferenceProtos } from '../../../../src/frontends/grpc/proto-loader.js';
import { boundedDeserializer, refusal, withBoundedRequests } from '../../../../src/frontends/grpc/bounded-deserialize.js';
import { REQUEST_LIMITS, type WireLimits } from '../../../../src/frontends/grpc/wire-scan.js';
import { ErrorCode } from '../../../../src/errors/error-codes.js';
import type { ModelInferRequest } from '../../../../src/generated/inference/ModelInferRequest.js';
import { noise } from '../../../helpers/noise.js';

const { inference } = loadInferenceProtos();
const encode = (r: ModelInferRequest) => inference.ModelInfer.requestSerialize(r);
const plain = (b: Buffer) => inference.ModelInfer.requestDeserialize(b);
const bounded = boundedDeserializer('inference.ModelInferRequest', plain);
const small: WireLimits = { entries: 4, mapEntries: 2, dims: 3, values: 10, fields: 100, depth: 4 };
const boundedSmall = boundedDeserializer('inference.ModelInferRequest', plain, small);

function varint(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  return [...out, n];
}
const name = [0x0a, 6, ...Buffer.from('simple')];
const field = (id: number, body: number[]) => [...varint((id << 3) | 2), ...varint(body.length), ...body];

function refused(b: Buffer | number[], de = bounded): { code: ErrorCode; message: string } {
  const out = de(Buffer.from(b));
  const err = refusal(out);
  assert.ok(err !== undefined, `not refused: ${JSON.stringify(out).slice(0, 200)}`);
  return { code: err.code, message: err.message };
}

describe('bounded ModelInferRequest deserializer', () => {
  const good: ModelInferRequest = {
    model_name: 'simple', model_version: '2', id: 'x',
    parameters: { p: { int64_param: 5 }, q: { string_param: 's' } },
    inputs: [
      { name: 'A', datatype: 'INT32', shape: [1, 16], parameters: { b: { bool_param: true } } },
      { name: 'B', datatype: 'FP32', shape: [2], contents: { fp32_contents: [1.5, 2] } },
    ],
    outputs: [{ name: 'O', parameters: { classification: { int64_param: 3 } } }],
    raw_input_contents: [Buffer.alloc(64, 1)],
  };

  it('decodes well-formed requests exactly as the plain deserializer does', () => {
    const b = encode(good);
    assert.deepEqual(bounded(b), plain(b));
    const edge = encode({ model_name: 'm', inputs: Array.from({ length: REQUEST_LIMITS.entries }, () => ({ name: 'i', shape: Array<number>(REQUEST_LIMITS.dims).fill(1) })) });
    assert.equal(refusal(bounded(edge)), undefined, 'exactly at the limits is fine');
  });

  it('refuses more entries, map entries, dims, typed values and nesting than the limits, naming the model', () => {
    const cases: [string, number[], RegExp][] = [
      ['raw_input_contents', [...name, ...Array.from({ length: 5 }, () => [0x3a, 0]).flat()], /'raw_input_contents' of inference\.ModelInferRequest has more than 4 entries/],
      ['inputs', [...name, ...Array.from({ length: 5 }, () => [0x2a, 0]).flat()], /'inputs' of inference\.ModelInferRequest has more than 4 entries/],
      ['parameters', [...name, ...Array.from({ length: 3 }, () => field(4, [0x0a, 1, 0x61])).flat()], /'parameters' .* more than 2 entries/],
      ['packed dims', [...name, ...field(5, field(3, [1, 1, 1, 1]))], /'shape' of inference\.ModelInferRequest\.InferInputTensor has more than 3 elements/],
      ['unpacked dims', [...name, ...field(5, [0x18, 1, 0x18, 1, 0x18, 1, 0x18, 1])], /'shape' .* more than 3 elements/],
      ['typed values', [...name, ...field(5, field(5, field(2, Array<number>(11).fill(1))))], /more than 10 typed tensor values: send large tensors in raw_input_contents/],
      ['fields', [...name, ...Array<number>(200).fill(0).map((_, i) => (i % 2 === 0 ? 0x78 : 1))], /more than 100 fields/],
    ];
    for (const [what, bytes, message] of cases) {
      const r = refused(bytes, boundedSmall);
      assert.equal(r.code, ErrorCode.RESOURCE_EXHAUSTED, what);
      assert.match(r.message, /^ModelInferRequest to model 'simple' refused: /, what);
      assert.match(r.message, message, what);
    }
    const depth1 = boundedDeserializer('inference.ModelInferRequest', plain, { ...small, depth: 1 });
    assert.match(refused([...field(5, field(4, field(2, [0x08, 1])))], depth1).message, /nested deeper than 1 levels/);
  });

  it('refuses wire data protobufjs would decode anyway with INVALID_ARG', () => {
    const cases: [string, number[], RegExp][] = [
      ['field number 0', [0x02, 0x00], /invalid field number 0/],
      ['wire type 6', [0x7e, 0x00], /invalid wire type 6 for field 15/],
      ['wire type 7', [0x7f, 0x00], /invalid wire type 7/],
      ['a start group', [0x7b, 0x7c], /invalid wire type 3/],
      ['model_name as a varint', [0x08, 0x05], /field 'model_name' of inference\.ModelInferRequest has wire type 0, expected 2/],
      ['inputs as fixed32', [0x2d, 1, 2, 3, 4], /field 'inputs' .* wire type 5, expected 2/],
      ['a shape as fixed64', [...field(5, [0x19, 1, 2, 3, 4, 5, 6, 7, 8])], /field 'shape' .* wire type 1, expected 0/],
      ['a length past the end', [0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f], /runs past the end/],
      ['a truncated varint', [0x0a], /truncated varint/],
      ['an 11-byte varint', [0x78, ...Array<number>(11).fill(0xff)], /varint longer than 10 bytes/],
      ['packed fp32 of 5 bytes', [...field(5, field(5, field(6, [0, 0, 0, 0, 0])))], /packed 'fp32_contents' has 5 bytes, not a multiple of 4/],
      ['a packed varint block ending mid-varint', [...field(5, field(3, [0x81]))], /ends inside a varint/],
      ['a map entry with a wrong key type', [...field(4, [0x08, 1])], /malformed entry of map 'parameters'/],
      ['a map entry without a value (protobufjs fails on it)', [0x22, 0x03, 0x0a, 0x01, 0x61], /malformed ModelInferRequest/],
    ];
    for (const [what, bytes, message] of cases) {
      const r = refused(bytes);
      assert.equal(r.code, ErrorCode.INVALID_ARG, what);
      assert.match(r.message, message, what);
    }
  });

  it('refuses 30 M empty raw_input_contents (57 MB) in milliseconds without building them', () => {
    const b = Buffer.concat([Buffer.from(name), Buffer.alloc(60_000_000, Buffer.from([0x3a, 0]))]);
    const t0 = performance.now();
    const r = refused(b);
    const ms = performance.now() - t0;
    assert.equal(r.code, ErrorCode.RESOURCE_EXHAUSTED);
    assert.match(r.message, /model 'simple'.*'raw_input_contents' .* more than 4096 entries/);
    assert.ok(ms < 1000, `took ${ms} ms`); // ~0.1 ms alone; generous for a loaded machine
  });

  it('never throws on garbage: every input decodes or is refused', () => {
    for (let seed = 1; seed <= 3000; seed++) {
      const bytes = Buffer.from(noise(1 + (seed % 300), seed));
      const out = bounded(bytes);
      const err = refusal(out);
      if (err !== undefined) assert.ok(err.code === ErrorCode.INVALID_ARG || err.code === ErrorCode.RESOURCE_EXHAUSTED, err.message);
    }
  });

  it('every method of both services gets a bounded deserializer', () => {
    const def = withBoundedRequests(inference, 'inference.GRPCInferenceService');
    assert.deepEqual(Object.keys(def).sort(), Object.keys(inference).sort());
    for (const [key, m] of Object.entries(def)) {
      assert.notEqual(m.requestDeserialize, inference[key as keyof typeof inference].requestDeserialize, key);
      assert.ok(refusal(m.requestDeserialize(Buffer.from([0x7f, 0]))) !== undefined, key);
    }
  });
});
