/**
 * Repository-level behaviour through the real server: several repositories, duplicate names,
 * strict model config (no auto-complete), version policies.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TempRepo } from '../../helpers/repo.js';
import { call, startServer } from '../../helpers/start-server.js';

const ID = (extra = '') => `
platform: "onnxruntime_onnx"
max_batch_size: 4
input [ { name: "IN" data_type: TYPE_FP32 dims: [ -1 ] } ]
output [ { name: "OUT" data_type: TYPE_FP32 dims: [ -1 ] } ]
${extra}`;

const repos: TempRepo[] = [];
after(() => repos.forEach((r) => r.remove()));
const repo = () => {
  const r = new TempRepo();
  repos.push(r);
  return r;
};

async function index(repoDirs: string[], extra: Parameters<typeof startServer>[1] = {}) {
  const ts = await startServer(repoDirs, extra);
  try {
    return (await call(ts.client.RepositoryIndex.bind(ts.client), { repository_name: '', ready: false })).models;
  } finally {
    await ts.close();
  }
}

describe('several repositories', () => {
  it('serves models from every repository; a name in two of them is UNAVAILABLE', async () => {
    const a = repo().add('only_a', { config: ID(), versions: { 1: 'identity_fp32.onnx' } }).add('twice', { config: ID(), versions: { 1: 'identity_fp32.onnx' } });
    const b = repo().add('only_b', { config: ID(), versions: { 1: 'identity_fp32.onnx' } }).add('twice', { config: ID(), versions: { 1: 'identity_fp32.onnx' } });
    const models = await index([a.dir, b.dir]);
    const state = Object.fromEntries(models.map((m) => [m.name, m.state]));
    assert.deepEqual(state, { only_a: 'READY', only_b: 'READY', twice: 'UNAVAILABLE' });
    assert.match(models.find((m) => m.name === 'twice')!.reason, /several repositories/);
  });
});

describe('--strict-model-config', () => {
  it('a model without config.pbtxt is UNAVAILABLE and a partial config is rejected', async () => {
    const r = repo()
      .add('no_config', { versions: { 1: 'identity_fp32.onnx' } })
      .add('partial', { config: 'platform: "onnxruntime_onnx"\nmax_batch_size: 4', versions: { 1: 'identity_fp32.onnx' } })
      .add('complete', { config: ID(), versions: { 1: 'identity_fp32.onnx' } });
    const strict = await index([r.dir], { autoCompleteConfig: false });
    const by = (n: string) => strict.find((m) => m.name === n)!;
    assert.equal(by('complete').state, 'READY');
    assert.equal(by('no_config').state, 'UNAVAILABLE');
    assert.match(by('no_config').reason, /no config\.pbtxt/);
    assert.equal(by('partial').state, 'UNAVAILABLE');
    const loose = await index([r.dir]);
    assert.ok(loose.every((m) => m.state === 'READY'), JSON.stringify(loose));
  });
});

describe('version policies', () => {
  const versions = { 1: 'identity_fp32.onnx', 2: 'identity_fp32.onnx', 3: 'identity_fp32.onnx' };
  const cases: [string, string, string[]][] = [
    ['default (latest 1)', '', ['3']],
    ['latest 2', 'version_policy: { latest: { num_versions: 2 } }', ['2', '3']],
    ['all', 'version_policy: { all: {} }', ['1', '2', '3']],
    ['specific, one missing', 'version_policy: { specific: { versions: [1, 3, 7] } }', ['1', '3']],
  ];
  for (const [name, policy, expected] of cases) {
    it(name, async () => {
      const r = repo().add('m', { config: ID(policy), versions });
      const models = await index([r.dir]);
      assert.deepEqual(models.map((m) => m.version), expected);
      assert.ok(models.every((m) => m.state === 'READY'));
    });
  }
  it('a policy that selects nothing makes the model UNAVAILABLE with Triton\'s reason', async () => {
    const r = repo().add('m', { config: ID('version_policy: { specific: { versions: [9] } }'), versions });
    const [m] = await index([r.dir]);
    assert.equal(m!.state, 'UNAVAILABLE');
    assert.match(m!.reason, /at least one version must be available under the version policy of model 'm'/);
  });
});
