/**
 * The bundled `pipeline` ensemble (preprocess → branch_a ‖ branch_b → combine) through the real
 * server over gRPC: results equal to calling the steps one by one, metadata / config / statistics
 * as Triton reports them, requested outputs only, classification on an ensemble output, and a
 * pipeline in flight finishing while the server drains.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BUNDLED_REPO } from '../../helpers/repo.js';
import { call, startServer, type TestServer } from '../../helpers/start-server.js';
import type { ModelInferRequest } from '../../../src/generated/inference/ModelInferRequest.js';
import type { ModelInferResponse__Output } from '../../../src/generated/inference/ModelInferResponse.js';
import type { ModelStatistics__Output } from '../../../src/generated/inference/ModelStatistics.js';
import { bytesElementViews } from '../../../src/core/bytes-tensor.js';

let ts: TestServer;
before(async () => {
  ts = await startServer([BUNDLED_REPO], { allowHttp: false, allowMetrics: false });
});
after(() => ts.close());

const infer = (req: ModelInferRequest) => call<ModelInferRequest, ModelInferResponse__Output>(ts.client.ModelInfer.bind(ts.client), req);
const f32 = (v: number[]) => Buffer.from(Float32Array.from(v).buffer);
const readF32 = (b: Buffer) => [...new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength))];
const readI64 = (b: Buffer) => [...new BigInt64Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength))].map(Number);

/** A batch of `rows` sensor readings, FP32 [rows, 4]. */
const readings = (rows: number) => Array.from({ length: rows * 4 }, (_, i) => Math.sin(i * 1.7) * 10 + (i % 4));

function tensorsOf(res: ModelInferResponse__Output): Map<string, { shape: number[]; datatype: string; raw: Buffer }> {
  return new Map(res.outputs.map((o, i) => [o.name, { shape: o.shape.map(Number), datatype: o.datatype, raw: res.raw_output_contents[i]! }]));
}

async function step(model: string, inputs: [string, number[], Buffer][]) {
  return tensorsOf(await infer({
    model_name: model,
    inputs: inputs.map(([name, shape]) => ({ name, datatype: 'FP32', shape })),
    raw_input_contents: inputs.map(([, , raw]) => raw),
  }));
}

async function stats(model: string): Promise<ModelStatistics__Output> {
  const { model_stats } = await call(ts.client.ModelStatistics.bind(ts.client), { name: model, version: '' });
  return model_stats[0]!;
}

