/**
 * Version labels, canary and shadow traffic (version-routing.ts, shadow-traffic.ts) on a real
 * server: labels resolve over gRPC and HTTP, a 10 % canary gets 10 % ± 2 of 10,000 requests and
 * sticks per request id, shadow responses are never returned and their differences are counted,
 * and a reload that changes the split drops no request.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { status } from '@grpc/grpc-js';
import { TempRepo } from '../../helpers/repo.js';
import { call, fails, startServer, type TestServer } from '../../helpers/start-server.js';
import { http, json, postJson } from '../http/http-client.js';
import type { ModelInferRequest } from '../../../src/generated/inference/ModelInferRequest.js';
import type { ModelInferResponse__Output } from '../../../src/generated/inference/ModelInferResponse.js';
import type { ModelMetadataRequest } from '../../../src/generated/inference/ModelMetadataRequest.js';
import type { ModelMetadataResponse__Output } from '../../../src/generated/inference/ModelMetadataResponse.js';
import type { InferenceRequest } from '../../../src/core/inference-request.js';

const IO = `
platform: "onnxruntime_onnx"
max_batch_size: 8
input [ { name: "IN" data_type: TYPE_FP32 dims: [ -1 ] } ]
output [ { name: "OUT" data_type: TYPE_FP32 dims: [ -1 ] } ]
instance_group [ { count: 1 kind: KIND_CPU } ]
version_policy: { all: {} }
`;
const param = (key: string, value: string) => `parameters { key: "${key}" value: { string_value: "${value}" } }\n`;

const CANARY = IO + param('version_labels', 'stable:1,canary:2') + param('canary_version', 'canary') + param('canary_percent', '10');
const SHADOW = IO + param('shadow_version', '2') + param('shadow_percent', '100');

let ts: TestServer;
const repo = new TempRepo();
before(async () => {
  repo.add('routed', { config: CANARY, versions: { 1: 'identity_fp32.onnx', 2: 'identity_fp32.onnx', 3: 'identity_fp32.onnx' } });
  repo.add('shadowed', { config: SHADOW, versions: { 1: 'identity_fp32.onnx', 2: 'plus_one_fp32.onnx' } });
  repo.add('shadow_fail', {
    config: IO + param('shadow_version', '2'),
    versions: { 1: 'identity_fp32.onnx', 2: 'identity_or_fail_fp32.onnx' },
  });
  repo.add('bad_label', { config: IO + param('version_labels', 'stable:7'), versions: { 1: 'identity_fp32.onnx' } });
  repo.add('bad_percent', { config: IO + param('canary_version', '1') + param('canary_percent', '150'), versions: { 1: 'identity_fp32.onnx' } });
  ts = await startServer([repo.dir], { modelControlMode: 'explicit', loadModels: ['*'] });
});
after(async () => {
  await ts.close();
  repo.remove();
});

const f32 = (xs: number[]) => Buffer.from(new Float32Array(xs).buffer);
const readF32 = (b: Buffer) => [...new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength))];
const grpcInfer = (model: string, version: string, id = '', xs = [1, 2, 3]) =>
  call<ModelInferRequest, ModelInferResponse__Output>(ts.client.ModelInfer.bind(ts.client), {
    model_name: model, model_version: version, id,
    inputs: [{ name: 'IN', datatype: 'FP32', shape: [1, xs.length] }], raw_input_contents: [f32(xs)],
  });
const request = (model: string, id: string, xs = [1, 2, 3]): InferenceRequest => ({
  id, modelName: model, modelVersion: '', parameters: {},
  inputs: [{ name: 'IN', datatype: 'FP32', shape: [1, xs.length], data: new Uint8Array(f32(xs)), parameters: {} }], outputs: [],
});

describe('version labels', () => {
  it('resolve over gRPC: metadata, infer, unknown label', async () => {
    const meta = await call<ModelMetadataRequest, ModelMetadataResponse__Output>(ts.client.ModelMetadata.bind(ts.client), { name: 'routed', version: 'stable' });
    assert.deepEqual(meta.versions, ['1']);
    assert.equal((await grpcInfer('routed', 'canary')).model_version, '2');
    assert.equal((await grpcInfer('routed', 'stable')).model_version, '1');
    assert.equal((await grpcInfer('routed', '3')).model_version, '3');
    await assert.rejects(grpcInfer('routed', 'nope'), fails(status.INVALID_ARGUMENT, /version string 'nope' for model 'routed'.*version label/));
  });

  it('resolve over HTTP: /versions/{label} for metadata, infer, ready; unknown label is 404', async () => {
    const meta = json(await http(`${ts.httpUrl}/v2/models/routed/versions/canary`)) as Record<string, unknown>;
    assert.deepEqual(meta['versions'], ['2']);
    assert.deepEqual(meta['version_labels'], { stable: '1', canary: '2' });
    const all = json(await http(`${ts.httpUrl}/v2/models/routed`)) as Record<string, unknown>;
    assert.deepEqual(all['versions'], ['1', '2', '3']);
    assert.deepEqual(all['version_labels'], { stable: '1', canary: '2' });
    const r = await postJson(`${ts.httpUrl}/v2/models/routed/versions/stable/infer`, {
      inputs: [{ name: 'IN', datatype: 'FP32', shape: [1, 2], data: [5, 6] }],
    });
    assert.equal(r.status, 200);
    assert.equal((json(r) as { model_version: string }).model_version, '1');
    assert.equal((await http(`${ts.httpUrl}/v2/models/routed/versions/stable/ready`)).status, 200);
    const stats = json(await http(`${ts.httpUrl}/v2/models/routed/versions/canary/stats`)) as { model_stats: { version: string }[] };
    assert.deepEqual(stats.model_stats.map((s) => s.version), ['2']);
    assert.equal((await http(`${ts.httpUrl}/v2/models/routed/versions/nope`)).status, 404);
    assert.equal((await http(`${ts.httpUrl}/v2/models/shadowed/versions/stable`)).status, 404);
  });

  it('a label or split naming a version that does not load, or a bad percent, fails the load with the reason', async () => {
    const index = json(await postJson(`${ts.httpUrl}/v2/repository/index`, {})) as { name: string; state: string; reason?: string }[];
    const bad = index.find((e) => e.name === 'bad_label')!;
    assert.equal(bad.state, 'UNAVAILABLE');
    assert.match(bad.reason ?? '', /parameter 'version_labels' of model 'bad_label': label 'stable' names version 7/);
    assert.match(index.find((e) => e.name === 'bad_percent')?.reason ?? '', /parameter 'canary_percent' of model 'bad_percent'.*'150'/);
  });
});

describe('canary', () => {
  it('sends 10 % ± 2 of 10,000 unversioned requests to the canary, the rest to the version before it', async () => {
    const before = versionCounts();
    const n = 10_000;
    for (let i = 0; i < n; i += 200) {
      await Promise.all(Array.from({ length: 200 }, (_, k) => ts.server.service.infer(request('routed', `req-${i + k}`))));
    }
    const after = versionCounts();
    const canary = after['2']! - before['2']!;
    const stable = after['3']! - before['3']!;
    assert.equal(canary + stable, n, 'every request ran on the canary or on the newest non-canary version');
    assert.ok(Math.abs(canary / n - 0.1) <= 0.02, `canary share ${canary / n}`);
    assert.equal(after['1']! - before['1']!, 0);
  });

  it('is sticky per request id, over the wire', async () => {
    for (const id of ['alpha', 'beta', 'gamma', 'delta', 'req-17']) {
      const first = (await grpcInfer('routed', '', id)).model_version;
      for (let k = 0; k < 5; k++) assert.equal((await grpcInfer('routed', '', id)).model_version, first, id);
    }
  });
});

function versionCounts(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of ts.server.service.modelStatistics('routed', '')) out[s.version] = s.inference_stats.success.count;
  return out;
}

describe('shadow', () => {
  it('mirrors requests to the shadow version, never returns its answers, and counts the differences', async () => {
    const n = 40;
    for (let i = 0; i < n; i++) {
      const res = await grpcInfer('shadowed', '', `s-${i}`, [i, 2, 3]);
      assert.equal(res.model_version, '1');
      assert.deepEqual(readF32(res.raw_output_contents[0]!), [i, 2, 3], 'the primary (identity) answer, not the shadow (+1)');
    }
    await waitFor(() => (ts.server.service.modelStatistics('shadowed', '2')[0]?.shadow?.differed ?? 0) >= n);
    const [s2] = ts.server.service.modelStatistics('shadowed', '2');
    assert.equal(s2!.shadow!.mirrored, n);
    assert.equal(s2!.shadow!.differed, n);
    assert.equal(s2!.shadow!.failed, 0);
    assert.equal(s2!.shadow!.max_abs_diff, 1);
    assert.equal(s2!.inference_stats.success.count, n, 'the shadow version\'s own statistics show its latency');
    const metrics = (await http(`${ts.metricsUrl}/metrics`)).body.toString();
    assert.match(metrics, /infera_shadow_request_total\{model="shadowed",version="2",outcome="differed"\} 40/);
    assert.match(metrics, /infera_shadow_max_abs_diff\{model="shadowed",version="2"\} 1/);
    const httpStats = json(await http(`${ts.httpUrl}/v2/models/shadowed/versions/2/stats`)) as { model_stats: { shadow: { differed: number } }[] };
    assert.equal(httpStats.model_stats[0]!.shadow.differed, n);
  });

  it('a failing shadow never fails the primary; failures and matches are counted', async () => {
    // v2 (identity_or_fail_fp32.onnx) reshapes IN to [-1, 3] and back: it fails on 4 columns and agrees with v1 on 3.
    for (let i = 0; i < 5; i++) {
      const res = await grpcInfer('shadow_fail', '', '', [1, 2, 3, 4]);
      assert.deepEqual(readF32(res.raw_output_contents[0]!), [1, 2, 3, 4]);
    }
    await grpcInfer('shadow_fail', '', '', [1, 2, 3]);
    await waitFor(() => { const s = ts.server.service.modelStatistics('shadow_fail', '2')[0]?.shadow; return s !== undefined && s.failed + s.matched === 6; });
    const s = ts.server.service.modelStatistics('shadow_fail', '2')[0]!.shadow!;
    assert.deepEqual([s.failed, s.matched, s.differed], [5, 1, 0]);
    assert.equal(ts.server.service.modelStatistics('shadow_fail', '1')[0]!.inference_stats.fail.count, 0);
  });
});

describe('split changes on reload', () => {
  it('take effect on reload without dropping a request', async () => {
    let stop = false;
    let failures = 0;
    let served = 0;
    const traffic = (async () => {
      while (!stop) {
        await Promise.all(Array.from({ length: 8 }, (_, k) => ts.server.service.infer(request('routed', `r-${served + k}`))
          .then(() => void served++, () => void failures++)));
      }
    })();
    writeFileSync(path.join(repo.dir, 'routed', 'config.pbtxt'), IO + param('version_labels', 'stable:1,canary:3') + param('canary_version', 'canary') + param('canary_percent', '100'));
    await ts.server.service.loadModel('routed', {});
    const atReload = served;
    await new Promise((r) => setTimeout(r, 300));
    stop = true;
    await traffic;
    assert.equal(failures, 0);
    assert.ok(served > atReload, 'traffic continued after the reload');
    assert.equal((await grpcInfer('routed', '', 'any')).model_version, '3', 'the new split: 100 % to the canary');
    assert.equal((await grpcInfer('routed', 'canary')).model_version, '3', 'the new label');
  });
});

async function waitFor(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
