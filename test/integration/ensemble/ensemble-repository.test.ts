/**
 * Ensembles over temporary repositories: load-time validation reported through RepositoryIndex,
 * load order, a composing model going away and coming back, batching of ensemble and direct
 * traffic together on a shared composing model, a failing middle step, cancellation mid-pipeline
 * and a pipeline finishing while the server drains.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { status, type ServiceError } from '@grpc/grpc-js';
import { TempRepo } from '../../helpers/repo.js';
import { call, startServer, type TestServer } from '../../helpers/start-server.js';
import type { ModelInferRequest } from '../../../src/generated/inference/ModelInferRequest.js';
import type { ModelInferResponse__Output } from '../../../src/generated/inference/ModelInferResponse.js';
import type { ModelStatistics__Output } from '../../../src/generated/inference/ModelStatistics.js';

/** An ONNX model config; `dims` without the batch dimension when maxBatch > 0. */
const onnx = (o: { maxBatch?: number; inDims?: string; outDims?: string; tail?: string } = {}) => `
platform: "onnxruntime_onnx"
max_batch_size: ${o.maxBatch ?? 8}
input [ { name: "IN" data_type: TYPE_FP32 dims: [ ${o.inDims ?? '4'} ] } ]
output [ { name: "OUT" data_type: TYPE_FP32 dims: [ ${o.outDims ?? o.inDims ?? '4'} ] } ]
instance_group [ { count: 1 kind: KIND_CPU } ]
${o.tail ?? ''}`;

/** An ensemble of unary IN → OUT steps: [model, input tensor, output tensor, extra step fields]. */
function ensemble(steps: [string, string, string, string?][], o: { maxBatch?: number; dims?: string; outDims?: string; input?: string; output?: string; extra?: string } = {}): string {
  const body = steps.map(([m, i, out, extra]) => `{ model_name: "${m}" ${extra ?? 'model_version: -1'} input_map { key: "IN" value: "${i}" } output_map { key: "OUT" value: "${out}" } }`);
  return `
platform: "ensemble"
max_batch_size: ${o.maxBatch ?? 8}
input [ { name: "${o.input ?? 'E_IN'}" data_type: TYPE_FP32 dims: [ ${o.dims ?? '4'} ] } ]
output [ { name: "${o.output ?? 'E_OUT'}" data_type: TYPE_FP32 dims: [ ${o.outDims ?? o.dims ?? '4'} ] } ]
ensemble_scheduling { ${o.extra ?? ''} step [ ${body.join(', ')} ] }`;
}

const repos: TempRepo[] = [];
after(() => repos.forEach((r) => r.remove()));
const repo = () => {
  const r = new TempRepo();
  repos.push(r);
  return r;
};
const EMPTY_VERSION = { '1/.keep': '' };

const f32 = (v: number[]) => Buffer.from(Float32Array.from(v).buffer);
const readF32 = (b: Buffer) => [...new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength))];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function inferOn(ts: TestServer, model: string, values: number[], shape = [1, values.length], deadlineMs?: number) {
  const input = ts.server.registry.get(model)?.config?.input?.[0]?.name ?? 'IN';
  const req: ModelInferRequest = { model_name: model, inputs: [{ name: input, datatype: 'FP32', shape }], raw_input_contents: [f32(values)] };
  if (deadlineMs === undefined) return call<ModelInferRequest, ModelInferResponse__Output>(ts.client.ModelInfer.bind(ts.client), req);
  return new Promise<ModelInferResponse__Output>((resolve, reject) => {
    ts.client.ModelInfer(req, { deadline: new Date(Date.now() + deadlineMs) }, (e, r) => (e ? reject(e) : resolve(r!)));
  });
}
async function stats(ts: TestServer, model: string): Promise<ModelStatistics__Output> {
  return (await call(ts.client.ModelStatistics.bind(ts.client), { name: model, version: '' })).model_stats[0]!;
}
const index = async (ts: TestServer) => (await call(ts.client.RepositoryIndex.bind(ts.client), { repository_name: '', ready: false })).models;
const fails = (code: status, re: RegExp) => (e: ServiceError) => {
  assert.equal(e.code, code, `expected ${status[code]}, got ${status[e.code]}: ${e.details}`);
  assert.match(e.details, re);
  return true;
};