describe('pipeline ensemble over gRPC', () => {
  it('equals calling preprocess, branch_a, branch_b and combine one by one, bit for bit', async () => {
    const rows = 3;
    const raw = f32(readings(rows));
    const res = await infer({ model_name: 'pipeline', id: 'p-1', inputs: [{ name: 'RAW', datatype: 'FP32', shape: [rows, 4] }], raw_input_contents: [raw] });
    assert.equal(res.model_name, 'pipeline');
    assert.equal(res.model_version, '1');
    assert.equal(res.id, 'p-1');
    const got = tensorsOf(res);
    assert.deepEqual([...got].map(([n, t]) => [n, t.datatype, t.shape]), [
      ['PROBS', 'FP32', [rows, 3]], ['CLASS', 'INT64', [rows, 1]], ['NORMALIZED', 'FP32', [rows, 4]],
    ]);

    const pre = await step('preprocess', [['RAW', [rows, 4], raw]]);
    const norm = pre.get('NORMALIZED')!.raw;
    const [a, b] = await Promise.all([step('branch_a', [['FEATURES', [rows, 4], norm]]), step('branch_b', [['FEATURES', [rows, 4], norm]])]);
    const combined = await step('combine', [['LOGITS_A', [rows, 3], a.get('LOGITS')!.raw], ['LOGITS_B', [rows, 3], b.get('LOGITS')!.raw]]);
    assert.ok(got.get('NORMALIZED')!.raw.equals(norm));
    assert.ok(got.get('PROBS')!.raw.equals(combined.get('PROBS')!.raw));
    assert.ok(got.get('CLASS')!.raw.equals(combined.get('CLASS')!.raw));
    const probs = readF32(got.get('PROBS')!.raw);
    const classes = readI64(got.get('CLASS')!.raw);
    for (let r = 0; r < rows; r++) {
      const row = probs.slice(r * 3, r * 3 + 3);
      assert.ok(Math.abs(row.reduce((x, y) => x + y, 0) - 1) < 1e-5);
      assert.equal(classes[r], row.indexOf(Math.max(...row)));
    }
  });

  it('returns only the requested outputs and runs only the steps they need', async () => {
    const before = await Promise.all(['preprocess', 'branch_a', 'combine'].map(stats));
    const res = await infer({
      model_name: 'pipeline',
      inputs: [{ name: 'RAW', datatype: 'FP32', shape: [1, 4] }],
      raw_input_contents: [f32([1, 2, 3, 4])],
      outputs: [{ name: 'NORMALIZED' }],
    });
    assert.deepEqual(res.outputs.map((o) => o.name), ['NORMALIZED']);
    assert.equal(res.raw_output_contents.length, 1);
    const spread = Math.sqrt(1.25 + 1e-5);
    readF32(res.raw_output_contents[0]!).forEach((x, i) => assert.ok(Math.abs(x - ([-1.5, -0.5, 0.5, 1.5][i]! / spread)) < 1e-6));
    const after = await Promise.all(['preprocess', 'branch_a', 'combine'].map(stats));
    assert.equal(after[0]!.inference_stats!.success!.count - before[0]!.inference_stats!.success!.count, 1);
    assert.equal(after[1]!.inference_stats!.success!.count, before[1]!.inference_stats!.success!.count, 'branch_a was not needed');
    assert.equal(after[2]!.inference_stats!.success!.count, before[2]!.inference_stats!.success!.count, 'combine was not needed');
  });

  it('classifies an ensemble output with the ensemble\'s own labels', async () => {
    const res = await infer({
      model_name: 'pipeline',
      inputs: [{ name: 'RAW', datatype: 'FP32', shape: [1, 4] }],
      raw_input_contents: [f32([3, 1, 4, 1])],
      outputs: [{ name: 'PROBS', parameters: { classification: { int64_param: 3 } } }, { name: 'CLASS' }],
    });
    const [top] = bytesElementViews(res.raw_output_contents[0]!).map((v) => Buffer.from(v).toString());
    const cls = readI64(res.raw_output_contents[1]!)[0]!;
    assert.equal(res.outputs[0]!.datatype, 'BYTES');
    assert.match(top!, new RegExp(`^0\\.\\d+:${cls}:${['low', 'medium', 'high'][cls]}$`));
  });

  it('reports metadata, config and readiness as an ensemble', async () => {
    const md = await call(ts.client.ModelMetadata.bind(ts.client), { name: 'pipeline', version: '' });
    assert.equal(md.platform, 'ensemble');
    assert.deepEqual(md.versions, ['1']);
    assert.deepEqual(md.inputs.map((t) => [t.name, t.datatype, t.shape.map(Number)]), [['RAW', 'FP32', [-1, 4]]]);
    assert.deepEqual(md.outputs.map((t) => [t.name, t.datatype, t.shape.map(Number)]), [
      ['PROBS', 'FP32', [-1, 3]], ['CLASS', 'INT64', [-1, 1]], ['NORMALIZED', 'FP32', [-1, 4]],
    ]);
    const { config } = await call(ts.client.ModelConfig.bind(ts.client), { name: 'pipeline', version: '' });
    assert.equal(config!.platform, 'ensemble');
    assert.equal(config!.backend, '');
    assert.deepEqual(config!.instance_group, []);
    assert.equal(config!.max_batch_size, 8);
    const steps = config!.ensemble_scheduling!.step;
    assert.deepEqual(steps.map((s) => [s.model_name, Number(s.model_version)]), [['preprocess', -1], ['branch_a', -1], ['branch_b', -1], ['combine', -1]]);
    assert.deepEqual(steps[3]!.input_map, { LOGITS_A: 'logits_a', LOGITS_B: 'logits_b' });
    const ready = await call(ts.client.ModelReady.bind(ts.client), { name: 'pipeline', version: '' });
    assert.equal(ready.ready, true);
  });

  it('counts the ensemble\'s own requests and each composing model\'s own', async () => {
    const models = ['pipeline', 'preprocess', 'branch_a', 'branch_b', 'combine'];
    const before = await Promise.all(models.map(stats));
    await Promise.all([2, 1, 3].map((rows) => infer({
      model_name: 'pipeline', inputs: [{ name: 'RAW', datatype: 'FP32', shape: [rows, 4] }], raw_input_contents: [f32(readings(rows))],
    })));
    const after = await Promise.all(models.map(stats));
    const d = (i: number, f: (s: ModelStatistics__Output) => number) => f(after[i]!) - f(before[i]!);
    assert.equal(d(0, (s) => s.inference_count), 6, 'ensemble inference_count = batch elements');
    assert.equal(d(0, (s) => s.execution_count), 3, 'ensemble execution_count = requests');
    assert.equal(d(0, (s) => s.inference_stats!.success!.count), 3);
    for (let i = 1; i < models.length; i++) {
      assert.equal(d(i, (s) => s.inference_stats!.success!.count), 3, `${models[i]} saw each request`);
      assert.equal(d(i, (s) => s.inference_count), 6, `${models[i]} saw every batch element`);
      assert.ok(d(i, (s) => s.execution_count) >= 1 && d(i, (s) => s.execution_count) <= 3);
    }
    assert.ok(after[0]!.last_inference > 0);
  });

  it('rejects a bad request with the ensemble\'s own signature, before any step runs', async () => {
    const before = await stats('preprocess');
    await assert.rejects(infer({ model_name: 'pipeline', inputs: [{ name: 'RAW', datatype: 'FP32', shape: [1, 5] }], raw_input_contents: [f32([1, 2, 3, 4, 5])] }),
      (e: { details: string }) => /unexpected shape for input 'RAW' for model 'pipeline' version 1/.test(e.details));
    await assert.rejects(infer({ model_name: 'pipeline', inputs: [{ name: 'RAW', datatype: 'FP32', shape: [9, 4] }], raw_input_contents: [f32(readings(9))] }),
      (e: { details: string }) => /batch-size must be <= 8/.test(e.details));
    const after = await stats('preprocess');
    assert.equal(after.inference_stats!.success!.count + after.inference_stats!.fail!.count, before.inference_stats!.success!.count + before.inference_stats!.fail!.count);
  });
});
