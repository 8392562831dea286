/**
 * /metrics on the metrics port: Triton's family names, types and labels, values that match the
 * traffic sent (successes, each failure reason, batch elements, executions), agreement with the
 * statistics extension, the latency histogram, and Node process metrics.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { TempRepo } from '../../helpers/repo.js';
import { call, startServer, type TestServer } from '../../helpers/start-server.js';
import type { ModelInferRequest } from '../../../src/generated/inference/ModelInferRequest.js';
import { binaryBody, http, json, postJson } from './http-client.js';
import { parsePrometheusText, sampleValue, type Family } from './prom-text.js';

const RT = `
platform: "onnxruntime_onnx"
max_batch_size: 8
input [ { name: "IN" data_type: TYPE_FP32 dims: [ -1 ] } ]
output [ { name: "OUT" data_type: TYPE_FP32 dims: [ 3 ] } ]
instance_group [ { count: 1 kind: KIND_CPU } ]
`;
const SLOW = `
platform: "onnxruntime_onnx"
max_batch_size: 1
input [ { name: "IN" data_type: TYPE_FP32 dims: [ 4 ] } ]
output [ { name: "OUT" data_type: TYPE_FP32 dims: [ 4 ] } ]
dynamic_batching { default_queue_policy { max_queue_size: 1 } }
instance_group [ { count: 1 kind: KIND_CPU } ]
`;

let ts: TestServer;
const repo = new TempRepo();
before(async () => {
  repo.addBundled('simple');
  repo.add('rt', { config: RT, versions: { 1: 'runtime_error.onnx' } });
  repo.add('slow', { config: SLOW, versions: { 1: 'slow.onnx' } });
  ts = await startServer([repo.dir]);
});
after(async () => {
  await ts.close();
  repo.remove();
});

const url = (m: string) => `${ts.httpUrl}/v2/models/${m}/infer`;
const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const simpleJson = (batch: number, name = 'INPUT0') => ({
  inputs: [
    { name, datatype: 'INT32', shape: [batch, 16], data: range(16 * batch) },
    { name: 'INPUT1', datatype: 'INT32', shape: [batch, 16], data: range(16 * batch) },
  ],
});
const slowJson = { inputs: [{ name: 'IN', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] }] };

async function scrape(): Promise<Map<string, Family>> {
  const r = await http(`${ts.metricsUrl}/metrics`);
  assert.equal(r.status, 200);
  assert.match(String(r.headers['content-type']), /^text\/plain; version=0\.0\.4/);
  return parsePrometheusText(r.body.toString('utf8'));
}

function pending(model: string): number {
  return ts.server.service.metricSamples().find((s) => s.name === model)?.pendingCount ?? 0;
}

/**
 * Occupies the one instance of `slow` with request A, queues request B behind it and, once B is
 * seen queued, drops B's connection: the server must cancel it. Returns how many requests
 * succeeded on the way (A, plus both when A finished before B could be seen queued, then retried).
 */
async function cancelWhileQueued(): Promise<number> {
  let ok = 0;
  for (let attempt = 0; attempt < 5; attempt++) {
    const a = postJson(url('slow'), slowJson);
    let aDone = false;
    void a.finally(() => (aDone = true));
    const b = request(url('slow'), { method: 'POST', agent: false });
    const bDone = new Promise<number>((resolve) => {
      b.on('response', (res) => resolve(res.statusCode ?? 0)).on('error', () => resolve(-1));
    });
    b.end(JSON.stringify(slowJson));
    while (!aDone && pending('slow') === 0) await new Promise((r) => setTimeout(r, 1));
    if (!aDone) {
      b.destroy();
      assert.equal((await a).status, 200);
      assert.equal(await bDone, -1);
      return ok + 1;
    }
    assert.equal((await a).status, 200);
    assert.equal(await bDone, 200);
    ok += 2;
  }
  throw new Error('could not get a request queued behind another');
}

const seen = { simpleOk: 0, simpleItems: 0, simpleOther: 0, rtBackend: 0, rtOk: 0, slowOk: 0, slowRejected: 0 };

