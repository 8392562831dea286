// Every TensorFlow fixture (SavedModels and TF.js models made by TensorFlow's own tools) loads
// into the real server and answers ModelInfer over gRPC with the values TensorFlow's own tests
// expect; configs are auto-completed from signatures, or validated against them when explicit.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { status, type ServiceError } from '@grpc/grpc-js';
import { TempRepo } from '../../helpers/repo.js';
import { call, startServer, type TestServer } from '../../helpers/start-server.js';
import type { ModelInferRequest } from '../../../src/generated/inference/ModelInferRequest.js';
import type { ModelInferResponse__Output } from '../../../src/generated/inference/ModelInferResponse.js';
import type { ModelConfigResponse__Output } from '../../../src/generated/inference/ModelConfigResponse.js';
import type { RepositoryIndexResponse__Output } from '../../../src/generated/inference/RepositoryIndexResponse.js';
import { addSavedModel, addTfjsModel, f32, i32, i64, ONE_INSTANCE, raw } from './tf-fixtures.js';

const repo = new TempRepo();
let ts: TestServer;

before(async () => {
  addSavedModel(repo, 'times_three_float', 'times_three_float', ONE_INSTANCE);
  addSavedModel(repo, 'times_two_int', 'times_two_int');
  addSavedModel(repo, 'int64_multiply', 'int64_multiply', ONE_INSTANCE);
  addSavedModel(repo, 'uint8_multiply', 'uint8_multiply', ONE_INSTANCE);
  addSavedModel(repo, 'model_multi_output', 'model_multi_output', ONE_INSTANCE);
  addSavedModel(repo, 'single_input_multi_output', 'model_single_input_multi_output', ONE_INSTANCE);
  addSavedModel(repo, 'sig_default', 'module_with_multiple_signatures', ONE_INSTANCE);
  addSavedModel(repo, 'sig_timestwo', 'module_with_multiple_signatures',
    `${ONE_INSTANCE}parameters { key: "TF_SIGNATURE_DEF" value: { string_value: "timestwo" } }\n`);
  addSavedModel(repo, 'explicit_ok', 'times_three_float', `platform: "tensorflow_savedmodel"
${ONE_INSTANCE}input [ { name: "x", data_type: TYPE_FP32, dims: [ 1 ] } ]
output [ { name: "output_0", data_type: TYPE_FP32, dims: [ 1 ] } ]
`);
  addSavedModel(repo, 'explicit_bad', 'times_three_float', `platform: "tensorflow_savedmodel"
${ONE_INSTANCE}input [ { name: "x", data_type: TYPE_INT32, dims: [ 1 ] } ]
output [ { name: "y", data_type: TYPE_FP32, dims: [ 1 ] } ]
`);
  addTfjsModel(repo, 'graph_model', 'graph_model');
  addTfjsModel(repo, 'graph_model_new', 'graph_model', 'default_model_filename: "model_new.json"\n');
  addTfjsModel(repo, 'layers_model', 'layers_model');
  repo.addBundled('tfjs_mlp');
  ts = await startServer([repo.dir]);
});
after(async () => {
  await ts?.close();
  repo.remove();
});

const infer = (req: ModelInferRequest): Promise<ModelInferResponse__Output> =>
  call<ModelInferRequest, ModelInferResponse__Output>(ts.client.ModelInfer.bind(ts.client), req);
const modelConfig = async (name: string) =>
  (await call<{ name: string }, ModelConfigResponse__Output>(ts.client.ModelConfig.bind(ts.client), { name })).config!;

function output(res: ModelInferResponse__Output, name: string): Buffer {
  const i = res.outputs.findIndex((o) => o.name === name);
  assert.ok(i >= 0, `no output '${name}' in ${res.outputs.map((o) => o.name).join(', ')}`);
  return res.raw_output_contents[i]!;
}

const range = <T>(n: number, f: (i: number) => T): T[] => Array.from({ length: n }, (_, i) => f(i));

function close(actual: number[], expected: number[], tol = 1e-5): void {
  assert.equal(actual.length, expected.length);
  actual.forEach((a, i) => assert.ok(Math.abs(a - expected[i]!) <= tol, `element ${i}: ${a} vs ${expected[i]}`));
}

