// The test fixture models (test/fixtures/models/*.onnx) and buildMlp() behave
// as the tests that rely on them expect.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';

type OnnxBuilder = typeof import('../../../scripts/onnx-builder.mjs');

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
const FIXTURES = join(ROOT, 'test', 'fixtures', 'models');

function fixture(name: string): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(join(FIXTURES, name), { intraOpNumThreads: 1 });
}

/** One [2, 3] sample per v2 datatype, as the ORT tensor type and data. */
const SAMPLES: Record<string, [ort.Tensor.Type, ort.Tensor.DataType | string[]]> = {
  BOOL: ['bool', Uint8Array.of(1, 0, 1, 1, 0, 0)],
  INT8: ['int8', Int8Array.of(-128, -1, 0, 1, 64, 127)],
  UINT8: ['uint8', Uint8Array.of(0, 1, 2, 128, 254, 255)],
  INT16: ['int16', Int16Array.of(-32768, -2, 0, 3, 300, 32767)],
  UINT16: ['uint16', Uint16Array.of(0, 1, 500, 32768, 65534, 65535)],
  INT32: ['int32', Int32Array.of(-2147483648, -7, 0, 9, 100000, 2147483647)],
  UINT32: ['uint32', Uint32Array.of(0, 1, 7, 2147483648, 4294967294, 4294967295)],
  INT64: ['int64', BigInt64Array.of(-(2n ** 63n), -1n, 0n, 1n, 2n ** 40n, 2n ** 63n - 1n)],
  UINT64: ['uint64', BigUint64Array.of(0n, 1n, 2n ** 32n, 2n ** 63n, 2n ** 64n - 2n, 2n ** 64n - 1n)],
  FP16: ['float16', Uint16Array.of(0x3c00, 0xc000, 0x7bff, 0x0001, 0x8000, 0x7c00)],
  FP32: ['float32', Float32Array.of(-1.5, 0, 3.25, 1e-30, -3e38, Infinity)],
  FP64: ['float64', Float64Array.of(-1.5, 0, Math.PI, 1e-300, -1e300, -Infinity)],
  BYTES: ['string', ['', 'a', 'héllo', 'two words', '0', 'end']],
};

describe('identity fixtures', () => {
  for (const [datatype, [type, data]] of Object.entries(SAMPLES)) {
    it(`identity_${datatype.toLowerCase()}.onnx returns its ${datatype} input unchanged`, async () => {
      const s = await fixture(`identity_${datatype.toLowerCase()}.onnx`);
      assert.deepEqual([s.inputNames, s.outputNames], [['IN'], ['OUT']]);
      const out = await s.run({ IN: new ort.Tensor(type, data as never, [2, 3]) });
      assert.equal(out.OUT.type, type);
      assert.deepEqual(out.OUT.dims, [2, 3]);
      assert.deepEqual(Array.from(out.OUT.data as ArrayLike<unknown>), Array.from(data as ArrayLike<unknown>));
      await s.release();
    });
  }
});

describe('shape fixtures', () => {
  it('fixed_shape.onnx adds 1 to a fixed [2, 3] FP32 input and rejects other shapes', async () => {
    const s = await fixture('fixed_shape.onnx');
    const out = await s.run({ IN: new ort.Tensor('float32', Float32Array.of(0, 1, 2, 3, 4, 5), [2, 3]) });
    assert.deepEqual(Array.from(out.OUT.data as Float32Array), [1, 2, 3, 4, 5, 6]);
    await assert.rejects(s.run({ IN: new ort.Tensor('float32', new Float32Array(6), [1, 6]) }));
    await s.release();
  });

  it('scalar_sum.onnx returns a rank-0 sum', async () => {
    const s = await fixture('scalar_sum.onnx');
    const out = await s.run({ IN: new ort.Tensor('float32', Float32Array.of(1, 2, 3.5), [3]) });
    assert.deepEqual(out.OUT.dims, []);
    assert.deepEqual(Array.from(out.OUT.data as Float32Array), [6.5]);
    await s.release();
  });

  it('batched_scalar_double.onnx doubles a [batch] vector', async () => {
    const s = await fixture('batched_scalar_double.onnx');
    const out = await s.run({ IN: new ort.Tensor('float32', Float32Array.of(1, -2, 0.25), [3]) });
    assert.deepEqual(out.OUT.dims, [3]);
    assert.deepEqual(Array.from(out.OUT.data as Float32Array), [2, -4, 0.5]);
    await s.release();
  });
});

describe('failure and timing fixtures', () => {
  it('runtime_error.onnx runs when numel % 3 == 0 and fails otherwise', async () => {
    const s = await fixture('runtime_error.onnx');
    const ok = await s.run({ IN: new ort.Tensor('float32', Float32Array.of(1, 2, 3, 4, 5, 6), [1, 6]) });
    assert.deepEqual(ok.OUT.dims, [2, 3]);
    await assert.rejects(s.run({ IN: new ort.Tensor('float32', new Float32Array(4), [1, 4]) }));
    await s.release();
  });

  it('invalid.onnx fails to load', async () => {
    await assert.rejects(fixture('invalid.onnx'));
  });

  it('slow.onnx returns its input unchanged after measurable work', async () => {
    const s = await fixture('slow.onnx');
    const input = Float32Array.of(-3, 0.5, 7, 1e6, 1, 2, 3, 4);
    const started = performance.now();
    const out = await s.run({ IN: new ort.Tensor('float32', input, [2, 4]) });
    const elapsedMs = performance.now() - started;
    assert.deepEqual(Array.from(out.OUT.data as Float32Array), Array.from(input));
    // 8 products of 512x512 matrices are ~2 GFLOP: no CPU does that in 2 ms.
    assert.ok(elapsedMs > 2, `slow model took only ${elapsedMs} ms`);
    await s.release();
  });
});

describe('buildMlp', () => {
  let builder: OnnxBuilder;
  before(async () => {
    builder = (await import(pathToFileURL(join(ROOT, 'scripts', 'onnx-builder.mjs')).href)) as OnnxBuilder;
  });

  it('builds a runnable FP32 MLP with a dynamic batch dimension', async () => {
    const bytes = builder.buildMlp({ inputSize: 6, hidden: [16, 8], outputSize: 3, seed: 11 });
    const s = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
    assert.deepEqual([s.inputNames, s.outputNames], [['INPUT'], ['OUTPUT']]);
    for (const batch of [1, 5]) {
      const input = Float32Array.from({ length: batch * 6 }, (_, i) => Math.cos(i));
      const out = await s.run({ INPUT: new ort.Tensor('float32', input, [batch, 6]) });
      assert.deepEqual(out.OUTPUT.dims, [batch, 3]);
      assert.ok(Array.from(out.OUTPUT.data as Float32Array).every(Number.isFinite));
    }
    await s.release();
  });

  it('is deterministic per seed', () => {
    const options = { inputSize: 4, hidden: [8], outputSize: 2 };
    const a = builder.buildMlp({ ...options, seed: 3 });
    assert.deepEqual(builder.buildMlp({ ...options, seed: 3 }), a);
    assert.notDeepEqual(builder.buildMlp({ ...options, seed: 4 }), a);
  });

  it('rejects sizes that are not positive integers', () => {
    for (const bad of [0, -1, 2.5, Number.NaN]) {
      assert.throws(() => builder.buildMlp({ inputSize: bad, outputSize: 2 }), /inputSize/);
      assert.throws(() => builder.buildMlp({ inputSize: 2, hidden: [4, bad], outputSize: 2 }), /hidden\[1\]/);
    }
  });
});
