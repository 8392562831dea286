// saved_model.pb reading, signature selection and freezing on TensorFlow's own SavedModels, and
// on garbage: truncated or random files, unknown tags and signatures, unsupported ops.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ROOT } from '../../../helpers/repo.js';
import {
  readSavedModelProto, selectSignature, servableSignatures, selectMetaGraph,
} from '../../../../src/backends/tensorflow/savedmodel/saved-model-reader.js';
import { freezeSignature, UnsupportedOpsError } from '../../../../src/backends/tensorflow/savedmodel/saved-model-freezer.js';
import { decodeSavedModel, TfFormatError } from '../../../../src/backends/tensorflow/savedmodel/tf-proto.js';
import { tfjsSupportedOps } from '../../../../src/backends/tensorflow/tfjs-ops.js';
import { noise } from '../../../helpers/noise.js';

const SAVED = path.join(ROOT, '..', 'shared', 'fixtures', 'tensorflow', 'saved_model');

function copyFixture(name: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'infera-sm-'));
  cpSync(path.join(SAVED, name), dir, { recursive: true });
  return dir;
}

/** Either outcome a garbage file may have: a decode error, or a SavedModel with nothing to serve. */
function assertRejected(bytes: Uint8Array, what: string): void {
  assert.throws(() => {
    const sm = decodeSavedModel(bytes);
    if (sm.metaGraphs.length === 0) throw new TfFormatError('no meta graph');
    selectSignature(sm, 'serve', 'serving_default');
  }, (e: Error) => e instanceof TfFormatError, what);
}

describe('SavedModel fixtures', () => {
  const expected: Record<string, [string, string, string][]> = {
    times_three_float: [['x', 'DT_FLOAT', '[]'], ['output_0', 'DT_FLOAT', '[]']],
    int64_multiply: [['x', 'DT_INT64', '[2]'], ['output_0', 'DT_INT64', '[2]']],
    uint8_multiply: [['x', 'DT_UINT8', '[1]'], ['output_0', 'DT_INT32', '[1]']],
    model_multi_output: [['x', 'DT_INT32', '[]'], ['y', 'DT_INT32', '[]'], ['output_0', 'DT_INT32', '[]'], ['output_1', 'DT_INT32', '[]']],
  };
  for (const [fixture, io] of Object.entries(expected)) {
    it(`${fixture}: serving_default signature`, async () => {
      const sel = selectSignature(await readSavedModelProto(path.join(SAVED, fixture)), 'serve', 'serving_default');
      const got = [...sel.io.inputs, ...sel.io.outputs].map((t) => [t.name, t.sourceType, JSON.stringify(t.shape)]);
      assert.deepEqual(got, io);
    });
  }

  it('every fixture freezes into a graph of supported ops', async () => {
    for (const fixture of readdirSync(SAVED)) {
      const sel = selectSignature(await readSavedModelProto(path.join(SAVED, fixture)), 'serve', 'serving_default');
      const frozen = await freezeSignature(sel, path.join(SAVED, fixture), tfjsSupportedOps());
      const ops = (frozen.artifacts.modelTopology['node'] as { op: string }[]).map((n) => n.op);
      assert.ok(!ops.includes('StatefulPartitionedCall') && !ops.includes('ReadVariableOp'), `${fixture}: ${ops.join(',')}`);
      assert.ok(frozen.variableCount >= 1, fixture);
    }
  });

  it('lists the servable signatures and selects a second one', async () => {
    const sm = await readSavedModelProto(path.join(SAVED, 'module_with_multiple_signatures'));
    assert.deepEqual(servableSignatures(selectMetaGraph(sm, 'serve')), ['serving_default', 'timestwo']);
    assert.equal(selectSignature(sm, 'serve', 'timestwo').io.inputs[0]!.tensor, 'timestwo_x:0');
  });

  it('names the available tags and signatures when the asked ones are missing', async () => {
    const sm = await readSavedModelProto(path.join(SAVED, 'module_with_multiple_signatures'));
    assert.throws(() => selectSignature(sm, 'train', 'serving_default'), /no meta graph is tagged 'train' \(tag sets: \[serve\]\)/);
    assert.throws(() => selectSignature(sm, 'serve', 'nope'), /has no signature 'nope' \(signatures: serving_default, timestwo\)/);
    assert.throws(() => selectSignature(sm, 'serve', '__saved_model_init_op'), /has no signature '__saved_model_init_op'/);
  });
});

describe('SavedModel garbage', () => {
  const pb = readFileSync(path.join(SAVED, 'times_three_float', 'saved_model.pb'));

  it('rejects an empty saved_model.pb', async () => {
    const dir = copyFixture('times_three_float');
    writeFileSync(path.join(dir, 'saved_model.pb'), '');
    await assert.rejects(readSavedModelProto(dir), /saved_model\.pb is empty/);
  });

  it('rejects saved_model.pb truncated at any of 60 points', () => {
    for (let k = 1; k <= 60; k++) assertRejected(pb.subarray(0, Math.floor((pb.length * k) / 61)), `cut ${k}`);
  });

  it('rejects random bytes', () => {
    for (let seed = 1; seed <= 40; seed++) assertRejected(noise(64 + seed * 37, seed), `seed ${seed}`);
  });

  it('lists every op TensorFlow.js cannot run', async () => {
    const dir = copyFixture('uint8_multiply');
    const bad = readFileSync(path.join(dir, 'saved_model.pb'));
    for (const [from, to] of [['Mul', 'Xyz'], ['Cast', 'Qwer']]) {
      const f = Buffer.from([0x12, from.length, ...Buffer.from(from)]);
      for (let at = bad.indexOf(f); at >= 0; at = bad.indexOf(f, at + 1)) Buffer.from([0x12, to.length, ...Buffer.from(to)]).copy(bad, at);
    }
    writeFileSync(path.join(dir, 'saved_model.pb'), bad);
    const sel = selectSignature(await readSavedModelProto(dir), 'serve', 'serving_default');
    await assert.rejects(freezeSignature(sel, dir, tfjsSupportedOps()), (e: Error) => {
      assert.ok(e instanceof UnsupportedOpsError);
      assert.deepEqual(e.ops, ['Qwer', 'Xyz (2 nodes)']);
      return true;
    });
  });

  it('says the variables are missing', async () => {
    const dir = copyFixture('times_two_int');
    rmSync(path.join(dir, 'variables'), { recursive: true });
    const sel = selectSignature(await readSavedModelProto(dir), 'serve', 'serving_default');
    await assert.rejects(freezeSignature(sel, dir, undefined), /missing variables: cannot read the checkpoint/);
  });

  it('says which variable the checkpoint lacks', async () => {
    const dir = copyFixture('times_two_int');
    const other = path.join(SAVED, 'int64_multiply', 'variables');
    cpSync(other, path.join(dir, 'variables'), { recursive: true });
    const sel = selectSignature(await readSavedModelProto(dir), 'serve', 'serving_default');
    await assert.rejects(freezeSignature(sel, dir, undefined), /the checkpoint has no variable 'v\/\.ATTRIBUTES\/VARIABLE_VALUE'/);
  });
});
