// The committed model-repository/ and test/fixtures/models/ must be exactly
// what `npm run gen:models` writes, and the example models must compute what
// their configs promise when run in onnxruntime-node.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';

/** Compiled tests live in dist/test/...; the project root holds package.json. */
function findProjectRoot(start: string): string {
  let dir = start;
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${start}`);
    dir = parent;
  }
  return dir;
}

const ROOT = findProjectRoot(dirname(new URL(import.meta.url).pathname));
const REPO = join(ROOT, 'model-repository');
const GENERATOR = join(ROOT, 'scripts', 'generate-models.mjs');
const OWN_MODELS = [
  'simple', 'simple_string', 'classifier', 'fp16_scale', 'autocomplete_add',
  'preprocess', 'branch_a', 'branch_b', 'combine', 'pipeline',
];
/** Models without an ONNX file of their own (ensembles). */
const ENSEMBLES = ['pipeline'];

/** Relative POSIX paths of every file under `dir`. */
function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const entry of readdirSync(d)) {
      const full = join(d, entry);
      if (statSync(full).isDirectory()) walk(full);
      else out.push(relative(dir, full).split(sep).join('/'));
    }
  };
  walk(dir);
  return out.sort();
}

function runGenerator(args: string[]): { status: number | null; stderr: string } {
  const result = spawnSync(process.execPath, [GENERATOR, ...args], { encoding: 'utf8' });
  return { status: result.status, stderr: result.stderr };
}

function session(model: string): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(join(REPO, model, '1', 'model.onnx'), { intraOpNumThreads: 1 });
}

describe('generate-models', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'infera-gen-models-'));
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('reproduces the committed repository models and fixtures byte for byte', () => {
    const { status, stderr } = runGenerator([tmp]);
    assert.equal(status, 0, stderr);
    const folders = [
      ...OWN_MODELS.map((m) => `model-repository/${m}`),
      'test/fixtures/models',
    ];
    for (const folder of folders) {
      const generated = listFiles(join(tmp, folder));
      assert.ok(generated.length > 0, `${folder} was not generated`);
      assert.deepEqual(listFiles(join(ROOT, folder)), generated, `${folder}: committed file list differs`);
      for (const file of generated) {
        const expected = readFileSync(join(tmp, folder, file));
        const actual = readFileSync(join(ROOT, folder, file));
        assert.ok(expected.equals(actual), `${folder}/${file} differs; run npm run gen:models`);
      }
    }
  });

  it('rejects options it does not know and writes nothing', () => {
    const target = join(tmp, 'not-written');
    const { status, stderr } = runGenerator(['--force', target]);
    assert.equal(status, 2);
    assert.match(stderr, /usage/);
    assert.equal(existsSync(target), false);
  });

  it('keeps the generated repository models under 200 KB', () => {
    const bytes = OWN_MODELS.flatMap((m) => listFiles(join(REPO, m)).map((f) => statSync(join(REPO, m, f)).size));
    assert.ok(bytes.reduce((a, b) => a + b, 0) < 200 * 1024);
  });

  it('declares in each config.pbtxt exactly the tensors the ONNX model has', async () => {
    for (const model of OWN_MODELS.filter((m) => m !== 'autocomplete_add' && !ENSEMBLES.includes(m))) {
      const config = readFileSync(join(REPO, model, 'config.pbtxt'), 'utf8');
      const names = [...config.matchAll(/^\s+name: "([^"]+)"$/gm)].map((m) => m[1]);
      const s = await session(model);
      assert.deepEqual(names, [...s.inputNames, ...s.outputNames], model);
      assert.match(config, new RegExp(`^name: "${model}"$`, 'm'));
      await s.release();
    }
  });
});

describe('model-repository models in onnxruntime-node', () => {
  it('simple adds and subtracts INT32 [batch, 16]', async () => {
    const s = await session('simple');
    const a = Int32Array.from({ length: 32 }, (_, i) => i - 5);
    const b = Int32Array.from({ length: 32 }, (_, i) => 2 * i + 1);
    const out = await s.run({ INPUT0: new ort.Tensor('int32', a, [2, 16]), INPUT1: new ort.Tensor('int32', b, [2, 16]) });
    assert.deepEqual(out.OUTPUT0.dims, [2, 16]);
    assert.deepEqual(Array.from(out.OUTPUT0.data as Int32Array), Array.from(a, (v, i) => v + b[i]));
    assert.deepEqual(Array.from(out.OUTPUT1.data as Int32Array), Array.from(a, (v, i) => v - b[i]));
    await s.release();
  });

  it('simple_string echoes strings and upper-cases ASCII letters', async () => {
    const s = await session('simple_string');
    const input = ['hello', 'World 42', '', 'ünï', 'a', 'b', 'c', 'MiXeD'];
    const out = await s.run({ INPUT0: new ort.Tensor('string', input, [2, 4]) });
    assert.deepEqual(out.OUTPUT0.data, input);
    assert.deepEqual(out.OUTPUT1.data, ['HELLO', 'WORLD 42', '', 'üNï', 'A', 'B', 'C', 'MIXED']);
    assert.deepEqual(out.OUTPUT1.dims, [2, 4]);
    await s.release();
  });

  it('classifier returns probabilities that sum to 1 and favour the one-hot class', async () => {
    const s = await session('classifier');
    const batch = 5;
    const input = new Float32Array(batch * 8);
    for (let k = 0; k < batch; k += 1) input[k * 8 + k] = 1;
    const out = await s.run({ INPUT: new ort.Tensor('float32', input, [batch, 8]) });
    assert.deepEqual(out.PROBS.dims, [batch, 5]);
    const probs = out.PROBS.data as Float32Array;
    for (let k = 0; k < batch; k += 1) {
      const row = Array.from(probs.subarray(k * 5, k * 5 + 5));
      assert.ok(Math.abs(row.reduce((x, y) => x + y, 0) - 1) < 1e-5);
      assert.ok(row.every((p) => p > 0 && p < 1));
      assert.equal(row.indexOf(Math.max(...row)), k);
    }
    const labels = readFileSync(join(REPO, 'classifier', 'labels.txt'), 'utf8');
    assert.deepEqual(labels.split('\n'), ['cat', 'dog', 'bird', 'fish', 'horse', '']);
    await s.release();
  });

  it('fp16_scale doubles FP16 values', async () => {
    const s = await session('fp16_scale');
    // binary16 bit patterns: 1, -1.5, 0.5, 0 → 2, -3, 1, 0
    const input = Uint16Array.of(0x3c00, 0xbe00, 0x3800, 0x0000);
    const out = await s.run({ INPUT0: new ort.Tensor('float16', input, [1, 4]) });
    assert.equal(out.OUTPUT0.type, 'float16');
    assert.deepEqual(Array.from(out.OUTPUT0.data as Uint16Array), [0x4000, 0xc200, 0x3c00, 0x0000]);
    await s.release();
  });

  it('the pipeline steps standardize, score twice and average into probabilities', async () => {
    const [pre, a, b, combine] = await Promise.all(['preprocess', 'branch_a', 'branch_b', 'combine'].map(session));
    const raw = Float32Array.of(1, 2, 3, 4, 10, 10, 10, 10);
    const { NORMALIZED } = await pre!.run({ RAW: new ort.Tensor('float32', raw, [2, 4]) });
    const n = NORMALIZED!.data as Float32Array;
    const spread = Math.sqrt(1.25 + 1e-5);
    assert.deepEqual(Array.from(n.subarray(0, 4), (x) => Number(x.toFixed(5))), [-1.5, -0.5, 0.5, 1.5].map((x) => Number((x / spread).toFixed(5))));
    assert.deepEqual(Array.from(n.subarray(4)), [0, 0, 0, 0], 'a constant row normalizes to zeros (epsilon avoids 0/0)');
    const la = (await a!.run({ FEATURES: NORMALIZED! })).LOGITS!;
    const lb = (await b!.run({ FEATURES: NORMALIZED! })).LOGITS!;
    assert.notDeepEqual(Array.from(la.data as Float32Array), Array.from(lb.data as Float32Array), 'the branches are different models');
    const out = await combine!.run({ LOGITS_A: la, LOGITS_B: lb });
    const probs = out.PROBS!.data as Float32Array;
    const cls = out.CLASS!.data as BigInt64Array;
    for (let r = 0; r < 2; r += 1) {
      const row = Array.from(probs.subarray(r * 3, r * 3 + 3));
      const mean = [0, 1, 2].map((k) => ((la.data as Float32Array)[r * 3 + k]! + (lb.data as Float32Array)[r * 3 + k]!) / 2);
      const z = mean.map(Math.exp).reduce((x, y) => x + y, 0);
      row.forEach((p, k) => assert.ok(Math.abs(p - Math.exp(mean[k]!) / z) < 1e-6));
      assert.equal(Number(cls[r]), row.indexOf(Math.max(...row)));
    }
    assert.deepEqual(out.CLASS!.dims, [2, 1]);
    await Promise.all([pre, a, b, combine].map((s) => s!.release()));
  });

  it('pipeline is an ensemble with an empty version folder apart from its placeholder', () => {
    assert.deepEqual(listFiles(join(REPO, 'pipeline', '1')), ['.gitkeep']);
    assert.match(readFileSync(join(REPO, 'pipeline', 'config.pbtxt'), 'utf8'), /^platform: "ensemble"$/m);
  });

  it('autocomplete_add has no config and batch-first FP32 [batch, 3] tensors', async () => {
    assert.equal(existsSync(join(REPO, 'autocomplete_add', 'config.pbtxt')), false);
    const s = await session('autocomplete_add');
    for (const meta of [...s.inputMetadata, ...s.outputMetadata]) {
      assert.ok(meta.isTensor);
      assert.equal(meta.type, 'float32');
      assert.deepEqual(meta.shape, ['batch', 3]);
    }
    const a = Float32Array.of(1, 2, 3, 4, 5, 6);
    const b = Float32Array.of(0.5, -2, 10, 0, 0, -6);
    const out = await s.run({ A: new ort.Tensor('float32', a, [2, 3]), B: new ort.Tensor('float32', b, [2, 3]) });
    assert.deepEqual(Array.from(out.SUM.data as Float32Array), [1.5, 0, 13, 4, 5, 0]);
    await s.release();
  });
});
