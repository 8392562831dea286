/**
 * Model control (issue 7): explicit / none / poll modes, load and unload over gRPC, config and
 * file overrides, path-escape refusals, failed reloads keeping the old version, reloads under
 * steady traffic without a failed request, warmup gating readiness.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { status, type ServiceError } from '@grpc/grpc-js';
import { FIXTURE_MODELS, TempRepo } from '../../helpers/repo.js';
import { call, startServer, type TestServer } from '../../helpers/start-server.js';
import type { ModelRepositoryParameter } from '../../../src/generated/inference/ModelRepositoryParameter.js';

const ID = (extra = '') => `
platform: "onnxruntime_onnx"
max_batch_size: 4
input [ { name: "IN" data_type: TYPE_FP32 dims: [ -1 ] } ]
output [ { name: "OUT" data_type: TYPE_FP32 dims: [ -1 ] } ]
instance_group [ { count: 1 kind: KIND_CPU } ]
${extra}`;

const repos: TempRepo[] = [];
after(() => repos.forEach((r) => r.remove()));
function repo(): TempRepo {
  const r = new TempRepo();
  repos.push(r);
  return r;
}

const load = (ts: TestServer, name: string, parameters: Record<string, ModelRepositoryParameter> = {}) =>
  call(ts.client.RepositoryModelLoad.bind(ts.client), { repository_name: '', model_name: name, parameters });
const unload = (ts: TestServer, name: string, parameters: Record<string, ModelRepositoryParameter> = {}) =>
  call(ts.client.RepositoryModelUnload.bind(ts.client), { repository_name: '', model_name: name, parameters });
const index = async (ts: TestServer) =>
  (await call(ts.client.RepositoryIndex.bind(ts.client), { repository_name: '', ready: false })).models;
const fails = (code: status, re: RegExp) => (e: ServiceError) => {
  assert.equal(e.code, code, `expected ${status[code]}, got ${status[e.code]}: ${e.details}`);
  assert.match(e.details, re);
  return true;
};

function inferId(ts: TestServer, model: string, values = [1, 2]) {
  return call(ts.client.ModelInfer.bind(ts.client), {
    model_name: model,
    inputs: [{ name: 'IN', datatype: 'FP32', shape: [1, values.length] }],
    raw_input_contents: [Buffer.from(new Float32Array(values).buffer)],
  });
}

describe('explicit mode', () => {
  let ts: TestServer;
  const r = repo()
    .add('a', { config: ID(), versions: { 1: 'identity_fp32.onnx' } })
    .add('b', { config: ID(), versions: { 1: 'identity_fp32.onnx' } })
    .add('broken', { config: ID(), versions: { 1: 'invalid.onnx' } });
  before(async () => {
    ts = await startServer([r.dir], { modelControlMode: 'explicit', loadModels: ['a'] });
  });
  after(() => ts.close());

  it('loads only --load-model at startup; the rest are listed as unloaded and the server is ready', async () => {
    const models = await index(ts);
    assert.deepEqual(models.map((m) => [m.name, m.state]), [['a', 'READY'], ['b', 'UNAVAILABLE'], ['broken', 'UNAVAILABLE']]);
    assert.equal(models[1]!.reason, 'unloaded');
    assert.equal((await call(ts.client.ServerReady.bind(ts.client), {})).ready, true);
  });

  it('loads and unloads through the API', async () => {
    await load(ts, 'b');
    assert.equal((await call(ts.client.ModelReady.bind(ts.client), { name: 'b', version: '' })).ready, true);
    await inferId(ts, 'b');
    await unload(ts, 'b');
    assert.equal((await call(ts.client.ModelReady.bind(ts.client), { name: 'b', version: '' })).ready, false);
    await assert.rejects(inferId(ts, 'b'), fails(status.NOT_FOUND, /no available versions/));
    const m = (await index(ts)).find((x) => x.name === 'b')!;
    assert.deepEqual([m.state, m.reason], ['UNAVAILABLE', 'unloaded']);
  });

  it('a failed load answers INTERNAL with the reason; unknown names and bad parameters are refused', async () => {
    await assert.rejects(load(ts, 'broken'), fails(status.INTERNAL, /failed to load 'broken'/));
    await assert.rejects(load(ts, 'ghost'), fails(status.INTERNAL, /failed to poll from model repository/));
    await assert.rejects(load(ts, 'a', { bogus: { bool_param: true } }), fails(status.INVALID_ARGUMENT, /unrecognized load parameter 'bogus'/));
    await assert.rejects(call(ts.client.RepositoryModelLoad.bind(ts.client), { repository_name: 'x', model_name: 'a' }), fails(status.UNIMPLEMENTED, /repository_name/));
  });

  it('a config override replaces config.pbtxt for that load; invalid JSON or fields are INVALID_ARGUMENT', async () => {
    const config = JSON.stringify({ name: 'a', platform: 'onnxruntime_onnx', max_batch_size: 2, input: [{ name: 'IN', data_type: 'TYPE_FP32', dims: [-1] }], output: [{ name: 'OUT', data_type: 'TYPE_FP32', dims: [-1] }], instance_group: [{ count: 1, kind: 'KIND_CPU' }] });
    await load(ts, 'a', { config: { string_param: config } });
    const { config: cfg } = await call(ts.client.ModelConfig.bind(ts.client), { name: 'a', version: '' });
    assert.equal(cfg!.max_batch_size, 2);
    await load(ts, 'a'); // without an override the on-disk config is back
    assert.equal((await call(ts.client.ModelConfig.bind(ts.client), { name: 'a', version: '' })).config!.max_batch_size, 4);
    await assert.rejects(load(ts, 'a', { config: { string_param: '{"max_batch_size": ' } }), fails(status.INVALID_ARGUMENT, /^failed to load 'a': Invalid config override: unexpected end of JSON/));
    await assert.rejects(load(ts, 'a', { config: { string_param: '{"no_such_field": 1}' } }), fails(status.INVALID_ARGUMENT, /^failed to load 'a': Invalid config override: .*no_such_field/));
  });

  it('file overrides load a model from the request into a private folder', async () => {
    const onnx = readFileSync(path.join(FIXTURE_MODELS, 'identity_fp32.onnx'));
    const config = JSON.stringify({ name: 'from_files', platform: 'onnxruntime_onnx', max_batch_size: 4, input: [{ name: 'IN', data_type: 'TYPE_FP32', dims: [-1] }], output: [{ name: 'OUT', data_type: 'TYPE_FP32', dims: [-1] }] });
    await load(ts, 'from_files', { config: { string_param: config }, 'file:1/model.onnx': { bytes_param: onnx } });
    const res = await inferId(ts, 'from_files', [5, 6]);
    const out = res.raw_output_contents[0]!;
    assert.deepEqual([...new Float32Array(out.buffer.slice(out.byteOffset, out.byteOffset + 8))], [5, 6]);
    await assert.rejects(load(ts, 'x', { 'file:1/model.onnx': { bytes_param: onnx } }), fails(status.INVALID_ARGUMENT, /'config' must be specified/));
  });

  for (const key of ['file:../../etc/passwd', 'file:1/../../x', 'file:/abs/model.onnx', 'file:model.onnx']) {
    it(`refuses the file override '${key}' with INVALID_ARGUMENT`, async () => {
      const config = JSON.stringify({ name: 'esc', platform: 'onnxruntime_onnx' });
      await assert.rejects(load(ts, 'esc', { config: { string_param: config }, [key]: { bytes_param: Buffer.from('x') } }), fails(status.INVALID_ARGUMENT, /invalid file override/));
    });
  }

  for (const name of ['../a', '..', 'a/b', '/etc']) {
    it(`refuses the model name '${name}' with INVALID_ARGUMENT`, async () => {
      await assert.rejects(load(ts, name), fails(status.INVALID_ARGUMENT, /invalid model name/));
    });
  }

  it('refuses a model folder that is a symbolic link out of the repository', async () => {
    const outside = path.join(tmpdir(), `infera-outside-${process.pid}`);
    mkdirSync(path.join(outside, '1'), { recursive: true });
    writeFileSync(path.join(outside, 'config.pbtxt'), ID());
    cpSync(path.join(FIXTURE_MODELS, 'identity_fp32.onnx'), path.join(outside, '1', 'model.onnx'));
    symlinkSync(outside, path.join(r.dir, 'linked'));
    try {
      await assert.rejects(load(ts, 'linked'), fails(status.INVALID_ARGUMENT, /symbolic link/));
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });
});

describe('control modes none and poll refuse the load/unload API', () => {
  it('none → UNAVAILABLE', async () => {
    const ts = await startServer([repo().add('a', { config: ID(), versions: { 1: 'identity_fp32.onnx' } }).dir]);
    try {
      await assert.rejects(load(ts, 'a'), fails(status.UNAVAILABLE, /not allowed/));
      await assert.rejects(unload(ts, 'a'), fails(status.UNAVAILABLE, /not allowed/));
    } finally {
      await ts.close();
    }
  });
});

describe('reloads', () => {
  it('a failed reload keeps the old version serving and reports why', async () => {
    const r = repo().add('m', { config: ID(), versions: { 1: 'identity_fp32.onnx' } });
    const ts = await startServer([r.dir], { modelControlMode: 'explicit', loadModels: ['*'] });
    try {
      cpSync(path.join(FIXTURE_MODELS, 'invalid.onnx'), path.join(r.dir, 'm', '1', 'model.onnx'));
      await assert.rejects(load(ts, 'm'), fails(status.INTERNAL, /failed to load 'm'/));
      await inferId(ts, 'm');
      const m = (await index(ts)).find((x) => x.name === 'm')!;
      assert.equal(m.state, 'READY');
    } finally {
      await ts.close();
    }
  });

  it('20 reloads under a steady stream of requests fail no request', async () => {
    const r = repo().add('m', { config: ID(), versions: { 1: 'identity_fp32.onnx' } });
    const ts = await startServer([r.dir], { modelControlMode: 'explicit', loadModels: ['m'] });
    try {
      let stop = false;
      let ok = 0;
      const failures: string[] = [];
      const clients = Array.from({ length: 4 }, async () => {
        while (!stop) {
          await inferId(ts, 'm').then(() => ok++, (e: ServiceError) => failures.push(e.details));
        }
      });
      try {
        for (let i = 0; i < 20; i++) await load(ts, 'm');
      } finally {
        stop = true; // also when a reload fails: the clients must not outlive the test
        await Promise.all(clients);
      }
      assert.deepEqual(failures, []);
      assert.ok(ok > 20, `only ${ok} requests completed`);
    } finally {
      await ts.close();
    }
  });
});

describe('poll mode', () => {
  it('picks up a new version folder, a new model, and a removed model', async () => {
    const r = repo().add('m', { config: ID('version_policy: { all: {} }'), versions: { 1: 'identity_fp32.onnx' } });
    const ts = await startServer([r.dir], { modelControlMode: 'poll', repositoryPollSecs: 1 });
    try {
      assert.deepEqual((await index(ts)).map((m) => [m.name, m.version]), [['m', '1']]);
      r.add('m', { versions: { 2: 'identity_fp32.onnx' } }).add('n', { config: ID(), versions: { 1: 'identity_fp32.onnx' } });
      await waitFor(async () => (await index(ts)).filter((m) => m.state === 'READY').length === 3);
      assert.deepEqual((await index(ts)).map((m) => [m.name, m.version]), [['m', '1'], ['m', '2'], ['n', '1']]);
      rmSync(path.join(r.dir, 'n'), { recursive: true });
      await waitFor(async () => !(await index(ts)).some((m) => m.name === 'n'));
      await inferId(ts, 'm');
    } finally {
      await ts.close();
    }
  });
});

describe('warmup', () => {
  it('a model whose warmup fails never becomes READY; one whose warmup runs is READY', async () => {
    const warm = (dims: string) => `model_warmup [ { name: "w" batch_size: 2 count: 2 inputs { key: "IN" value: { data_type: TYPE_FP32 dims: [ ${dims} ] zero_data: true } } } ]`;
    // runtime_error.onnx reshapes IN to [-1, 3]: it runs on 3 columns and fails on 4.
    const cfg = (dims: string) => ID(warm(dims)).replace('output [ { name: "OUT" data_type: TYPE_FP32 dims: [ -1 ] } ]', 'output [ { name: "OUT" data_type: TYPE_FP32 dims: [ 3 ] } ]');
    const r = repo()
      .add('good', { config: cfg('3'), versions: { 1: 'runtime_error.onnx' } })
      .add('bad', { config: cfg('4'), versions: { 1: 'runtime_error.onnx' } });
    const ts = await startServer([r.dir]);
    try {
      const models = await index(ts);
      assert.equal(models.find((m) => m.name === 'good')!.state, 'READY');
      const bad = models.find((m) => m.name === 'bad')!;
      assert.equal(bad.state, 'UNAVAILABLE');
      assert.match(bad.reason, /warmup 'w' of model 'bad' failed/);
      const { model_stats } = await call(ts.client.ModelStatistics.bind(ts.client), { name: 'good', version: '' });
      assert.equal(model_stats[0]!.execution_count, 0, 'warmup runs are not inference statistics');
    } finally {
      await ts.close();
    }
  });
});

async function waitFor(cond: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.fail('condition not met in time');
}
