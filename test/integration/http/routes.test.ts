/**
 * Every non-infer HTTP route against a real server: status codes and bodies as Triton's HTTP
 * endpoint (PROTOCOL.md §6.1), and agreement with the gRPC answers for the same questions.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { IDENTITY_FP32_CONFIG, TempRepo } from '../../helpers/repo.js';
import { call, startServer, type TestServer } from '../../helpers/start-server.js';
import { errorOf, http, json } from './http-client.js';


let ts: TestServer;
let url: string;
const repo = new TempRepo();
before(async () => {
  repo.addBundled('simple').addBundled('classifier');
  repo.add('versions', {
    config: `${IDENTITY_FP32_CONFIG}\nversion_policy: { latest: { num_versions: 2 } }`,
    versions: { 1: 'identity_fp32.onnx', 2: 'identity_fp32.onnx', 3: 'identity_fp32.onnx' },
  });
  ts = await startServer([repo.dir]);
  url = ts.httpUrl;
});
after(async () => {
  await ts.close();
  repo.remove();
});

describe('health', () => {
  it('live and ready answer 200 with an empty body', async () => {
    for (const path of ['/v2/health/live', '/v2/health/ready']) {
      const r = await http(url + path);
      assert.equal(r.status, 200, path);
      assert.equal(r.body.length, 0, path);
    }
  });

  it('while a model version is loading: HTTP ready 400, gRPC ServerReady false and NOT_SERVING, model ready 400', async () => {
    const v = ts.server.registry.get('simple')!.versions.get(1)!;
    v.state = 'LOADING';
    try {
      const r = await http(`${url}/v2/health/ready`);
      assert.equal(r.status, 400);
      assert.equal(r.body.length, 0);
      assert.equal((await http(`${url}/v2/health/live`)).status, 200);
      assert.deepEqual(await call(ts.client.ServerReady.bind(ts.client), {}), { ready: false });
      assert.equal((await call(ts.health.Check.bind(ts.health), { service: '' })).status, 'NOT_SERVING');
      const m = await http(`${url}/v2/models/simple/versions/1/ready`);
      assert.equal(m.status, 400);
      assert.deepEqual(json(m), { error: 'Model version not ready' });
    } finally {
      v.state = 'READY';
    }
    assert.equal((await http(`${url}/v2/health/ready`)).status, 200);
    assert.equal((await call(ts.health.Check.bind(ts.health), { service: '' })).status, 'SERVING');
  });
});

describe('server and model metadata', () => {
  it('GET /v2 reports the server metadata, same as gRPC', async () => {
    const r = await http(`${url}/v2`);
    assert.equal(r.status, 200);
    assert.match(String(r.headers['content-type']), /^application\/json/);
    const g = await call(ts.client.ServerMetadata.bind(ts.client), {});
    assert.deepEqual(json(r), { name: g.name, version: g.version, extensions: g.extensions });
    assert.ok((json(r) as { extensions: string[] }).extensions.includes('binary_tensor_data'));
  });

  it('model metadata with and without a version, equal to gRPC', async () => {
    const r = await http(`${url}/v2/models/versions`);
    assert.equal(r.status, 200);
    assert.deepEqual(json(r), {
      name: 'versions', versions: ['2', '3'], platform: 'onnxruntime_onnx',
      inputs: [{ name: 'IN', datatype: 'FP32', shape: [-1, -1] }],
      outputs: [{ name: 'OUT', datatype: 'FP32', shape: [-1, -1] }],
    });
    const r2 = await http(`${url}/v2/models/versions/versions/2`);
    assert.deepEqual((json(r2) as { versions: string[] }).versions, ['2']);
    const g = await call(ts.client.ModelMetadata.bind(ts.client), { name: 'simple', version: '' });
    assert.deepEqual(json(await http(`${url}/v2/models/simple`)), {
      name: g.name, versions: g.versions, platform: g.platform,
      inputs: g.inputs.map((i) => ({ name: i.name, datatype: i.datatype, shape: i.shape })),
      outputs: g.outputs.map((i) => ({ name: i.name, datatype: i.datatype, shape: i.shape })),
    });
  });

  it('unknown model 404, version not served 404, version not loaded 404 with Triton messages', async () => {
    const u = await http(`${url}/v2/models/ghost`);
    assert.equal(u.status, 404);
    assert.match(errorOf(u), /unknown model: 'ghost'/);
    const v = await http(`${url}/v2/models/versions/versions/9`);
    assert.equal(v.status, 404);
    assert.match(errorOf(v), /'versions' version 9 is not found/);
  });

  it('a version the policy does not serve: metadata 404, ready 400 "not ready"', async () => {
    const v1 = await http(`${url}/v2/models/versions/versions/1`);
    assert.equal(v1.status, 404);
    assert.match(errorOf(v1), /'versions' version 1 is not found/);
    const ready = await http(`${url}/v2/models/versions/versions/1/ready`);
    assert.equal(ready.status, 400);
    assert.deepEqual(json(ready), { error: 'Model version not ready' });
  });

  it('a version that exists but is not READY: metadata 503 (UNAVAILABLE)', async () => {
    const v = ts.server.registry.get('versions')!.versions.get(2)!;
    v.state = 'UNLOADING';
    try {
      const r = await http(`${url}/v2/models/versions/versions/2`);
      assert.equal(r.status, 503);
      assert.match(errorOf(r), /version 2 is not at ready state/);
    } finally {
      v.state = 'READY';
    }
  });

  it('model ready: 200 empty; unknown model 404', async () => {
    const r = await http(`${url}/v2/models/simple/ready`);
    assert.equal(r.status, 200);
    assert.equal(r.body.length, 0);
    assert.equal((await http(`${url}/v2/models/simple/versions/1/ready`)).status, 200);
    const u = await http(`${url}/v2/models/ghost/ready`);
    assert.equal(u.status, 404);
    assert.match(errorOf(u), /ghost/);
  });

  it('config: protobuf JSON with snake_case names, enum names, 64-bit integers as numbers', async () => {
    const r = await http(`${url}/v2/models/simple/config`);
    assert.equal(r.status, 200);
    const c = json(r) as Record<string, unknown> & { input: { data_type: string; dims: unknown[] }[] };
    assert.equal(c['name'], 'simple');
    assert.equal(c['max_batch_size'], 8);
    assert.equal(c.input[0]!.data_type, 'TYPE_INT32');
    assert.deepEqual(c.input[0]!.dims, [16]);
    assert.equal((await http(`${url}/v2/models/simple/versions/1/config`)).status, 200);
    assert.equal((await http(`${url}/v2/models/ghost/config`)).status, 404);
  });
});

describe('statistics', () => {
  it('all models, one model, one version; unknown model 400 as Triton', async () => {
    const all = json(await http(`${url}/v2/models/stats`)) as { model_stats: { name: string; version: string }[] };
    assert.deepEqual(all.model_stats.map((s) => `${s.name}/${s.version}`), ['classifier/1', 'simple/1', 'versions/2', 'versions/3']);
    const one = json(await http(`${url}/v2/models/versions/stats`)) as { model_stats: Record<string, unknown>[] };
    assert.deepEqual(one.model_stats.map((s) => s['version']), ['2', '3']);
    const s = one.model_stats[0]!;
    for (const k of ['last_inference', 'inference_count', 'execution_count', 'inference_stats', 'batch_stats', 'memory_usage', 'response_stats']) {
      assert.ok(k in s, `stats have '${k}'`);
    }
    const v = json(await http(`${url}/v2/models/versions/versions/3/stats`)) as { model_stats: unknown[] };
    assert.equal(v.model_stats.length, 1);
    const ghost = await http(`${url}/v2/models/ghost/stats`);
    assert.equal(ghost.status, 400);
    assert.match(errorOf(ghost), /requested model 'ghost' is not available/);
  });
});

describe('repository', () => {
  it('index: JSON array, optional {"ready": bool}; garbage body 400', async () => {
    const r = await http(`${url}/v2/repository/index`, { method: 'POST' });
    assert.equal(r.status, 200);
    assert.deepEqual(json(r), [
      { name: 'classifier', version: '1', state: 'READY' },
      { name: 'simple', version: '1', state: 'READY' },
      { name: 'versions', version: '2', state: 'READY' },
      { name: 'versions', version: '3', state: 'READY' },
    ]);
    const ready = await http(`${url}/v2/repository/index`, { method: 'POST', body: '{"ready":true}' });
    assert.equal((json(ready) as unknown[]).length, 4);
    const bad = await http(`${url}/v2/repository/index`, { method: 'POST', body: '{"ready":' });
    assert.equal(bad.status, 400);
    assert.match(errorOf(bad), /failed to parse/);
    const wrongType = await http(`${url}/v2/repository/index`, { method: 'POST', body: '{"ready":"yes"}' });
    assert.equal(wrongType.status, 400);
  });

  it('load/unload in the default control mode (NONE) → 503; a repository name in the path → 501', async () => {
    for (const path of ['/v2/repository/models/simple/load', '/v2/repository/models/simple/unload']) {
      const r = await http(url + path, { method: 'POST', body: '{}' });
      assert.equal(r.status, 503, path);
      assert.match(errorOf(r), /not allowed/);
    }
    assert.equal((await http(`${url}/v2/repository/other/models/simple/load`, { method: 'POST' })).status, 501);
  });
});

describe('protocol-level answers', () => {
  const notFound = ['/', '/v2/', '/v2/health', '/v2/health/live/', '/v2/models', '/v2/models/simple/versions/x',
    '/v2/models/simple/versions/x/ready', '/v2/models/simple/versions/-1/infer', '/v2/models/simple/versions', '/metrics'];
  for (const path of notFound) {
    it(`unknown path ${path} → 404 {"error":"Not Found"}`, async () => {
      const r = await http(url + path);
      assert.equal(r.status, 404);
      assert.deepEqual(json(r), { error: 'Not Found' });
    });
  }

  const wrongMethod: [string, string][] = [['POST', '/v2/health/live'], ['DELETE', '/v2'], ['GET', '/v2/models/simple/infer'],
    ['PUT', '/v2/models/simple/config'], ['GET', '/v2/repository/index'], ['POST', '/v2/models/stats']];
  for (const [method, path] of wrongMethod) {
    it(`${method} ${path} → 405`, async () => {
      const r = await http(url + path, { method });
      assert.equal(r.status, 405);
      assert.deepEqual(json(r), { error: 'Method Not Allowed' });
    });
  }

  it('the shared memory, trace and logging routes answer; CUDA shared memory register is 501', async () => {
    for (const [method, path, code] of [['GET', '/v2/systemsharedmemory/status', 200], ['POST', '/v2/cudasharedmemory/region/r/register', 501], ['GET', '/v2/trace/setting', 200], ['GET', '/v2/logging', 200]] as const) {
      const r = await http(url + path, { method });
      assert.equal(r.status, code, path);
    }
  });

  it('a percent-encoded model name is decoded', async () => {
    assert.equal((await http(`${url}/v2/models/%73imple/ready`)).status, 200);
  });
});
