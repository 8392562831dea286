// Broken TensorFlow models (truncated or random saved_model.pb, missing or corrupt variables, an op
// TensorFlow.js cannot run, an unknown signature, broken model.json) fail to load with a reason
// that names the model and the problem, while the server keeps serving the good model beside them.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { status, type ServiceError } from '@grpc/grpc-js';
import { TempRepo } from '../../helpers/repo.js';
import { call, startServer, type TestServer } from '../../helpers/start-server.js';
import type { ModelInferRequest } from '../../../src/generated/inference/ModelInferRequest.js';
import type { ModelInferResponse__Output } from '../../../src/generated/inference/ModelInferResponse.js';
import type { RepositoryIndexResponse__Output } from '../../../src/generated/inference/RepositoryIndexResponse.js';
import { addSavedModel, addTfjsModel, f32, ONE_INSTANCE, raw, readFixture } from './tf-fixtures.js';
import { noise } from '../../helpers/noise.js';

const repo = new TempRepo();
let ts: TestServer;

/** saved_model.pb with every `op: "Mul"` (NodeDef field 2, length 3) renamed to an op no one has. */
function withUnknownOp(pb: Buffer): Buffer {
  const from = Buffer.from([0x12, 0x03, ...Buffer.from('Mul')]);
  const to = Buffer.from([0x12, 0x03, ...Buffer.from('Xyz')]);
  const out = Buffer.from(pb);
  let at = out.indexOf(from);
  assert.ok(at >= 0, 'fixture has a Mul node');
  for (; at >= 0; at = out.indexOf(from, at + 1)) to.copy(out, at);
  return out;
}

before(async () => {
  addSavedModel(repo, 'good', 'times_three_float', ONE_INSTANCE);
  const pb = readFixture('saved_model', 'times_three_float', 'saved_model.pb');
  const truncated = addSavedModel(repo, 'truncated_pb', 'times_three_float', ONE_INSTANCE);
  writeFileSync(path.join(truncated, 'saved_model.pb'), pb.subarray(0, Math.floor(pb.length / 2)));
  const random = addSavedModel(repo, 'random_pb', 'times_three_float', ONE_INSTANCE);
  writeFileSync(path.join(random, 'saved_model.pb'), noise(4096, 12345));
  const noVars = addSavedModel(repo, 'missing_variables', 'times_three_float', ONE_INSTANCE);
  rmSync(path.join(noVars, 'variables'), { recursive: true });
  const badIndex = addSavedModel(repo, 'corrupt_index', 'times_three_float', ONE_INSTANCE);
  const index = readFixture('saved_model', 'times_three_float', 'variables', 'variables.index');
  writeFileSync(path.join(badIndex, 'variables', 'variables.index'), index.subarray(0, index.length - 10));
  const unknownOp = addSavedModel(repo, 'unknown_op', 'times_three_float', ONE_INSTANCE);
  writeFileSync(path.join(unknownOp, 'saved_model.pb'), withUnknownOp(pb));
  addSavedModel(repo, 'bad_signature', 'times_three_float',
    `${ONE_INSTANCE}parameters { key: "TF_SIGNATURE_DEF" value: { string_value: "nope" } }\n`);
  const badJson = addTfjsModel(repo, 'bad_model_json', 'graph_model');
  writeFileSync(path.join(badJson, 'model.json'), '{"format": "graph-model", "modelTopology": {"node": [');
  const noWeights = addTfjsModel(repo, 'missing_weights', 'graph_model');
  rmSync(path.join(noWeights, 'weights.bin'));
  ts = await startServer([repo.dir]);
});
after(async () => {
  await ts?.close();
  repo.remove();
});

async function reasons(): Promise<Record<string, string>> {
  const idx = await call<object, RepositoryIndexResponse__Output>(ts.client.RepositoryIndex.bind(ts.client), {});
  return Object.fromEntries(idx.models.map((m) => [m.name, `${m.state}: ${m.reason}`]));
}

const infer = (req: ModelInferRequest): Promise<ModelInferResponse__Output> =>
  call<ModelInferRequest, ModelInferResponse__Output>(ts.client.ModelInfer.bind(ts.client), req);

describe('broken TensorFlow models give clear load errors', () => {
  const cases: [string, RegExp][] = [
    ['truncated_pb', /model 'truncated_pb'.*saved_model\.pb|not a valid SavedModel protobuf/],
    ['random_pb', /model 'random_pb'.*(not a valid SavedModel protobuf|holds no meta graph|no meta graph is tagged 'serve')/],
    ['missing_variables', /model 'missing_variables' version 1.*missing variables: cannot read the checkpoint/],
    ['corrupt_index', /model 'corrupt_index' version 1.*variables\/variables\.index: (bad table magic|file is)/],
    ['unknown_op', /model 'unknown_op' version 1.*signature 'serving_default' uses ops that TensorFlow\.js cannot run: Xyz/],
    ['bad_signature', /model 'bad_signature'.*has no signature 'nope' \(signatures: serving_default\)/],
    ['bad_model_json', /model 'bad_model_json'.*model\.json is not valid JSON/],
    ['missing_weights', /model 'missing_weights'.*cannot read weight file 'weights\.bin'/],
  ];
  for (const [name, why] of cases) {
    it(`${name} is UNAVAILABLE with a reason naming the problem`, async () => {
      const r = (await reasons())[name];
      assert.ok(r !== undefined, `${name} is not in the repository index`);
      assert.match(r, /^UNAVAILABLE: /);
      assert.match(r, why);
    });
  }

  it('an inference on a broken model is refused', async () => {
    await assert.rejects(
      infer({ model_name: 'unknown_op', inputs: [{ name: 'x', datatype: 'FP32', shape: [1] }], raw_input_contents: [raw(new Float32Array([1]))] }),
      (e: ServiceError) => e.code === status.UNAVAILABLE || e.code === status.NOT_FOUND,
    );
  });

  it('the good model beside them keeps serving', async () => {
    assert.match((await reasons())['good']!, /^READY/);
    const res = await infer({ model_name: 'good', inputs: [{ name: 'x', datatype: 'FP32', shape: [1] }], raw_input_contents: [raw(new Float32Array([2]))] });
    assert.deepEqual(f32(res.raw_output_contents[0]!), [6]);
  });
});