describe('traffic', () => {
  it('simple: HTTP JSON, HTTP binary and gRPC successes; validation failures', async () => {
    for (let i = 0; i < 3; i++) assert.equal((await postJson(url('simple'), simpleJson(1))).status, 200);
    const bin = binaryBody({ inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [2, 16], parameters: { binary_data_size: 128 } }, { name: 'INPUT1', datatype: 'INT32', shape: [2, 16], parameters: { binary_data_size: 128 } }] }, [Buffer.alloc(128), Buffer.alloc(128)]);
    for (let i = 0; i < 2; i++) assert.equal((await http(url('simple'), { method: 'POST', headers: bin.headers, body: bin.body })).status, 200);
    const g: ModelInferRequest = { model_name: 'simple', inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 16] }, { name: 'INPUT1', datatype: 'INT32', shape: [1, 16] }], raw_input_contents: [Buffer.alloc(64), Buffer.alloc(64)] };
    for (let i = 0; i < 2; i++) await call(ts.client.ModelInfer.bind(ts.client), g);
    Object.assign(seen, { simpleOk: 7, simpleItems: 3 + 4 + 2 });
    for (let i = 0; i < 2; i++) assert.equal((await postJson(url('simple'), simpleJson(1, 'NOPE'))).status, 400);
    await assert.rejects(call(ts.client.ModelInfer.bind(ts.client), { ...g, inputs: [g.inputs![0]!, { name: 'INPUT1', datatype: 'INT32', shape: [1, 8] }] }));
    seen.simpleOther = 3;
    // Refused by the front-end before the core: not a model failure.
    assert.equal((await http(url('simple'), { method: 'POST', body: '{"inputs":' })).status, 400);
  });

  it('rt: backend failures and a success', async () => {
    const bad = { inputs: [{ name: 'IN', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] }] };
    for (let i = 0; i < 2; i++) assert.equal((await postJson(url('rt'), bad)).status, 500);
    assert.equal((await postJson(url('rt'), { inputs: [{ name: 'IN', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] }] })).status, 200);
    Object.assign(seen, { rtBackend: 2, rtOk: 1 });
  });

  it('slow: a client that disconnects while queued is CANCELED; a full queue is REJECTED (503)', async () => {
    const okBefore = await cancelWhileQueued();
    while (pending('slow') > 0) await new Promise((r) => setTimeout(r, 5));
    const burst = await Promise.all(range(6).map(() => postJson(url('slow'), slowJson)));
    const ok = burst.filter((r) => r.status === 200).length;
    const rejected = burst.filter((r) => r.status === 503).length;
    assert.equal(ok + rejected, 6);
    assert.ok(rejected >= 1, 'a queue of one cannot hold a burst of six');
    Object.assign(seen, { slowOk: okBefore + ok, slowRejected: rejected });
  });
});

