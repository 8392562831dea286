/**
 * --model-load-on-demand on a real server: first requests load the model once (32 concurrent
 * first requests share one load), the wait is reported apart in statistics, unknown models stay
 * NOT_FOUND, an unloaded model loads again on its next request, and poll mode lists new models
 * without loading them until asked.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { TempRepo } from '../../helpers/repo.js';
import { call, fails, startServer, type TestServer } from '../../helpers/start-server.js';
import { http, json } from '../http/http-client.js';
import type { ModelInferRequest } from '../../../src/generated/inference/ModelInferRequest.js';
import type { ModelInferResponse__Output } from '../../../src/generated/inference/ModelInferResponse.js';
import { resolveOptions } from '../../../src/config/server-options.js';
import { captureLogger } from '../../helpers/capture-logger.js';

const IDENTITY = `
platform: "onnxruntime_onnx"
max_batch_size: 8
input [ { name: "IN" data_type: TYPE_FP32 dims: [ -1 ] } ]
output [ { name: "OUT" data_type: TYPE_FP32 dims: [ -1 ] } ]
instance_group [ { count: 1 kind: KIND_CPU } ]
`;

const f32 = (xs: number[]) => Buffer.from(new Float32Array(xs).buffer);
const inferOn = (ts: TestServer, model: string) => call<ModelInferRequest, ModelInferResponse__Output>(ts.client.ModelInfer.bind(ts.client), {
  model_name: model, inputs: [{ name: 'IN', datatype: 'FP32', shape: [1, 2] }], raw_input_contents: [f32([1, 2])],
});

describe('--model-load-on-demand in explicit mode', () => {
  let ts: TestServer;
  const repo = new TempRepo();
  const { logger: log, records: lines } = captureLogger('info');
  before(async () => {
    repo.add('lazy', { config: IDENTITY, versions: { 1: 'identity_fp32.onnx' } });
    repo.add('other', { config: IDENTITY, versions: { 1: 'identity_fp32.onnx' } });
    repo.add('broken', { config: IDENTITY, versions: { 1: 'invalid.onnx' } });
    ts = await startServer([repo.dir], { modelControlMode: 'explicit', modelLoadOnDemand: true }, log);
  });
  after(async () => {
    await ts.close();
    repo.remove();
  });

  it('32 concurrent first requests load the model once and are all served; the wait is reported apart', async () => {
    assert.equal(ts.server.registry.get('lazy')?.state, 'UNAVAILABLE', 'not loaded before its first request');
    const answers = await Promise.all(Array.from({ length: 32 }, () => inferOn(ts, 'lazy')));
    assert.ok(answers.every((a) => a.model_version === '1'));
    assert.equal(lines.filter((l) => l['msg'] === 'model loaded on demand' && l['model'] === 'lazy').length, 1);
    const [s] = ts.server.service.modelStatistics('lazy', '');
    assert.equal(s!.on_demand_wait?.count, 32);
    assert.ok(s!.on_demand_wait!.ns > 0);
    assert.equal(s!.inference_stats.success.count, 32);
    await inferOn(ts, 'lazy');
    assert.equal(ts.server.service.modelStatistics('lazy', '')[0]!.on_demand_wait?.count, 32, 'later requests do not wait');
    const httpStats = json(await http(`${ts.httpUrl}/v2/models/lazy/stats`)) as { model_stats: { on_demand_wait: { count: number } }[] };
    assert.equal(httpStats.model_stats[0]!.on_demand_wait.count, 32);
  });

  it('an unknown model is still NOT_FOUND', async () => {
    await assert.rejects(inferOn(ts, 'nowhere'), fails(status.NOT_FOUND, /unknown model: 'nowhere'/));
  });

  it('a model that fails to load on demand answers the reason, and is not loaded again per request', async () => {
    await assert.rejects(inferOn(ts, 'broken'), fails(status.UNAVAILABLE, /model 'broken' failed to load on demand: .*version 1/));
    const attempts = () => lines.filter((l) => l['msg'] === 'model version failed to load' && l['model'] === 'broken').length;
    assert.equal(attempts(), 1);
    await assert.rejects(inferOn(ts, 'broken'), (e: { code: number }) => e.code !== status.OK);
    assert.equal(attempts(), 1, 'no second load');
  });

  it('a model unloaded through the API loads again on its next request', async () => {
    await inferOn(ts, 'other');
    await ts.server.service.unloadModel('other', false);
    assert.equal(ts.server.registry.get('other')?.state, 'UNAVAILABLE');
    assert.equal((await inferOn(ts, 'other')).model_version, '1');
    assert.equal(lines.filter((l) => l['msg'] === 'model loaded on demand' && l['model'] === 'other').length, 2);
  });
});

describe('--model-load-on-demand in poll mode', () => {
  it('lists repository models without loading them, and loads one on its first request', async (t) => {
    const repo = new TempRepo().add('polled', { config: IDENTITY, versions: { 1: 'identity_fp32.onnx' } });
    const ts = await startServer([repo.dir], { modelControlMode: 'poll', modelLoadOnDemand: true, repositoryPollSecs: 60 });
    t.after(async () => {
      await ts.close();
      repo.remove();
    });
    const before = ts.server.service.repositoryIndex(false);
    assert.deepEqual(before.map((e) => [e.name, e.state]), [['polled', 'UNAVAILABLE']]);
    assert.equal((await http(`${ts.httpUrl}/v2/health/ready`)).status, 200, 'models waiting for a first request do not make the server unready');
    assert.equal((await inferOn(ts, 'polled')).model_version, '1');
    assert.deepEqual(ts.server.service.repositoryIndex(true).map((e) => [e.name, e.version, e.state]), [['polled', '1', 'READY']]);
  });

  it('is refused in model control mode none', () => {
    assert.throws(() => resolveOptions({ modelRepositories: ['x'], modelLoadOnDemand: true }), /--model-load-on-demand requires --model-control-mode=explicit or poll/);
  });
});
