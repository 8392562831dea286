/**
 * One pipeline across backends: a TensorFlow.js model (tensorflowjs backend) feeding an ONNX model
 * (onnxruntime backend), each step on its own model's scheduler, the result equal to calling the
 * two models one by one. Uses the bundled `tfjs_mlp` and `preprocess` models.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { BUNDLED_REPO, TempRepo } from '../../helpers/repo.js';
import { call, startServer, type TestServer } from '../../helpers/start-server.js';
import type { ModelInferRequest } from '../../../src/generated/inference/ModelInferRequest.js';
import type { ModelInferResponse__Output } from '../../../src/generated/inference/ModelInferResponse.js';

const HAVE_TF = existsSync(path.join(BUNDLED_REPO, 'tfjs_mlp', 'config.pbtxt'));

const MIXED = `
platform: "ensemble"
max_batch_size: 8
input [ { name: "FEATURES" data_type: TYPE_FP32 dims: [ 8 ] } ]
output [
  { name: "SCORES" data_type: TYPE_FP32 dims: [ 4 ] },
  { name: "NORMALIZED_SCORES" data_type: TYPE_FP32 dims: [ 4 ] }
]
ensemble_scheduling {
  step [
    { model_name: "tfjs_mlp" model_version: -1 input_map { key: "input" value: "FEATURES" } output_map { key: "output" value: "SCORES" } },
    { model_name: "preprocess" model_version: -1 input_map { key: "RAW" value: "SCORES" } output_map { key: "NORMALIZED" value: "NORMALIZED_SCORES" } }
  ]
}`;

describe('an ensemble mixing TensorFlow.js and ONNX models', { skip: HAVE_TF ? false : 'the bundled tfjs_mlp model is not present' }, () => {
  let ts: TestServer;
  let r: TempRepo;
  before(async () => {
    r = new TempRepo().addBundled('tfjs_mlp').addBundled('preprocess').add('mixed', { config: MIXED, files: { '1/.keep': '' } });
    ts = await startServer([r.dir], { allowHttp: false, allowMetrics: false });
  });
  after(async () => {
    await ts?.close();
    r.remove();
  });

  const infer = (req: ModelInferRequest) => call<ModelInferRequest, ModelInferResponse__Output>(ts.client.ModelInfer.bind(ts.client), req);
  const f32 = (v: number[]) => Buffer.from(Float32Array.from(v).buffer);

  it('equals calling tfjs_mlp then preprocess by hand', async () => {
    const features = f32(Array.from({ length: 16 }, (_, i) => (i % 5) - 2 + i / 10));
    const res = await infer({ model_name: 'mixed', inputs: [{ name: 'FEATURES', datatype: 'FP32', shape: [2, 8] }], raw_input_contents: [features] });
    assert.deepEqual(res.outputs.map((o) => [o.name, o.shape.map(Number)]), [['SCORES', [2, 4]], ['NORMALIZED_SCORES', [2, 4]]]);
    const tf = await infer({ model_name: 'tfjs_mlp', inputs: [{ name: 'input', datatype: 'FP32', shape: [2, 8] }], raw_input_contents: [features] });
    const onnx = await infer({ model_name: 'preprocess', inputs: [{ name: 'RAW', datatype: 'FP32', shape: [2, 4] }], raw_input_contents: [tf.raw_output_contents[0]!] });
    assert.ok(res.raw_output_contents[0]!.equals(tf.raw_output_contents[0]!));
    assert.ok(res.raw_output_contents[1]!.equals(onnx.raw_output_contents[0]!));
    const { model_stats } = await call(ts.client.ModelStatistics.bind(ts.client), { name: '', version: '' });
    const count = (n: string) => model_stats.find((s) => s.name === n)!.inference_stats!.success!.count;
    assert.deepEqual([count('mixed'), count('tfjs_mlp'), count('preprocess')], [1, 2, 2]);
  });
});