describe('the scrape', () => {
  it('counts match the traffic, per model, version and failure reason', async () => {
    const f = await scrape();
    const v = (family: string, labels: Record<string, string>) => sampleValue(f, family, family, labels);
    const simple = { model: 'simple', version: '1' };
    assert.equal(v('nv_inference_request_success', simple), seen.simpleOk);
    assert.equal(v('nv_inference_count', simple), seen.simpleItems);
    assert.equal(v('nv_inference_request_failure', { ...simple, reason: 'OTHER' }), seen.simpleOther);
    for (const reason of ['REJECTED', 'CANCELED', 'BACKEND']) assert.equal(v('nv_inference_request_failure', { ...simple, reason }), 0);
    assert.equal(v('nv_inference_request_failure', { model: 'rt', version: '1', reason: 'BACKEND' }), seen.rtBackend);
    assert.equal(v('nv_inference_request_success', { model: 'rt', version: '1' }), seen.rtOk);
    const slow = { model: 'slow', version: '1' };
    assert.equal(v('nv_inference_request_failure', { ...slow, reason: 'CANCELED' }), 1);
    assert.equal(v('nv_inference_request_failure', { ...slow, reason: 'REJECTED' }), seen.slowRejected);
    assert.equal(v('nv_inference_request_success', slow), seen.slowOk);
    assert.equal(v('nv_inference_exec_count', slow), seen.slowOk, 'max_batch_size 1: one execution per success');
    for (const m of ['simple', 'rt', 'slow']) assert.equal(v('nv_inference_pending_request_count', { model: m, version: '1' }), 0);
  });

  it('counters agree with the statistics extension', async () => {
    const f = await scrape();
    const stats = (json(await http(`${ts.httpUrl}/v2/models/simple/stats`)) as { model_stats: { execution_count: number; inference_count: number; inference_stats: Record<string, { count: number; ns: number }> }[] }).model_stats[0]!;
    const v = (family: string) => sampleValue(f, family, family, { model: 'simple', version: '1' });
    assert.equal(v('nv_inference_exec_count'), stats.execution_count);
    assert.equal(v('nv_inference_count'), stats.inference_count);
    assert.equal(v('nv_inference_request_success'), stats.inference_stats['success']!.count);
    const us = (k: string) => Math.floor(stats.inference_stats[k]!.ns / 1000);
    assert.equal(v('nv_inference_request_duration_us'), us('success'));
    assert.equal(v('nv_inference_queue_duration_us'), us('queue'));
    assert.equal(v('nv_inference_compute_input_duration_us'), us('compute_input'));
    assert.equal(v('nv_inference_compute_infer_duration_us'), us('compute_infer'));
    assert.equal(v('nv_inference_compute_output_duration_us'), us('compute_output'));
    assert.ok(v('nv_inference_request_duration_us') > 0);
  });

  it('families have Triton types and HELP; the latency histogram counts the successes', async () => {
    const f = await scrape();
    for (const name of ['nv_inference_request_success', 'nv_inference_request_failure', 'nv_inference_count', 'nv_inference_exec_count',
      'nv_inference_request_duration_us', 'nv_inference_queue_duration_us', 'nv_inference_compute_input_duration_us',
      'nv_inference_compute_infer_duration_us', 'nv_inference_compute_output_duration_us']) {
      assert.equal(f.get(name)?.type, 'counter', name);
      assert.ok(f.get(name)!.help.length > 0, name);
    }
    assert.equal(f.get('nv_inference_pending_request_count')?.type, 'gauge');
    const h = f.get('nv_inference_first_response_histogram_ms')!;
    assert.equal(h.type, 'histogram');
    const labels = { model: 'simple', version: '1' };
    assert.equal(sampleValue(f, h.name, `${h.name}_count`, labels), seen.simpleOk);
    assert.equal(sampleValue(f, h.name, `${h.name}_bucket`, { ...labels, le: '+Inf' }), seen.simpleOk);
    assert.ok(sampleValue(f, h.name, `${h.name}_sum`, labels) > 0);
    assert.equal(sampleValue(f, h.name, `${h.name}_count`, { model: 'rt', version: '1' }), seen.rtOk);
  });

  it('Node process metrics come alongside', async () => {
    const f = await scrape();
    for (const name of ['process_cpu_user_seconds_total', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_seconds']) {
      assert.ok(f.has(name), name);
    }
  });

  it('other GET paths answer 200 empty (Triton), other methods 405', async () => {
    const other = await http(`${ts.metricsUrl}/anything`);
    assert.equal(other.status, 200);
    assert.equal(other.body.length, 0);
    assert.equal((await http(`${ts.metricsUrl}/metrics/`)).status, 200);
    assert.equal((await http(`${ts.metricsUrl}/metrics`, { method: 'POST' })).status, 405);
  });
});

describe('the parser used above rejects malformed text', () => {
  it('throws on garbage, undeclared samples and bad labels', () => {
    assert.throws(() => parsePrometheusText('# TYPE a counter\na{x="1" 3\n'), /bad labels|not a sample/);
    assert.throws(() => parsePrometheusText('b 1\n'), /no declared family/);
    assert.throws(() => parsePrometheusText('# TYPE a counter\na one\n'), /bad value/);
    const ok = parsePrometheusText('# TYPE h histogram\nh_bucket{le="+Inf",m="a\\"b"} 2\nh_sum{m="a\\"b"} 1.5\nh_count{m="a\\"b"} 2\n');
    assert.equal(sampleValue(ok, 'h', 'h_sum', { m: 'a"b' }), 1.5);
  });
});
