import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { status, type ServiceError } from '@grpc/grpc-js';
import { BUNDLED_REPO } from '../../helpers/repo.js';
import { call, startServer, type TestServer } from '../../helpers/start-server.js';
import type { ModelInferRequest } from '../../../src/generated/inference/ModelInferRequest.js';
import type { ModelInferResponse__Output } from '../../../src/generated/inference/ModelInferResponse.js';
import { encodeBytesElements, bytesElementViews } from '../../../src/core/bytes-tensor.js';

let ts: TestServer;
before(async () => {
  ts = await startServer([BUNDLED_REPO]);
});
after(() => ts.close());

const infer = (req: ModelInferRequest) => call<ModelInferRequest, ModelInferResponse__Output>(ts.client.ModelInfer.bind(ts.client), req);

async function rejects(req: ModelInferRequest, code: status, match: RegExp): Promise<void> {
  await assert.rejects(infer(req), (e: ServiceError) => {
    assert.equal(e.code, code, `expected status ${status[code]}, got ${status[e.code]}: ${e.details}`);
    assert.match(e.details, match);
    return true;
  });
}

function int32(values: number[]): Buffer {
  return Buffer.from(new Int32Array(values).buffer);
}
function readInt32(b: Buffer): number[] {
  return [...new Int32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength))];
}
const range = <T>(n: number, f: (i: number) => T): T[] => Array.from({ length: n }, (_, i) => f(i));

function simpleRequest(a: number[], b: number[], batch = 1, extra: Partial<ModelInferRequest> = {}): ModelInferRequest {
  return {
    model_name: 'simple',
    inputs: [
      { name: 'INPUT0', datatype: 'INT32', shape: [batch, 16] },
      { name: 'INPUT1', datatype: 'INT32', shape: [batch, 16] },
    ],
    raw_input_contents: [int32(a), int32(b)],
    ...extra,
  };
}

describe('ModelInfer on simple', () => {
  const a = range(16, (i) => i);
  const b = range(16, () => 1);

  it('returns sum and difference in raw_output_contents with the resolved version', async () => {
    const res = await infer(simpleRequest(a, b, 1, { id: 'req-7' }));
    assert.equal(res.model_name, 'simple');
    assert.equal(res.model_version, '1');
    assert.equal(res.id, 'req-7');
    assert.deepEqual(res.outputs.map((o) => [o.name, o.datatype, o.shape]), [
      ['OUTPUT0', 'INT32', [1, 16]],
      ['OUTPUT1', 'INT32', [1, 16]],
    ]);
    assert.deepEqual(readInt32(res.raw_output_contents[0]!), a.map((x, i) => x + b[i]!));
    assert.deepEqual(readInt32(res.raw_output_contents[1]!), a.map((x, i) => x - b[i]!));
  });

  it('accepts typed int_contents instead of raw bytes', async () => {
    const res = await infer({
      model_name: 'simple',
      model_version: '1',
      inputs: [
        { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], contents: { int_contents: a } },
        { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], contents: { int_contents: b } },
      ],
    });
    assert.deepEqual(readInt32(res.raw_output_contents[0]!), a.map((x, i) => x + b[i]!));
  });

  it('returns only the requested outputs', async () => {
    const res = await infer(simpleRequest(a, b, 1, { outputs: [{ name: 'OUTPUT1' }] }));
    assert.deepEqual(res.outputs.map((o) => o.name), ['OUTPUT1']);
    assert.equal(res.raw_output_contents.length, 1);
    assert.deepEqual(readInt32(res.raw_output_contents[0]!), a.map((x, i) => x - b[i]!));
  });

  it('runs a client batch of 3', async () => {
    const A = range(48, (i) => i * 3);
    const B = range(48, (i) => -i);
    const res = await infer(simpleRequest(A, B, 3));
    assert.deepEqual(res.outputs[0]!.shape, [3, 16]);
    assert.deepEqual(readInt32(res.raw_output_contents[0]!), A.map((x, i) => x + B[i]!));
  });

  it('gives every concurrent client its own outputs', async () => {
    const reqs = range(64, (k) => {
      const A = range(16, (i) => k * 100 + i);
      return infer(simpleRequest(A, range(16, () => k))).then((res) => {
        assert.deepEqual(readInt32(res.raw_output_contents[0]!), A.map((x) => x + k));
        assert.deepEqual(readInt32(res.raw_output_contents[1]!), A.map((x) => x - k));
      });
    });
    await Promise.all(reqs);
  });
});

