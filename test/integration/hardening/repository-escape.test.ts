/**
 * Nothing a config names escapes the repository: default_model_filename, label files and warmup
 * files must stay inside their folder, and symbolic links (version folders, model files, label
 * files) must not lead out of the repository. Refusals read the same whether the outside file
 * exists or not. Links that stay inside the repository still work.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FIXTURE_MODELS, TempRepo } from '../../helpers/repo.js';
import { startServer, type TestServer } from '../../helpers/start-server.js';
import { errorOf, http, json, postJson } from '../http/http-client.js';

const ID = (extra = '', out = '') => `
platform: "onnxruntime_onnx"
max_batch_size: 4
input [ { name: "IN" data_type: TYPE_FP32 dims: [ -1 ] } ]
output [ { name: "OUT" data_type: TYPE_FP32 dims: [ -1 ] ${out} } ]
instance_group [ { count: 1 kind: KIND_CPU } ]
${extra}`;

const outside = mkdtempSync(path.join(tmpdir(), 'infera-outside-'));
const repo = new TempRepo();
const model = (name: string) => path.join(repo.dir, name);
before(() => {
  cpSync(path.join(FIXTURE_MODELS, 'identity_fp32.onnx'), path.join(outside, 'model.onnx'));
  writeFileSync(path.join(outside, 'secret.txt'), 'SECRET-LINE\n');
  mkdirSync(path.join(outside, 'vdir'));
  cpSync(path.join(FIXTURE_MODELS, 'identity_fp32.onnx'), path.join(outside, 'vdir', 'model.onnx'));
  const v1 = { 1: 'identity_fp32.onnx' };
  repo
    .add('file_dotdot', { config: ID('default_model_filename: "../../../outside/model.onnx"'), versions: v1 })
    .add('etc_passwd', { config: ID('default_model_filename: "../../../../../../../../etc/passwd"'), versions: v1 })
    .add('etc_missing', { config: ID('default_model_filename: "../../../../../../../../etc/no-such-file-here"'), versions: v1 })
    .add('abs_file', { config: ID('default_model_filename: "/etc/passwd"'), versions: v1 })
    .add('label_dotdot', { config: ID('', 'label_filename: "../secret.txt"'), versions: v1 })
    .add('label_link', { config: ID('', 'label_filename: "labels.txt"'), versions: v1 })
    .add('label_dangling', { config: ID('', 'label_filename: "labels.txt"'), versions: v1 })
    .add('model_link', { config: ID(), files: { 'placeholder': '' } })
    .add('version_link', { config: ID() })
    .add('inside_link', { config: ID(), versions: v1 })
    .add('warmup_dotdot', { config: ID('model_warmup [ { name: "w" batch_size: 1 inputs { key: "IN" value: { data_type: TYPE_FP32 dims: [ 4 ] input_data_file: "../../secret.txt" } } } ]'), versions: v1 });
  symlinkSync(path.join(outside, 'secret.txt'), path.join(model('label_link'), 'labels.txt'));
  symlinkSync(path.join(outside, 'no-such-labels.txt'), path.join(model('label_dangling'), 'labels.txt'));
  mkdirSync(path.join(model('model_link'), '1'));
  symlinkSync(path.join(outside, 'model.onnx'), path.join(model('model_link'), '1', 'model.onnx'));
  symlinkSync(path.join(outside, 'vdir'), path.join(model('version_link'), '1'));
  mkdirSync(path.join(model('inside_link'), '2'));
  symlinkSync(path.join('..', '1', 'model.onnx'), path.join(model('inside_link'), '2', 'model.onnx'));
});
after(() => {
  repo.remove();
  rmSync(outside, { recursive: true, force: true });
});

interface IndexEntry { name: string; version?: string; state: string; reason?: string }

describe('paths taken from a config stay inside the repository', () => {
  let ts: TestServer;
  let index: IndexEntry[];
  const reason = (name: string) => {
    const rows = index.filter((e) => e.name === name);
    assert.ok(rows.length > 0, `no index entry for ${name}`);
    assert.ok(rows.every((e) => e.state === 'UNAVAILABLE'), `${name}: ${JSON.stringify(rows)}`);
    return rows.map((e) => e.reason ?? '').join(' | ');
  };
  before(async () => {
    ts = await startServer([repo.dir], { allowGrpc: false, allowMetrics: false, modelControlMode: 'explicit', loadModels: ['*'] });
    index = json(await http(`${ts.httpUrl}/v2/repository/index`, { method: 'POST' })) as IndexEntry[];
  });
  after(() => ts.close());

  it('default_model_filename with .. or an absolute path is refused before any file is opened', () => {
    assert.match(reason('file_dotdot'), /default_model_filename '\.\.\/\.\.\/\.\.\/outside\/model\.onnx' of model 'file_dotdot' is not a path inside the model's '1' folder/);
    assert.match(reason('abs_file'), /default_model_filename '\/etc\/passwd' of model 'abs_file' is not a path inside/);
  });

  it('a refusal does not tell whether the outside file exists', () => {
    const exists = reason('etc_passwd').replace(/passwd|etc_passwd/g, 'X');
    const missing = reason('etc_missing').replace(/no-such-file-here|etc_missing/g, 'X');
    assert.equal(exists, missing);
  });

  it('label and warmup files must stay inside their folders', () => {
    assert.match(reason('label_dotdot'), /label_filename '\.\.\/secret\.txt' must be a path inside the model directory/);
    assert.match(reason('warmup_dotdot'), /warmup file of warmup 'w' '\.\.\/\.\.\/secret\.txt' of model 'warmup_dotdot' is not a path inside the model's 'warmup' folder/);
  });

  it('symbolic links out of the repository are refused, dangling or not, and never read', () => {
    for (const name of ['label_link', 'label_dangling']) {
      assert.match(reason(name), new RegExp(`label file of output 'OUT' 'labels.txt' of model '${name}' leads outside the model repository through a symbolic link`));
      assert.doesNotMatch(reason(name), /SECRET/);
    }
    assert.match(reason('model_link'), /default_model_filename 'model\.onnx' of model 'model_link' leads outside the model repository/);
    assert.match(reason('version_link'), /of model 'version_link' leads outside the model repository through a symbolic link/);
  });

  it('a link that stays inside the repository loads and serves', async () => {
    const rows = index.filter((e) => e.name === 'inside_link');
    assert.deepEqual(rows.map((e) => [e.version, e.state]), [['2', 'READY']]);
    const r = await postJson(`${ts.httpUrl}/v2/models/inside_link/versions/2/infer`, { inputs: [{ name: 'IN', datatype: 'FP32', shape: [1, 2], data: [5, 6] }] });
    assert.equal(r.status, 200);
  });

  it("a load request's config override cannot point outside either", async () => {
    const config = JSON.stringify({ platform: 'onnxruntime_onnx', default_model_filename: '../../../outside/model.onnx' });
    const r = await http(`${ts.httpUrl}/v2/repository/models/inside_link/load`, { method: 'POST', body: JSON.stringify({ parameters: { config } }) });
    assert.equal(r.status, 500, errorOf(r)); // a failed load is INTERNAL, as Triton's
    assert.match(errorOf(r), /default_model_filename '\.\.\/\.\.\/\.\.\/outside\/model\.onnx' of model 'inside_link' is not a path inside/);
  });
});
