// model.json reading on the TF.js fixtures and on garbage: every bad file is a TfFormatError that
// says what is wrong.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ROOT } from '../../../helpers/repo.js';
import { graphModelIo, readTfjsModel } from '../../../../src/backends/tensorflow/tfjs/tfjs-model-json.js';
import { TfFormatError } from '../../../../src/backends/tensorflow/savedmodel/tf-proto.js';

const TFJS = path.join(ROOT, '..', 'shared', 'fixtures', 'tensorflow', 'tfjs');

function withModelJson(text: string | Uint8Array, fixture = 'graph_model'): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'infera-tfjs-'));
  cpSync(path.join(TFJS, fixture), dir, { recursive: true });
  writeFileSync(path.join(dir, 'model.json'), text);
  return path.join(dir, 'model.json');
}

async function rejects(file: string, why: RegExp): Promise<void> {
  await assert.rejects(readTfjsModel(file), (e: Error) => e instanceof TfFormatError && why.test(e.message));
}

describe('readTfjsModel on the fixtures', () => {
  it('reads the graph model and its signature', async () => {
    for (const f of ['model.json', 'model_new.json']) {
      const m = await readTfjsModel(path.join(TFJS, 'graph_model', f));
      assert.equal(m.format, 'graph-model');
      assert.equal(m.weightData.byteLength, 16);
      const io = graphModelIo(m);
      assert.deepEqual(io.inputs.map((i) => [i.name, i.tensor, i.datatype, i.shape]), [['Placeholder', 'Placeholder:0', 'FP32', [2, 2]]]);
      assert.deepEqual(io.outputs.map((o) => [o.name, o.tensor]), [['MatMul', 'MatMul:0']]);
    }
  });

  it('reads the layers model', async () => {
    const m = await readTfjsModel(path.join(TFJS, 'layers_model', 'model.json'));
    assert.equal(m.format, 'layers-model');
    assert.equal(m.weightSpecs.length, 4);
  });
});

describe('readTfjsModel on garbage', () => {
  const graph = JSON.parse(JSON.stringify({ format: 'graph-model', modelTopology: { node: [] } }));
  const cases: [string, string | Uint8Array, RegExp][] = [
    ['truncated JSON', '{"format": "graph-model", "modelTopology": {"node": [', /model\.json is not valid JSON/],
    ['random bytes', new Uint8Array([0xff, 0x00, 0x13, 0x37, 0x80]), /model\.json is not valid JSON/],
    ['an empty file', '', /model\.json is not valid JSON/],
    ['a JSON array', '[1,2]', /no "modelTopology" object/],
    ['an unknown format', JSON.stringify({ ...graph, format: 'saved-model' }), /format 'saved-model'/],
    ['a graph without nodes', JSON.stringify({ format: 'graph-model', modelTopology: {} }), /no "node" array/],
    ['a manifest that is not an array', JSON.stringify({ ...graph, weightsManifest: {} }), /weightsManifest must be an array/],
    ['a path outside the folder', JSON.stringify({ ...graph, weightsManifest: [{ paths: ['../../etc/passwd'], weights: [] }] }), /points outside the model folder/],
    ['an absolute path', JSON.stringify({ ...graph, weightsManifest: [{ paths: ['/etc/passwd'], weights: [] }] }), /must be a relative file path/],
    ['a missing weight file', JSON.stringify({ ...graph, weightsManifest: [{ paths: ['nope.bin'], weights: [] }] }), /cannot read weight file 'nope\.bin'/],
    ['a bad weight entry', JSON.stringify({ ...graph, weightsManifest: [{ paths: ['weights.bin'], weights: [{ name: 'w', shape: [-1], dtype: 'float32' }] }] }), /weight 0 needs/],
    ['weights of the wrong size', JSON.stringify({ ...graph, weightsManifest: [{ paths: ['weights.bin'], weights: [{ name: 'w', shape: [3, 3], dtype: 'float32' }] }] }), /hold 16 bytes but model\.json's weights need 36/],
    ['an unsupported weight dtype', JSON.stringify({ ...graph, weightsManifest: [{ paths: ['weights.bin'], weights: [{ name: 'w', shape: [2], dtype: 'float64' }] }] }), /unsupported dtype 'float64'/],
  ];
  for (const [what, text, why] of cases) it(`rejects ${what}`, () => rejects(withModelJson(text), why));
});
