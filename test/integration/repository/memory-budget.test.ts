/**
 * --model-memory-budget with on-demand loading on a real server: more models than the budget
 * holds are served in turn with evictions (logged and counted) and no failed request; a model
 * with requests in flight is never evicted; when only pinned or busy models hold the memory the
 * load is refused with RESOURCE_EXHAUSTED and the reason.
 *
 * Each model's version folder carries a sparse 64 MiB file: the footprint's floor is the folder's
 * bytes (memory-budget.ts), so with a 150 MiB budget two models fit and a third needs an eviction,
 * whatever the RSS measurement of a tiny session says.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { status } from '@grpc/grpc-js';
import { TempRepo } from '../../helpers/repo.js';
import { call, fails, startServer, type TestServer } from '../../helpers/start-server.js';
import { http } from '../http/http-client.js';
import type { ModelInferRequest } from '../../../src/generated/inference/ModelInferRequest.js';
import type { ModelInferResponse__Output } from '../../../src/generated/inference/ModelInferResponse.js';

const MIB = 1024 * 1024;
const BUDGET = 150 * MIB;
const config = (dims: string, extra = '') => `
platform: "onnxruntime_onnx"
max_batch_size: 1
input [ { name: "IN" data_type: TYPE_FP32 dims: [ ${dims} ] } ]
output [ { name: "OUT" data_type: TYPE_FP32 dims: [ ${dims} ] } ]
instance_group [ { count: 1 kind: KIND_CPU } ]
${extra}`;

function heavy(repo: TempRepo, name: string, file = 'identity_fp32.onnx', extra = ''): void {
  repo.add(name, { config: config(file === 'slow.onnx' ? '4' : '-1', extra), versions: { 1: file } });
  writeFileSync(path.join(repo.dir, name, '1', 'weights.bin.sparse'), '');
  truncateSync(path.join(repo.dir, name, '1', 'weights.bin.sparse'), 64 * MIB);
}

const f32 = (xs: number[]) => Buffer.from(new Float32Array(xs).buffer);
const inferOn = (ts: TestServer, model: string) => call<ModelInferRequest, ModelInferResponse__Output>(ts.client.ModelInfer.bind(ts.client), {
  model_name: model, inputs: [{ name: 'IN', datatype: 'FP32', shape: [1, 4] }], raw_input_contents: [f32([1, 2, 3, 4])],
});
const loaded = (ts: TestServer) => ts.server.service.repositoryIndex(true).map((e) => e.name);

describe('memory budget: evictions in turn', () => {
  let ts: TestServer;
  const repo = new TempRepo();
  before(async () => {
    for (const n of ['a', 'b', 'c']) heavy(repo, n);
    heavy(repo, 'busy', 'slow.onnx');
    ts = await startServer([repo.dir], { modelControlMode: 'explicit', modelLoadOnDemand: true, modelMemoryBudgetBytes: BUDGET });
  });
  after(async () => {
    await ts.close();
    repo.remove();
  });

  it('serves more models than the budget holds, in turn, evicting the least recently used, with no failed request', async () => {
    for (const m of ['a', 'b', 'c', 'a', 'b', 'c', 'a']) {
      assert.equal((await inferOn(ts, m)).model_name, m);
      assert.ok(loaded(ts).length <= 2, `at most two models fit: ${loaded(ts).join(', ')}`);
      assert.ok(loaded(ts).includes(m));
    }
    // a b | c evicts a | a evicts b | b evicts c | c evicts a | a evicts b
    assert.deepEqual(loaded(ts).sort(), ['a', 'c']);
    const metrics = (await http(`${ts.metricsUrl}/metrics`)).body.toString();
    const count = (m: string) => Number(new RegExp(`infera_model_evictions_total\\{model="${m}"\\} (\\d+)`).exec(metrics)?.[1] ?? 0);
    assert.deepEqual([count('a'), count('b'), count('c')], [2, 2, 1]);
    const evicted = ts.server.registry.get('b')!;
    assert.match(evicted.reason, /evicted to stay within --model-memory-budget \(to load 'a'\)/);
  });

  it('never evicts a model with requests in flight, even when it is the least recently used', async () => {
    await inferOn(ts, 'busy'); // loaded (evicts c, the older of a and c): busy + a
    await inferOn(ts, 'a'); // a is now more recent than busy
    const inFlight = Array.from({ length: 12 }, () => inferOn(ts, 'busy'));
    await new Promise((r) => setTimeout(r, 20));
    await inferOn(ts, 'b'); // needs room: busy is older but busy, so a goes
    const answers = await Promise.all(inFlight);
    assert.equal(answers.length, 12);
    assert.deepEqual(loaded(ts).sort(), ['b', 'busy']);
  });
});

describe('memory budget: nothing evictable', () => {
  it('refuses the load with RESOURCE_EXHAUSTED naming what holds the memory', async (t) => {
    const repo = new TempRepo();
    heavy(repo, 'p1');
    heavy(repo, 'p2', 'identity_fp32.onnx', 'parameters { key: "memory_pinned" value: { string_value: "true" } }');
    heavy(repo, 'x');
    heavy(repo, 'busy', 'slow.onnx');
    const ts = await startServer([repo.dir], { modelControlMode: 'explicit', loadModels: ['p1'], modelLoadOnDemand: true, modelMemoryBudgetBytes: BUDGET });
    t.after(async () => {
      await ts.close();
      repo.remove();
    });
    await inferOn(ts, 'p2');
    await assert.rejects(inferOn(ts, 'x'), fails(status.RESOURCE_EXHAUSTED,
      /cannot load model 'x': it needs about 64\.0 MiB and --model-memory-budget is 150\.0 MiB.*p1 \(64\.0 MiB, pinned\), p2 \(64\.0 MiB, pinned\)/));
    assert.deepEqual(loaded(ts).sort(), ['p1', 'p2'], 'pinned models stay');
    assert.equal((await inferOn(ts, 'p1')).model_name, 'p1', 'the server keeps serving');

    // Only a model with requests in flight could make room: it is kept, and the load refused.
    await ts.server.service.unloadModel('p2', false);
    await inferOn(ts, 'busy');
    const inFlight = Array.from({ length: 12 }, () => inferOn(ts, 'busy'));
    await new Promise((r) => setTimeout(r, 20));
    await assert.rejects(inferOn(ts, 'x'), fails(status.RESOURCE_EXHAUSTED, /busy \(64\.0 MiB, requests in flight\)/));
    assert.equal((await Promise.all(inFlight)).length, 12, 'every in-flight request was served');
    assert.equal((await inferOn(ts, 'x')).model_name, 'x', 'once idle, busy is evicted for x');
    assert.deepEqual(loaded(ts).sort(), ['p1', 'x']);
  });
});
