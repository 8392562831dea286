/**
 * POST /v2/repository/models/{m}/load|unload over HTTP (PROTOCOL.md §6.6): the same model control
 * as gRPC, with JSON bodies (config as a string, files as base64), and Triton's statuses.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { FIXTURE_MODELS, IDENTITY_FP32_CONFIG, TempRepo } from '../../helpers/repo.js';
import { startServer, type TestServer } from '../../helpers/start-server.js';
import { errorOf, http, json, postJson } from './http-client.js';

const repo = new TempRepo().add('a', { config: IDENTITY_FP32_CONFIG, versions: { 1: 'identity_fp32.onnx' } }).add('b', { config: IDENTITY_FP32_CONFIG, versions: { 1: 'identity_fp32.onnx' } });
after(() => repo.remove());

const inferBody = { inputs: [{ name: 'IN', datatype: 'FP32', shape: [1, 2], data: [5, 6] }] };

describe('explicit model control over HTTP', () => {
  let ts: TestServer;
  let u: string;
  before(async () => {
    ts = await startServer([repo.dir], { modelControlMode: 'explicit', loadModels: ['a'] });
    u = ts.httpUrl;
  });
  after(() => ts.close());

  it('load → ready and served; unload → not ready, 404 on infer; both answer 200 with an empty body', async () => {
    assert.equal((await http(`${u}/v2/models/b/ready`)).status, 400);
    const l = await http(`${u}/v2/repository/models/b/load`, { method: 'POST' });
    assert.deepEqual([l.status, l.body.length], [200, 0]);
    assert.equal((await http(`${u}/v2/models/b/ready`)).status, 200);
    assert.equal((await postJson(`${u}/v2/models/b/infer`, inferBody)).status, 200);
    const un = await http(`${u}/v2/repository/models/b/unload`, { method: 'POST', body: '{"parameters":{"unload_dependents":false}}' });
    assert.deepEqual([un.status, un.body.length], [200, 0]);
    assert.equal((await http(`${u}/v2/models/b/ready`)).status, 400);
    const gone = await postJson(`${u}/v2/models/b/infer`, inferBody);
    assert.equal(gone.status, 404);
    assert.match(errorOf(gone), /no available versions/);
    const idx = json(await http(`${u}/v2/repository/index`, { method: 'POST' })) as { name: string; state: string; reason?: string }[];
    const b = idx.find((m) => m.name === 'b')!;
    assert.deepEqual([b.state, b.reason], ['UNAVAILABLE', 'unloaded']);
  });

  it('a config override (a JSON string) applies to that load', async () => {
    const config = JSON.stringify({ name: 'a', platform: 'onnxruntime_onnx', max_batch_size: 2, input: [{ name: 'IN', data_type: 'TYPE_FP32', dims: [-1] }], output: [{ name: 'OUT', data_type: 'TYPE_FP32', dims: [-1] }] });
    assert.equal((await postJson(`${u}/v2/repository/models/a/load`, { parameters: { config } })).status, 200);
    assert.equal((json(await http(`${u}/v2/models/a/config`)) as { max_batch_size: number }).max_batch_size, 2);
    const bad = await postJson(`${u}/v2/repository/models/a/load`, { parameters: { config: '{"no_such_field": 1}' } });
    assert.equal(bad.status, 400);
    assert.match(errorOf(bad), /^failed to load 'a': Invalid config override: .*no_such_field/);
    assert.equal((await http(`${u}/v2/repository/models/a/load`, { method: 'POST' })).status, 200);
    assert.equal((json(await http(`${u}/v2/models/a/config`)) as { max_batch_size: number }).max_batch_size, 4);
  });

  it('file overrides arrive base64-encoded', async () => {
    const onnx = readFileSync(path.join(FIXTURE_MODELS, 'identity_fp32.onnx')).toString('base64');
    const config = JSON.stringify({ name: 'from_files', platform: 'onnxruntime_onnx', max_batch_size: 4, input: [{ name: 'IN', data_type: 'TYPE_FP32', dims: [-1] }], output: [{ name: 'OUT', data_type: 'TYPE_FP32', dims: [-1] }] });
    assert.equal((await postJson(`${u}/v2/repository/models/from_files/load`, { parameters: { config, 'file:1/model.onnx': onnx } })).status, 200);
    const r = await postJson(`${u}/v2/models/from_files/infer`, inferBody);
    assert.deepEqual((json(r) as { outputs: { data: number[] }[] }).outputs[0]!.data, [5, 6]);
  });

  const bad: [string, string, string, number, RegExp][] = [
    ['unknown load parameter', 'load', '{"parameters":{"x":1}}', 400, /unrecognized load parameter 'x'/],
    ['config not a string', 'load', '{"parameters":{"config":{}}}', 400, /must be a string/],
    ['file not base64', 'load', '{"parameters":{"config":"{}","file:1/model.onnx":"%%%"}}', 400, /base64/],
    ['parameters not an object', 'load', '{"parameters":[]}', 400, /must be a JSON object/],
    ['malformed body', 'load', '{"parameters":', 400, /failed to parse/],
    ['unload_dependents not a boolean', 'unload', '{"parameters":{"unload_dependents":"yes"}}', 400, /boolean/],
    ['unknown unload parameter', 'unload', '{"parameters":{"force":true}}', 400, /unrecognized unload parameter/],
    ['a model not in the repository', 'load', '', 500, /ghost/],
  ];
  for (const [name, action, body, status, re] of bad) {
    it(`${name} → ${status}`, async () => {
      const model = name.startsWith('a model not') ? 'ghost' : 'b';
      const r = await http(`${u}/v2/repository/models/${model}/${action}`, { method: 'POST', body });
      assert.equal(r.status, status, r.body.toString());
      assert.match(errorOf(r), re);
    });
  }

  it('a repository name in the path → 501', async () => {
    const r = await http(`${u}/v2/repository/other/models/b/load`, { method: 'POST' });
    assert.equal(r.status, 501);
  });
});

describe('model control mode NONE', () => {
  it('load and unload → 503 with the reason', async () => {
    const ts = await startServer([repo.dir]);
    try {
      for (const action of ['load', 'unload']) {
        const r = await http(`${ts.httpUrl}/v2/repository/models/a/${action}`, { method: 'POST' });
        assert.equal(r.status, 503);
        assert.match(errorOf(r), /not allowed/);
      }
    } finally {
      await ts.close();
    }
  });
});