describe('load-time validation through the server', () => {
  it('loads ensembles after their composing models, whatever the names, and reports each broken one with its reason', async () => {
    const r = repo()
      .add('z_id', { config: onnx(), versions: { 1: 'identity_fp32.onnx' } })
      .add('z_int', { config: onnx().replace(/TYPE_FP32/g, 'TYPE_INT32'), versions: { 1: 'identity_int32.onnx' } })
      .add('a_ok', { config: ensemble([['z_id', 'E_IN', 'x'], ['z_id', 'x', 'E_OUT']]), files: EMPTY_VERSION })
      .add('e_missing', { config: ensemble([['ghost', 'E_IN', 'E_OUT']]), files: EMPTY_VERSION })
      .add('e_unset_version', { config: ensemble([['z_id', 'E_IN', 'E_OUT', ' ']]), files: EMPTY_VERSION })
      .add('e_dtype', { config: ensemble([['z_id', 'E_IN', 'x'], ['z_int', 'x', 'E_OUT']]), files: EMPTY_VERSION })
      .add('e_cycle', { config: ensemble([['z_id', 'E_IN', 'E_OUT'], ['z_id', 'y', 'x'], ['z_id', 'x', 'y']]), files: EMPTY_VERSION })
      .add('e_batch', { config: ensemble([['z_id', 'E_IN', 'E_OUT']], { maxBatch: 16 }), files: EMPTY_VERSION })
      .add('e_unused', { config: ensemble([['z_id', 'E_IN', 'x']]), files: EMPTY_VERSION })
      .add('e_backend', { config: `${ensemble([['z_id', 'E_IN', 'E_OUT']])}\nbackend: "onnxruntime"`, files: EMPTY_VERSION })
      .add('e_no_version', { config: ensemble([['z_id', 'E_IN', 'E_OUT']]) });
    const ts = await startServer([r.dir], { allowHttp: false, allowMetrics: false });
    try {
      const models = new Map((await index(ts)).map((m) => [m.name, m]));
      const reason = (n: string) => {
        assert.equal(models.get(n)!.state, 'UNAVAILABLE', n);
        return models.get(n)!.reason;
      };
      assert.equal(models.get('a_ok')!.state, 'READY');
      assert.match(reason('e_missing'), /ensemble 'e_missing': step 0 \(model 'ghost'\): depends on 'ghost', which is not in the model repository/);
      assert.match(reason('e_unset_version'), /depends on 'z_id' whose required version 0 is not loaded/);
      assert.match(reason('e_dtype'), /tensor 'x' has datatype TYPE_FP32 at step 0 \(model 'z_id'\) output 'OUT' but TYPE_INT32 at step 1 \(model 'z_int'\) input 'IN'/);
      assert.match(reason('e_dtype'), /tensor 'E_OUT' has datatype TYPE_INT32/);
      assert.match(reason('e_cycle'), /the steps form a cycle: step 1 \(model 'z_id'\) → step 2 \(model 'z_id'\) → step 1/);
      assert.match(reason('e_batch'), /max_batch_size 16 is larger than step 0 \(model 'z_id'\) supports: the model allows at most 8/);
      assert.match(reason('e_unused'), /ensemble output 'E_OUT' is not produced by any step/);
      assert.match(reason('e_backend'), /an ensemble must have platform 'ensemble' and an empty backend/);
      assert.match(reason('e_no_version'), /at least one version must be available/);
      const ok = await inferOn(ts, 'a_ok', [1, 2, 3, 4]);
      assert.deepEqual(readF32(ok.raw_output_contents[0]!), [1, 2, 3, 4]);
      const ready = await call(ts.client.ModelReady.bind(ts.client), { name: 'e_missing', version: '' });
      assert.equal(ready.ready, false);
    } finally {
      await ts.close();
    }
  });
});