describe('ModelInfer errors carry the right status and name model and tensor', () => {
  const a = range(16, (i) => i);
  it('unknown model → NOT_FOUND', () =>
    rejects({ ...simpleRequest(a, a), model_name: 'nope' }, status.NOT_FOUND, /'nope' is not found/));
  it('unknown version → NOT_FOUND', () =>
    rejects(simpleRequest(a, a, 1, { model_version: '2' }), status.NOT_FOUND, /'simple' version 2 is not found/));
  it('non-numeric version → INVALID_ARGUMENT', () =>
    rejects(simpleRequest(a, a, 1, { model_version: 'latest' }), status.INVALID_ARGUMENT, /version string 'latest'/));
  it('wrong datatype → INVALID_ARGUMENT', async () => {
    const req = simpleRequest(a, a);
    req.inputs![1]!.datatype = 'FP32';
    await rejects(req, status.INVALID_ARGUMENT, /input 'INPUT1' data-type is 'FP32', but model 'simple' version 1 expects 'INT32'/);
  });
  it('unknown datatype string → INVALID_ARGUMENT', async () => {
    const req = simpleRequest(a, a);
    req.inputs![0]!.datatype = 'int32';
    await rejects(req, status.INVALID_ARGUMENT, /invalid datatype 'int32'/);
  });
  it('wrong shape → INVALID_ARGUMENT', async () => {
    const req = simpleRequest(a, a);
    req.inputs![0]!.shape = [1, 15];
    await rejects(req, status.INVALID_ARGUMENT, /unexpected shape for input 'INPUT0' for model 'simple' version 1/);
  });
  it('batch above max_batch_size → INVALID_ARGUMENT', () =>
    rejects(simpleRequest(range(144, () => 0), range(144, () => 0), 9), status.INVALID_ARGUMENT, /batch-size must be <= 8/));
  it('negative dimension → INVALID_ARGUMENT', async () => {
    const req = simpleRequest(a, a);
    req.inputs![0]!.shape = [-1, 16];
    await rejects(req, status.INVALID_ARGUMENT, /All input dimensions should be specified/);
  });
  it('missing input → INVALID_ARGUMENT', () =>
    rejects({ model_name: 'simple', inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 16] }], raw_input_contents: [int32(a)] },
      status.INVALID_ARGUMENT, /missing input 'INPUT1'/));
  it('unknown input → INVALID_ARGUMENT', async () => {
    const req = simpleRequest(a, a);
    req.inputs![1]!.name = 'INPUT9';
    await rejects(req, status.INVALID_ARGUMENT, /unexpected inference input 'INPUT9'/);
  });
  it('duplicate input → INVALID_ARGUMENT', async () => {
    const req = simpleRequest(a, a);
    req.inputs![1]!.name = 'INPUT0';
    await rejects(req, status.INVALID_ARGUMENT, /'INPUT0' appears more than once/);
  });
  it('unknown requested output → INVALID_ARGUMENT', () =>
    rejects(simpleRequest(a, a, 1, { outputs: [{ name: 'OUTPUT7' }] }), status.INVALID_ARGUMENT, /unexpected inference output 'OUTPUT7'/));
  it('raw byte size mismatch → INVALID_ARGUMENT', async () => {
    const req = simpleRequest(a, a);
    req.raw_input_contents![0] = int32(a).subarray(0, 60);
    await rejects(req, status.INVALID_ARGUMENT, /input byte size mismatch for input 'INPUT0'.*Expected 64, got 60/);
  });
  it('too few raw entries → INVALID_ARGUMENT', async () => {
    const req = simpleRequest(a, a);
    req.raw_input_contents = [int32(a)];
    await rejects(req, status.INVALID_ARGUMENT, /unable to find data for input tensor 'INPUT1'/);
  });
  it('raw and typed contents mixed → INVALID_ARGUMENT', async () => {
    const req = simpleRequest(a, a);
    req.inputs![0]!.contents = { int_contents: a };
    await rejects(req, status.INVALID_ARGUMENT, /^contents field must not be specified when using raw_input_contents for 'INPUT0' for model 'simple'$/);
    const second = simpleRequest(a, a);
    second.inputs![1]!.contents = { int_contents: a };
    await rejects(second, status.INVALID_ARGUMENT, /^contents field must not be specified when using raw_input_contents for 'INPUT1' for model 'simple'$/);
  });
  it('typed contents of the wrong kind → INVALID_ARGUMENT', () =>
    rejects({
      model_name: 'simple',
      inputs: [
        { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], contents: { fp32_contents: a } },
        { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], contents: { int_contents: a } },
      ],
    }, status.INVALID_ARGUMENT, /unexpected explicit tensor data for input tensor 'INPUT0'/));
  it('reserved triton_ parameter → INVALID_ARGUMENT', () =>
    rejects(simpleRequest(a, a, 1, { parameters: { triton_x: { bool_param: true } } }), status.INVALID_ARGUMENT, /triton_x/));
  it('timeout given as a string → INVALID_ARGUMENT', () =>
    rejects(simpleRequest(a, a, 1, { parameters: { timeout: { string_param: '10' } } }), status.INVALID_ARGUMENT, /'timeout'.*int64_param/));
  it('the server keeps serving after all of these', async () => {
    const res = await infer(simpleRequest(a, a));
    assert.deepEqual(readInt32(res.raw_output_contents[0]!), a.map((x) => 2 * x));
  });
});

