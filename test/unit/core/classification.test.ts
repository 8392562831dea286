import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { DataType } from '../../../src/core/datatype.js';
import { classify, formatFixed6, MAX_CLASSIFICATION_ELEMENTS } from '../../../src/core/classification.js';
import { decodeToValues, encodeTypedValues, ValueError } from '../../../src/core/tensor-codec.js';

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function output(datatype: DataType, values: unknown[], shape = [values.length]) {
  return { datatype, shape, data: encodeTypedValues(datatype, values) };
}

/** Runs classify and decodes the BYTES result for comparison. */
function top(
  datatype: DataType, values: unknown[], k: number, opts: { shape?: number[]; batched?: boolean; labels?: string[] } = {},
): { shape: number[]; strings: string[] } {
  const result = classify(output(datatype, values, opts.shape), k, opts.batched ?? false, opts.labels);
  assert.equal(result.datatype, 'BYTES');
  return { shape: result.shape, strings: decodeToValues('BYTES', result.data) as string[] };
}

describe('classify', () => {
  it('returns the top k as "<value>:<index>" sorted by value descending', () => {
    assert.deepEqual(top('FP32', [0.1, 3.3, 2, -1], 2), { shape: [2], strings: ['3.300000:1', '2.000000:2'] });
  });

  it('appends labels where the label list has a non-empty entry', () => {
    const labels = ['cat', '', 'bird'];
    assert.deepEqual(top('FP32', [0.5, 0.7, 0.2, 0.9], 4, { labels }).strings,
      ['0.900000:3', '0.700000:1', '0.500000:0:cat', '0.200000:2:bird']);
  });

  it('classifies each batch item separately, with indexes inside the item', () => {
    const result = top('FP64', [1, 5, 3, 9, 8, 7], 2, { shape: [2, 3], batched: true, labels: ['a', 'b', 'c'] });
    assert.deepEqual(result, { shape: [2, 2], strings: ['5.000000:1:b', '3.000000:2:c', '9.000000:0:a', '8.000000:1:b'] });
  });

  it('treats all non-batch dimensions of an item as one flat list', () => {
    const result = top('INT32', [1, 2, 3, 4, 8, 7, 6, 5], 3, { shape: [2, 2, 2], batched: true });
    assert.deepEqual(result, { shape: [2, 3], strings: ['4:3', '3:2', '2:1', '8:0', '7:1', '6:2'] });
  });

  it('treats an unbatched multi-dimensional output as one item', () => {
    assert.deepEqual(top('INT32', [1, 9, 3, 4], 1, { shape: [2, 2] }), { shape: [1], strings: ['9:1'] });
  });

  it('keeps index order among equal values, -0 equal to +0', () => {
    assert.deepEqual(top('INT32', [1, 2, 2, 1, 2], 5).strings, ['2:1', '2:2', '2:4', '1:0', '1:3']);
    assert.deepEqual(top('FP32', [-0, 0, -0], 3).strings, ['-0.000000:0', '0.000000:1', '-0.000000:2']);
  });

  it('clamps k to the number of elements', () => {
    assert.deepEqual(top('UINT8', [3, 1], 10), { shape: [2], strings: ['3:0', '1:1'] });
    assert.deepEqual(top('UINT8', [3, 1, 2, 0], 10, { shape: [2, 2], batched: true }).shape, [2, 2]);
    assert.deepEqual(top('UINT8', [], 3, { shape: [0, 4], batched: true }), { shape: [0, 3], strings: [] });
    assert.deepEqual(top('FP32', [], 3, { shape: [0] }), { shape: [0], strings: [] });
  });

  it('compares and prints every integer type in its own type', () => {
    assert.deepEqual(top('INT8', [-128, 127, -1], 3).strings, ['127:1', '-1:2', '-128:0']);
    assert.deepEqual(top('INT16', [-32768, 32767], 2).strings, ['32767:1', '-32768:0']);
    assert.deepEqual(top('UINT16', [65535, 1], 2).strings, ['65535:0', '1:1']);
    assert.deepEqual(top('UINT32', [1, 4294967295, 2147483648], 3).strings, ['4294967295:1', '2147483648:2', '1:0']);
    assert.deepEqual(top('INT32', [-(2 ** 31), 2 ** 31 - 1], 2).strings, ['2147483647:1', '-2147483648:0']);
  });

  it('orders 64-bit integers exactly, beyond double precision', () => {
    const int64 = [-1n, 2n ** 63n - 1n, -(2n ** 63n), 2n ** 63n - 2n, 1n, 0n];
    assert.deepEqual(top('INT64', int64, 6).strings, [
      '9223372036854775807:1', '9223372036854775806:3', '1:4', '0:5', '-1:0', '-9223372036854775808:2',
    ]);
    const uint64 = [2n ** 63n, 2n ** 64n - 1n, 1n, 2n ** 64n - 2n, 2n ** 32n];
    assert.deepEqual(top('UINT64', uint64, 5).strings, [
      '18446744073709551615:1', '18446744073709551614:3', '9223372036854775808:0', '4294967296:4', '1:2',
    ]);
  });

  it('formats floats like printf %f of the float32 value widened to double', () => {
    assert.deepEqual(top('FP32', [3.3, 0.1, 1e20, 3.4028234663852886e38, 1e-7, -2.5], 6).strings, [
      '340282346638528859811704183484516925440.000000:3', '100000002004087734272.000000:2', '3.300000:0',
      '0.100000:1', '0.000000:4', '-2.500000:5',
    ]);
    assert.deepEqual(top('FP64', [1e20, 1e21, 0.0078125, 0.0234375, -1e-9], 5).strings, [
      '1000000000000000000000.000000:1', '100000000000000000000.000000:0', '0.023438:3', '0.007812:2',
      '-0.000000:4',
    ]);
  });

  it('prints infinities and NaNs as glibc does, ranking NaN below -inf', () => {
    assert.deepEqual(top('FP32', [NaN, -Infinity, Infinity, 1], 4).strings, ['inf:2', '1.000000:3', '-inf:1', 'nan:0']);
    const negativeNaN = { datatype: 'FP32' as const, shape: [2], data: new Uint8Array([0, 0, 0xc0, 0xff, 0, 0, 0, 0]) };
    assert.deepEqual(decodeToValues('BYTES', classify(negativeNaN, 2, false).data), ['0.000000:1', '-nan:0']);
  });

  it('reads outputs whose data is not aligned', () => {
    const raw = encodeTypedValues('FP64', [1, 3, 2]);
    const backing = new Uint8Array(raw.byteLength + 1);
    backing.set(raw, 1);
    const result = classify({ datatype: 'FP64', shape: [3], data: backing.subarray(1) }, 2, false);
    assert.deepEqual(decodeToValues('BYTES', result.data), ['3.000000:1', '2.000000:2']);
  });

  it('agrees with a full sort for every k, exercising both selection strategies', () => {
    const rand = lcg(3);
    for (const dt of ['FP32', 'INT64', 'UINT8'] as const) {
      const n = 120;
      const values = Array.from({ length: n }, () => Math.floor(rand() * 20));
      const order = values.map((v, i) => [v, i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
      const suffix = dt === 'FP32' ? '.000000' : '';
      const expected = order.map(([v, i]) => `${v}${suffix}:${i}`);
      for (let k = 1; k <= n; k += 7) assert.deepEqual(top(dt, values, k).strings, expected.slice(0, k), `${dt} k=${k}`);
    }
  });

  it('finds the top entries of a large output quickly', () => {
    const n = MAX_CLASSIFICATION_ELEMENTS;
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = (i * 7919) % 1000 / 1000;
    data[123_456] = 5;
    data[999_999] = 4;
    const result = classify({ datatype: 'FP32', shape: [1, n], data: new Uint8Array(data.buffer) }, 3, true);
    assert.deepEqual(result.shape, [1, 3]);
    // The first index with i · 7919 ≡ 999 (mod 1000) is 321.
    assert.deepEqual(decodeToValues('BYTES', result.data), ['5.000000:123456', '4.000000:999999', '0.999000:321']);
  });
});

describe('classify errors', () => {
  function rejects(fn: () => unknown, message: string | RegExp): void {
    assert.throws(fn, (err: unknown) => {
      assert.ok(err instanceof ValueError, String(err));
      if (typeof message === 'string') assert.equal(err.message, message);
      else assert.match(err.message, message);
      return true;
    });
  }

  it('rejects unsupported datatypes', () => {
    for (const dt of ['FP16', 'BF16', 'BOOL', 'BYTES'] as const) {
      rejects(() => classify({ datatype: dt, shape: [0], data: new Uint8Array(0) }, 1, false),
        `classification is not supported for ${dt} outputs`);
    }
  });

  it('rejects k that is not a positive integer', () => {
    for (const k of [0, -1, 1.5, NaN]) {
      rejects(() => classify(output('FP32', [1]), k, false), `classification count must be a positive integer, got ${k}`);
    }
  });

  it('rejects outputs with more than 1,000,000 elements', () => {
    const n = MAX_CLASSIFICATION_ELEMENTS + 1;
    rejects(() => classify({ datatype: 'INT8', shape: [n], data: new Uint8Array(n) }, 1, false),
      /more than 1000000 elements \(this one has 1000001\)/);
  });

  it('rejects data that does not match the shape, and batched scalars', () => {
    rejects(() => classify({ datatype: 'FP32', shape: [3], data: new Uint8Array(8) }, 1, false),
      'output data has 8 bytes but shape [3] of FP32 needs 12');
    rejects(() => classify({ datatype: 'FP32', shape: [], data: new Uint8Array(4) }, 1, true), /needs a batch dimension/);
  });
});

/** Independent reference for printf("%f"): exact binary expansion, then ties-to-even, all in bigint. */
function referenceFixed6(x: number): string {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const bits = view.getBigUint64(0);
  const negative = bits >> 63n === 1n;
  const field = Number((bits >> 52n) & 0x7ffn);
  const mantissa = (bits & ((1n << 52n) - 1n)) | (field === 0 ? 0n : 1n << 52n);
  const exp = (field === 0 ? 1 : field) - 1075; // x = mantissa · 2^exp
  const scaled = mantissa * 10n ** 6n;
  let q: bigint;
  if (exp >= 0) {
    q = scaled << BigInt(exp);
  } else {
    const shift = BigInt(-exp);
    q = scaled >> shift;
    const twiceRest = (scaled - (q << shift)) * 2n;
    const unit = 1n << shift;
    if (twiceRest > unit || (twiceRest === unit && q % 2n === 1n)) q += 1n;
  }
  const digits = q.toString().padStart(7, '0');
  return `${negative ? '-' : ''}${digits.slice(0, -6)}.${digits.slice(-6)}`;
}

describe('formatFixed6', () => {
  it('matches an exact bigint reference on random doubles and float32 values', () => {
    const rand = lcg(11);
    const view = new DataView(new ArrayBuffer(8));
    for (let i = 0; i < 3000; i++) {
      view.setUint32(0, Math.floor(rand() * 2 ** 32));
      view.setUint32(4, Math.floor(rand() * 2 ** 32));
      const candidates = [
        view.getFloat64(0), view.getFloat32(0), (rand() - 0.5) * 2 ** Math.floor(rand() * 90 - 30),
        Math.floor((rand() - 0.5) * 2 ** 30) / 128, // exact ties at the 7th decimal
      ];
      for (const x of candidates) {
        if (Number.isFinite(x)) assert.equal(formatFixed6(x), referenceFixed6(x), `${x}`);
      }
    }
  });

  it('rounds exact ties to even and never uses exponent notation', () => {
    assert.equal(formatFixed6(0.0078125), '0.007812');
    assert.equal(formatFixed6(-0.0234375), '-0.023438');
    assert.equal(formatFixed6(1e21), '1000000000000000000000.000000');
    assert.equal(formatFixed6(Number.MAX_VALUE), `${2n ** 1024n - 2n ** 971n}.000000`);
    assert.equal(formatFixed6(Number.MIN_VALUE), '0.000000');
  });
});
