/**
 * Scalars and zero-size tensors (issue 19, part 2) on the real server over gRPC and HTTP:
 * - a rank-0 model input is served as dims [1] (Triton's convention) and takes shape [1] or [];
 * - a rank-0 output comes back as [1], or as [] when the request sent a scalar input as [];
 * - a model declaring a 0-sized dimension auto-completes and loads, and tensors with a 0 dim flow
 *   through validation, batching, ONNX Runtime and both protocols.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { TempRepo } from '../../helpers/repo.js';
import { call, fails, startServer, type TestServer } from '../../helpers/start-server.js';
import { encodeBytesElements } from '../../../src/core/bytes-tensor.js';
import type { ModelInferRequest } from '../../../src/generated/inference/ModelInferRequest.js';
import { binaryBody, errorOf, http, json, parseInferResponse, postJson } from '../http/http-client.js';
import { addSavedModel, ONE_INSTANCE } from '../tensorflow/tf-fixtures.js';

const ZERO_BATCHED = `
platform: "onnxruntime_onnx"
max_batch_size: 4
input [ { name: "IN" data_type: TYPE_FP32 dims: [ 0, 2 ] } ]
output [ { name: "OUT" data_type: TYPE_FP32 dims: [ 0, 2 ] } ]
instance_group [ { count: 1 kind: KIND_CPU } ]
dynamic_batching { preferred_batch_size: [ 3 ] max_queue_delay_microseconds: 5000000 }
`;
const ID = (dt: string) => `
platform: "onnxruntime_onnx"
max_batch_size: 4
input [ { name: "IN" data_type: ${dt} dims: [ -1 ] } ]
output [ { name: "OUT" data_type: ${dt} dims: [ -1 ] } ]
instance_group [ { count: 1 kind: KIND_CPU } ]
`;

const repo = new TempRepo()
  .add('scalar', { versions: { 1: 'scalar_io.onnx' } }) // auto-completed: S and T get dims [1]
  .add('zero_auto', { versions: { 1: 'zero_dim.onnx' } }) // auto-completed from a model declaring [batch, 0, 2]
  .add('zero', { config: ZERO_BATCHED, versions: { 1: 'zero_dim.onnx' } })
  .add('id_fp32', { config: ID('TYPE_FP32'), versions: { 1: 'identity_fp32.onnx' } })
  .add('id_bytes', { config: ID('TYPE_STRING'), versions: { 1: 'identity_bytes.onnx' } });
addSavedModel(repo, 'tf_scalar', 'times_three_float', ONE_INSTANCE); // x and output_0 are rank 0 in the signature
after(() => repo.remove());

const f32 = (values: number[]) => Buffer.from(new Float32Array(values).buffer);
const floats = (b: Uint8Array) => [...new Float32Array(new Uint8Array(b).buffer)];

describe('scalars and zero-size tensors over gRPC and HTTP', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startServer([repo.dir]);
  });
  after(() => ts.close());
  const infer = (r: ModelInferRequest) => call(ts.client.ModelInfer.bind(ts.client), r);
  const scalarRequest = (sShape: number[]): ModelInferRequest => ({
    model_name: 'scalar',
    inputs: [{ name: 'X', datatype: 'FP32', shape: [3] }, { name: 'S', datatype: 'FP32', shape: sShape }],
    raw_input_contents: [f32([1, 2, 3]), f32([2])],
  });

  it('serves rank-0 tensors as dims [1], as Triton (metadata and config)', async () => {
    const md = await call(ts.client.ModelMetadata.bind(ts.client), { name: 'scalar', version: '' });
    assert.deepEqual(md.inputs.map((t) => [t.name, t.shape]), [['X', [-1]], ['S', [1]]]);
    assert.deepEqual(md.outputs.map((t) => [t.name, t.shape]), [['Y', [-1]], ['T', [1]]]);
  });

  it('gRPC: a rank-0 input takes shape [1] or []; rank-0 outputs come back [1], or [] when the request sent []', async () => {
    const one = await infer(scalarRequest([1]));
    assert.deepEqual(one.outputs.map((o) => [o.name, o.shape]), [['Y', [3]], ['T', [1]]]);
    assert.deepEqual(floats(one.raw_output_contents[0]!), [2, 4, 6]);
    assert.deepEqual(floats(one.raw_output_contents[1]!), [12]);
    const scalar = await infer(scalarRequest([]));
    assert.deepEqual(scalar.outputs.map((o) => [o.name, o.shape]), [['Y', [3]], ['T', []]]);
    assert.deepEqual(floats(scalar.raw_output_contents[1]!), [12]);
  });

  it('gRPC: other shapes for a scalar input are still refused, naming the tensor', async () => {
    await assert.rejects(infer(scalarRequest([2])), fails(status.INVALID_ARGUMENT, /unexpected shape for input 'S' for model 'scalar' version 1\. Expected \[1\], got \[2\]/));
    await assert.rejects(infer(scalarRequest([1, 1])), fails(status.INVALID_ARGUMENT, /Expected \[1\], got \[1,1\]/));
    const twoValues = scalarRequest([]);
    twoValues.raw_input_contents![1] = f32([2, 3]);
    await assert.rejects(infer(twoValues), fails(status.INVALID_ARGUMENT, /input byte size mismatch for input 'S'.*Expected 4, got 8/));
    const noX = { ...scalarRequest([]), inputs: [{ name: 'X', datatype: 'FP32', shape: [] }, { name: 'S', datatype: 'FP32', shape: [] }] };
    await assert.rejects(infer(noX), fails(status.INVALID_ARGUMENT, /unexpected shape for input 'X'.*Expected \[-1\], got \[\]/), '[] is only for dims [1]');
  });

  it('HTTP: the same rule, JSON and binary', async () => {
    const body = (sShape: number[], s = [2]) => ({ inputs: [
      { name: 'X', datatype: 'FP32', shape: [3], data: [1, 2, 3] },
      { name: 'S', datatype: 'FP32', shape: sShape, data: s },
    ] });
    const one = parseInferResponse(await postJson(`${ts.httpUrl}/v2/models/scalar/infer`, body([1]))).header;
    assert.deepEqual(one.outputs.map((o) => [o.name, o.shape, o.data]), [['Y', [3], [2, 4, 6]], ['T', [1], [12]]]);
    const scalar = parseInferResponse(await postJson(`${ts.httpUrl}/v2/models/scalar/infer`, body([]))).header;
    assert.deepEqual(scalar.outputs.map((o) => [o.name, o.shape, o.data]), [['Y', [3], [2, 4, 6]], ['T', [], [12]]]);
    const b = binaryBody({
      inputs: [{ name: 'X', datatype: 'FP32', shape: [3], parameters: { binary_data_size: 12 } }, { name: 'S', datatype: 'FP32', shape: [], parameters: { binary_data_size: 4 } }],
      outputs: [{ name: 'T', parameters: { binary_data: true } }],
    }, [f32([1, 2, 3]), f32([2])]);
    const bin = parseInferResponse(await http(`${ts.httpUrl}/v2/models/scalar/infer`, { method: 'POST', headers: b.headers, body: b.body }));
    assert.deepEqual(bin.header.outputs.map((o) => [o.name, o.shape]), [['T', []]]);
    assert.deepEqual(floats(bin.binary.get('T')!), [12]);
    const bad = await postJson(`${ts.httpUrl}/v2/models/scalar/infer`, body([2], [2, 3]));
    assert.equal(bad.status, 400);
    assert.match(errorOf(bad), /input 'S'.*Expected \[1\], got \[2\]/);
  });

  it('TensorFlow: the same scalar rule', async () => {
    const tf = (shape: number[]) => infer({ model_name: 'tf_scalar', inputs: [{ name: 'x', datatype: 'FP32', shape }], raw_input_contents: [f32([2.5])] });
    const one = await tf([1]);
    assert.deepEqual([one.outputs[0]!.shape, floats(one.raw_output_contents[0]!)], [[1], [7.5]]);
    const scalar = await tf([]);
    assert.deepEqual([scalar.outputs[0]!.shape, floats(scalar.raw_output_contents[0]!)], [[], [7.5]]);
  });

  it('a model declaring a 0-sized dimension auto-completes and loads; /config shows the 0', async () => {
    const cfg = json(await http(`${ts.httpUrl}/v2/models/zero_auto/config`)) as { max_batch_size: number; input: { dims: number[] }[]; output: { dims: number[] }[] };
    assert.deepEqual([cfg.max_batch_size, cfg.input[0]!.dims, cfg.output[0]!.dims], [4, [0, 2], [0, 2]]);
    const r = await infer({ model_name: 'zero_auto', inputs: [{ name: 'IN', datatype: 'FP32', shape: [2, 0, 2] }], raw_input_contents: [Buffer.alloc(0)] });
    assert.deepEqual([r.outputs[0]!.shape, r.raw_output_contents[0]!.length], [[2, 0, 2], 0]);
  });

  it('gRPC: zero-size requests are batched together and split back (one execution for three requests)', async () => {
    const req = (): ModelInferRequest => ({ model_name: 'zero', inputs: [{ name: 'IN', datatype: 'FP32', shape: [1, 0, 2] }], raw_input_contents: [Buffer.alloc(0)] });
    const outs = await Promise.all([req(), req(), req()].map(infer));
    for (const o of outs) assert.deepEqual([o.outputs[0]!.shape, o.raw_output_contents[0]!.length], [[1, 0, 2], 0]);
    const { model_stats } = await call(ts.client.ModelStatistics.bind(ts.client), { name: 'zero', version: '' });
    assert.deepEqual([model_stats[0]!.inference_count, model_stats[0]!.execution_count], [3, 1]);
    await assert.rejects(infer({ ...req(), raw_input_contents: [f32([1])] }), fails(status.INVALID_ARGUMENT, /input byte size mismatch for input 'IN'.*Expected 0, got 4/));
    await assert.rejects(infer({ ...req(), inputs: [{ name: 'IN', datatype: 'FP32', shape: [1, 1, 2] }], raw_input_contents: [f32([1, 2])] }),
      fails(status.INVALID_ARGUMENT, /Expected \[-1,0,2\], got \[1,1,2\]/));
  });

  it('zero-size tensors in variable dims flow through ONNX Runtime over both protocols, numeric and BYTES', async () => {
    const g = await infer({ model_name: 'id_fp32', inputs: [{ name: 'IN', datatype: 'FP32', shape: [2, 0] }], raw_input_contents: [Buffer.alloc(0)] });
    assert.deepEqual([g.outputs[0]!.shape, g.raw_output_contents[0]!.length], [[2, 0], 0]);
    const s = await infer({ model_name: 'id_bytes', inputs: [{ name: 'IN', datatype: 'BYTES', shape: [1, 0] }], raw_input_contents: [Buffer.from(encodeBytesElements([]))] });
    assert.deepEqual([s.outputs[0]!.shape, s.raw_output_contents[0]!.length], [[1, 0], 0]);
    const j = parseInferResponse(await postJson(`${ts.httpUrl}/v2/models/id_fp32/infer`, { inputs: [{ name: 'IN', datatype: 'FP32', shape: [1, 0], data: [] }] })).header;
    assert.deepEqual(j.outputs.map((o) => [o.shape, o.data]), [[[1, 0], []]]);
    const jb = parseInferResponse(await postJson(`${ts.httpUrl}/v2/models/id_bytes/infer`, { inputs: [{ name: 'IN', datatype: 'BYTES', shape: [1, 0], data: [] }] })).header;
    assert.deepEqual(jb.outputs.map((o) => [o.shape, o.data]), [[[1, 0], []]]);
    const b = binaryBody({ inputs: [{ name: 'IN', datatype: 'FP32', shape: [3, 0, 2], parameters: { binary_data_size: 0 } }], outputs: [{ name: 'OUT', parameters: { binary_data: true } }] }, []);
    const bin = parseInferResponse(await http(`${ts.httpUrl}/v2/models/zero/infer`, { method: 'POST', headers: b.headers, body: b.body }));
    assert.deepEqual([bin.header.outputs[0]!.shape, bin.header.outputs[0]!.parameters?.binary_data_size, bin.binary.get('OUT')!.length], [[3, 0, 2], 0, 0]);
  });
});