describe('BYTES, FP16 and classification models', () => {
  it('echoes and upper-cases strings (BYTES framing both ways)', async () => {
    const words = ['hello', '', 'ünï', 'x'.repeat(300)];
    const res = await infer({
      model_name: 'simple_string',
      inputs: [{ name: 'INPUT0', datatype: 'BYTES', shape: [1, 4] }],
      raw_input_contents: [Buffer.from(encodeBytesElements(words))],
    });
    const dec = (b: Buffer) => bytesElementViews(b).map((v) => Buffer.from(v).toString('utf8'));
    assert.equal(res.outputs[0]!.datatype, 'BYTES');
    assert.deepEqual(dec(res.raw_output_contents[0]!), words);
    assert.deepEqual(dec(res.raw_output_contents[1]!), ['HELLO', '', 'üNï', 'X'.repeat(300)]);
  });

  it('accepts bytes_contents', async () => {
    const res = await infer({
      model_name: 'simple_string',
      inputs: [{ name: 'INPUT0', datatype: 'BYTES', shape: [1, 4], contents: { bytes_contents: ['a', 'b', 'c', 'd'].map((s) => Buffer.from(s)) } }],
      outputs: [{ name: 'OUTPUT1' }],
    });
    assert.deepEqual(bytesElementViews(res.raw_output_contents[0]!).map((v) => Buffer.from(v).toString()), ['A', 'B', 'C', 'D']);
  });

  it('rejects malformed BYTES framing with INVALID_ARGUMENT', () =>
    rejects({
      model_name: 'simple_string',
      inputs: [{ name: 'INPUT0', datatype: 'BYTES', shape: [1, 4] }],
      raw_input_contents: [Buffer.from([200, 0, 0, 0, 65])],
    }, status.INVALID_ARGUMENT, /malformed BYTES data for input 'INPUT0' for model 'simple_string'/));

  it('rejects a wrong BYTES element count with INVALID_ARGUMENT', () =>
    rejects({
      model_name: 'simple_string',
      inputs: [{ name: 'INPUT0', datatype: 'BYTES', shape: [1, 4] }],
      raw_input_contents: [Buffer.from(encodeBytesElements(['a', 'b']))],
    }, status.INVALID_ARGUMENT, /expected 4 string elements for inference input 'INPUT0'.*got 2/));

  it('doubles FP16 values sent as raw bytes', async () => {
    const res = await infer({
      model_name: 'fp16_scale',
      inputs: [{ name: 'INPUT0', datatype: 'FP16', shape: [1, 4] }],
      raw_input_contents: [Buffer.from(new Uint16Array([0x3c00, 0xbe00, 0x3800, 0]).buffer)],
    });
    const out = res.raw_output_contents[0]!;
    assert.deepEqual([...new Uint16Array(out.buffer.slice(out.byteOffset, out.byteOffset + 8))], [0x4000, 0xc200, 0x3c00, 0]);
  });

  it('returns top-k "value:index:label" for the classification parameter', async () => {
    const input = new Float32Array(16);
    input[2] = 1; // row 0 → class 2 (bird)
    input[8 + 4] = 1; // row 1 → class 4 (horse)
    const res = await infer({
      model_name: 'classifier',
      inputs: [{ name: 'INPUT', datatype: 'FP32', shape: [2, 8] }],
      outputs: [{ name: 'PROBS', parameters: { classification: { int64_param: 2 } } }],
      raw_input_contents: [Buffer.from(input.buffer)],
    });
    assert.equal(res.outputs[0]!.datatype, 'BYTES');
    assert.deepEqual(res.outputs[0]!.shape, [2, 2]);
    const labels = bytesElementViews(res.raw_output_contents[0]!).map((v) => Buffer.from(v).toString());
    assert.match(labels[0]!, /^0\.\d{6}:2:bird$/);
    assert.match(labels[2]!, /^0\.\d{6}:4:horse$/);
    assert.ok(Number(labels[0]!.split(':')[0]) >= Number(labels[1]!.split(':')[0]));
  });

  it('rejects classification of 0 with INVALID_ARGUMENT', () =>
    rejects({
      model_name: 'classifier',
      inputs: [{ name: 'INPUT', datatype: 'FP32', shape: [1, 8] }],
      outputs: [{ name: 'PROBS', parameters: { classification: { int64_param: 0 } } }],
      raw_input_contents: [Buffer.alloc(32)],
    }, status.INVALID_ARGUMENT, /classification parameter of output 'PROBS'.*must be an integer > 0/));

  it('serves the model without config.pbtxt through auto-complete', async () => {
    const res = await infer({
      model_name: 'autocomplete_add',
      inputs: [
        { name: 'A', datatype: 'FP32', shape: [1, 3], contents: { fp32_contents: [1, 2, 3] } },
        { name: 'B', datatype: 'FP32', shape: [1, 3], contents: { fp32_contents: [10, 20, 30] } },
      ],
    });
    const out = res.raw_output_contents[0]!;
    assert.deepEqual([...new Float32Array(out.buffer.slice(out.byteOffset, out.byteOffset + 12))], [11, 22, 33]);
  });
});