describe('a composing model goes away and comes back (explicit model control)', () => {
  let ts: TestServer;
  before(async () => {
    const r = repo()
      .add('m_first', { config: onnx(), versions: { 1: 'identity_fp32.onnx' } })
      .add('m_second', { config: onnx(), versions: { 1: 'identity_fp32.onnx' } })
      .add('ens', { config: ensemble([['m_first', 'E_IN', 'x'], ['m_second', 'x', 'E_OUT']]), files: EMPTY_VERSION });
    ts = await startServer([r.dir], { allowHttp: false, allowMetrics: false, modelControlMode: 'explicit', loadModels: ['*'] });
  });
  after(() => ts.close());

  it('makes the ensemble not ready, UNAVAILABLE in the index, and its requests fail naming the model', async () => {
    assert.equal((await inferOn(ts, 'ens', [1, 2, 3, 4])).model_name, 'ens');
    await call(ts.client.RepositoryModelUnload.bind(ts.client), { repository_name: '', model_name: 'm_second', parameters: {} });
    assert.equal((await call(ts.client.ModelReady.bind(ts.client), { name: 'ens', version: '' })).ready, false);
    assert.equal((await call(ts.client.ModelReady.bind(ts.client), { name: 'ens', version: '1' })).ready, false);
    const entry = (await index(ts)).find((m) => m.name === 'ens')!;
    assert.equal(entry.state, 'UNAVAILABLE');
    assert.match(entry.reason, /^ensemble 'ens' step 1 \(model 'm_second'\): composing model 'm_second' is not available \(.*'m_second'.*\)$/);
    assert.equal((await call(ts.client.RepositoryIndex.bind(ts.client), { repository_name: '', ready: true })).models.some((m) => m.name === 'ens'), false);
    await assert.rejects(inferOn(ts, 'ens', [1, 2, 3, 4]), fails(status.UNAVAILABLE, /ensemble 'ens' version 1: step 1 \(model 'm_second'\) failed: .*'m_second'/));

    await call(ts.client.RepositoryModelLoad.bind(ts.client), { repository_name: '', model_name: 'm_second', parameters: {} });
    assert.equal((await call(ts.client.ModelReady.bind(ts.client), { name: 'ens', version: '' })).ready, true);
    assert.deepEqual(readF32((await inferOn(ts, 'ens', [4, 3, 2, 1])).raw_output_contents[0]!), [4, 3, 2, 1]);
  });
});