describe('TensorFlow fixtures through gRPC ModelInfer', () => {
  it('loads every model except the one whose config contradicts its signature', async () => {
    const idx = await call<object, RepositoryIndexResponse__Output>(ts.client.RepositoryIndex.bind(ts.client), {});
    const states = Object.fromEntries(idx.models.map((m) => [m.name, `${m.state} ${m.reason}`.trim()]));
    for (const [name, st] of Object.entries(states)) {
      if (name !== 'explicit_bad') assert.equal(st, 'READY', `${name}: ${st}`);
    }
    assert.match(states['explicit_bad']!, /UNAVAILABLE/);
    assert.match(states['explicit_bad']!, /input 'x': expected datatype INT32 but the model's is FP32 \(DT_FLOAT\)/);
    assert.match(states['explicit_bad']!, /output 'y': the model has no such output \(model outputs: output_0\)/);
  });

  it('auto-completes a SavedModel config from its serving_default signature', async () => {
    const c = await modelConfig('times_two_int');
    assert.equal(c.platform, 'tensorflow_savedmodel');
    assert.equal(c.backend, 'tensorflow');
    assert.equal(c.max_batch_size, 0);
    assert.deepEqual(c.input.map((t) => [t.name, t.data_type, t.dims.map(Number)]), [['x', 'TYPE_INT32', [1]]]);
    assert.deepEqual(c.output.map((t) => [t.name, t.data_type, t.dims.map(Number)]), [['output_0', 'TYPE_INT32', [1]]]);
  });

  it('times_three_float: 3·x', async () => {
    const res = await infer({ model_name: 'times_three_float', inputs: [{ name: 'x', datatype: 'FP32', shape: [1] }], raw_input_contents: [raw(new Float32Array([2.5]))] });
    assert.deepEqual(res.outputs.map((o) => [o.name, o.datatype, o.shape.map(Number)]), [['output_0', 'FP32', [1]]]);
    assert.deepEqual(f32(output(res, 'output_0')), [7.5]);
  });

  it('times_two_int: 2·x', async () => {
    const res = await infer({ model_name: 'times_two_int', inputs: [{ name: 'x', datatype: 'INT32', shape: [1], contents: { int_contents: [-21] } }] });
    assert.deepEqual(i32(output(res, 'output_0')), [-42]);
  });

  it('int64_multiply: [3,4] → [18,24] as INT64', async () => {
    const res = await infer({ model_name: 'int64_multiply', inputs: [{ name: 'x', datatype: 'INT64', shape: [2] }], raw_input_contents: [raw(new BigInt64Array([3n, 4n]))] });
    assert.equal(res.outputs[0]!.datatype, 'INT64');
    assert.deepEqual(i64(output(res, 'output_0')), [18n, 24n]);
  });

  it('int64_multiply: an INT64 value beyond int32 is an error, never wrapped', async () => {
    const req = { model_name: 'int64_multiply', inputs: [{ name: 'x', datatype: 'INT64', shape: [2] }], raw_input_contents: [raw(new BigInt64Array([1n, 2n ** 40n]))] };
    await assert.rejects(infer(req), (e: ServiceError) => {
      assert.equal(e.code, status.INVALID_ARGUMENT);
      assert.match(e.details, /tensor 'x': element 1 \(1099511627776\) is outside the int32 range/);
      return true;
    });
  });

  it('uint8_multiply: UINT8 3 → INT32 18', async () => {
    const res = await infer({ model_name: 'uint8_multiply', inputs: [{ name: 'x', datatype: 'UINT8', shape: [1] }], raw_input_contents: [Buffer.from([3])] });
    assert.deepEqual(i32(output(res, 'output_0')), [18]);
  });

  it('model_multi_output: output_0 = 2·x, output_1 = y', async () => {
    const res = await infer({
      model_name: 'model_multi_output',
      inputs: [{ name: 'x', datatype: 'INT32', shape: [1], contents: { int_contents: [5] } }, { name: 'y', datatype: 'INT32', shape: [1], contents: { int_contents: [7] } }],
    });
    assert.deepEqual(i32(output(res, 'output_0')), [10]);
    assert.deepEqual(i32(output(res, 'output_1')), [7]);
  });

  it('model_single_input_multi_output: 2·x and x, or just the output asked for', async () => {
    const req = { model_name: 'single_input_multi_output', inputs: [{ name: 'x', datatype: 'INT32', shape: [1], contents: { int_contents: [9] } }] };
    const res = await infer(req);
    assert.deepEqual(i32(output(res, 'output_0')), [18]);
    assert.deepEqual(i32(output(res, 'output_1')), [9]);
    const one = await infer({ ...req, outputs: [{ name: 'output_1' }] });
    assert.deepEqual(one.outputs.map((o) => o.name), ['output_1']);
  });

  it('module_with_multiple_signatures: serving_default is 3·x, TF_SIGNATURE_DEF "timestwo" is 2·x', async () => {
    const req = (m: string) => ({ model_name: m, inputs: [{ name: 'x', datatype: 'FP32', shape: [1] }], raw_input_contents: [raw(new Float32Array([4]))] });
    assert.deepEqual(f32(output(await infer(req('sig_default')), 'output_0')), [12]);
    assert.deepEqual(f32(output(await infer(req('sig_timestwo')), 'output_0')), [8]);
  });

  it('serves a SavedModel whose explicit config matches its signature', async () => {
    const res = await infer({ model_name: 'explicit_ok', inputs: [{ name: 'x', datatype: 'FP32', shape: [1] }], raw_input_contents: [raw(new Float32Array([-1]))] });
    assert.deepEqual(f32(output(res, 'output_0')), [-3]);
  });

  const GRAPH_EXPECTED = [0.7567615509, -0.183493793, 0.7567615509, -0.183493793];
  for (const name of ['graph_model', 'graph_model_new']) {
    it(`${name}: TF.js graph model, ones [2,2] → MatMul`, async () => {
      const c = await modelConfig(name);
      assert.equal(c.platform, 'tensorflowjs_graph');
      assert.deepEqual(c.input.map((t) => [t.name, t.data_type, t.dims.map(Number)]), [['Placeholder', 'TYPE_FP32', [2, 2]]]);
      const res = await infer({ model_name: name, inputs: [{ name: 'Placeholder', datatype: 'FP32', shape: [2, 2] }], raw_input_contents: [raw(new Float32Array([1, 1, 1, 1]))] });
      close(f32(output(res, 'MatMul')), GRAPH_EXPECTED, 1e-6);
    });
  }

  it('layers_model: TF.js layers model (Embedding + GRU), batchable', async () => {
    const c = await modelConfig('layers_model');
    assert.equal(c.platform, 'tensorflowjs_layers');
    assert.equal(c.max_batch_size, 4);
    assert.deepEqual(c.input.map((t) => [t.name, t.dims.map(Number)]), [['embedding_Embedding2_input', [10]]]);
    const x = [86, 11, 62, 40, 36, 75, 82, 94, 67, 75];
    const res = await infer({ model_name: 'layers_model', inputs: [{ name: 'embedding_Embedding2_input', datatype: 'FP32', shape: [2, 10] }], raw_input_contents: [raw(new Float32Array([...x, ...x]))] });
    assert.deepEqual(res.outputs[0]!.shape.map(Number), [2, 4]);
    const one = [-0.0035789413, 0.0028922036, -0.0029579764, 0.0095540239];
    close(f32(output(res, 'gru_GRU1')), [...one, ...one], 1e-6);
  });

  it('tfjs_mlp (bundled, generated by scripts/generate-tf-models.mjs) computes relu(x·W1+b1)·W2+b2', async () => {
    // The formulas documented in scripts/generate-tf-models.mjs.
    const w1 = range(8, (i) => range(16, (j) => (((i * 16 + j) % 7) - 3) / 10));
    const b1 = range(16, (j) => ((j % 3) - 1) / 10);
    const w2 = range(16, (j) => range(4, (k) => (((j * 4 + k) % 5) - 2) / 10));
    const b2 = range(4, (k) => k / 10);
    const x = [1, -2, 3, 0.5, 0, -1, 2, 4];
    const h = b1.map((b, j) => Math.max(0, b + x.reduce((s, xi, i) => s + xi * w1[i]![j]!, 0)));
    const y = b2.map((b, k) => b + h.reduce((s, hj, j) => s + hj * w2[j]![k]!, 0));
    const res = await infer({ model_name: 'tfjs_mlp', inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 8] }], raw_input_contents: [raw(new Float32Array(x))] });
    close(f32(output(res, 'output')), y, 1e-5);
  });
});