describe('runtime behaviour', () => {
  let ts: TestServer;
  before(async () => {
    const r = repo()
      // shared waits up to 2 s for a second request so a pair of concurrent requests forms one batch.
      .add('shared', { config: onnx({ tail: 'dynamic_batching { preferred_batch_size: [ 2 ] max_queue_delay_microseconds: 2000000 }' }), versions: { 1: 'identity_fp32.onnx' } })
      .add('e_shared', { config: ensemble([['shared', 'E_IN', 'E_OUT']]), files: EMPTY_VERSION })
      .add('first', { config: onnx({ maxBatch: 0, inDims: '-1, -1' }), versions: { 1: 'identity_fp32.onnx' } })
      .add('mid', { config: onnx({ maxBatch: 0, inDims: '-1, -1', outDims: '-1, 3' }), versions: { 1: 'runtime_error.onnx' } })
      .add('last', { config: onnx({ maxBatch: 0, inDims: '-1, 3' }), versions: { 1: 'identity_fp32.onnx' } })
      .add('e_fragile', { config: ensemble([['first', 'E_IN', 'a'], ['mid', 'a', 'b'], ['last', 'b', 'E_OUT']], { maxBatch: 0, dims: '-1, -1', outDims: '-1, 3' }), files: EMPTY_VERSION })
      .add('slow', { config: onnx(), versions: { 1: 'slow.onnx' } })
      .add('after_slow', { config: onnx(), versions: { 1: 'identity_fp32.onnx' } })
      .add('e_slow', { config: ensemble([['slow', 'E_IN', 'x'], ['after_slow', 'x', 'E_OUT']]), files: EMPTY_VERSION });
    ts = await startServer([r.dir], { allowHttp: false, allowMetrics: false });
  });
  after(() => ts.close());

  it('batches ensemble and direct requests together on a shared composing model', async () => {
    const [viaEnsemble, direct] = await Promise.all([inferOn(ts, 'e_shared', [1, 1, 1, 1]), inferOn(ts, 'shared', [2, 2, 2, 2])]);
    assert.deepEqual(readF32(viaEnsemble.raw_output_contents[0]!), [1, 1, 1, 1]);
    assert.deepEqual(readF32(direct.raw_output_contents[0]!), [2, 2, 2, 2]);
    const s = await stats(ts, 'shared');
    assert.equal(s.execution_count, 1, 'one execution served both');
    assert.equal(s.inference_count, 2);
    assert.deepEqual(s.batch_stats.map((b) => Number(b.batch_size)), [2]);
  });

  it('a failing middle step fails the request naming step and model; the last step never runs', async () => {
    await assert.rejects(inferOn(ts, 'e_fragile', [1, 2, 3, 4], [1, 4]),
      fails(status.INTERNAL, /ensemble 'e_fragile' version 1: step 1 \(model 'mid'\) failed: .*model 'mid' version 1.*cannot be reshaped/));
    assert.equal((await stats(ts, 'first')).inference_stats!.success!.count, 1);
    assert.equal((await stats(ts, 'mid')).inference_stats!.fail!.count, 1);
    assert.equal((await stats(ts, 'last')).execution_count, 0);
    const ok = await inferOn(ts, 'e_fragile', [1, 2, 3, 4, 5, 6], [1, 6]);
    assert.deepEqual(ok.outputs[0]!.shape.map(Number), [2, 3]);
    assert.deepEqual(readF32(ok.raw_output_contents[0]!), [1, 2, 3, 4, 5, 6]);
  });

  it('a request cancelled mid-pipeline launches no further step', async () => {
    // Keep `slow` busy so the ensemble's first step is still queued or running when the deadline passes.
    const busy = [1, 2, 3].map(() => inferOn(ts, 'slow', [1, 1, 1, 1]));
    await assert.rejects(inferOn(ts, 'e_slow', [5, 5, 5, 5], [1, 4], 15), (e: ServiceError) => e.code === status.DEADLINE_EXCEEDED);
    await Promise.all(busy);
    await sleep(100);
    assert.equal((await stats(ts, 'after_slow')).execution_count, 0);
    const es = await stats(ts, 'e_slow');
    assert.equal(es.inference_stats!.fail!.count, 1);
    assert.equal(es.execution_count, 0);
  });
});

describe('draining', () => {
  it('a pipeline in flight when the server stops finishes all of its steps', async () => {
    const r = repo()
      .add('slow', { config: onnx(), versions: { 1: 'slow.onnx' } })
      .add('after_slow', { config: onnx(), versions: { 1: 'identity_fp32.onnx' } })
      .add('e_slow', { config: ensemble([['slow', 'E_IN', 'x'], ['after_slow', 'x', 'E_OUT']]), files: EMPTY_VERSION });
    const ts = await startServer([r.dir], { allowHttp: false, allowMetrics: false });
    const pending = inferOn(ts, 'e_slow', [7, 7, 7, 7]);
    const scheduler = ts.server.registry.get('e_slow')!.versions.get(1)!.scheduler!;
    while (scheduler.inflightCount === 0) await sleep(1);
    const stopping = ts.server.stop();
    const res = await pending;
    assert.deepEqual(readF32(res.raw_output_contents[0]!), [7, 7, 7, 7]);
    await stopping;
    ts.client.close();
    ts.health.close();
  });
});
