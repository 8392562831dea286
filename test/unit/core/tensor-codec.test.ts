import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import type { DataType } from '../../../src/core/datatype.js';
import {
  bfloat16BitsToNumber, decodeToValues, encodeTypedValues, float16BitsToNumber, numberToBfloat16Bits,
  numberToFloat16Bits, typedView, ValueError,
} from '../../../src/core/tensor-codec.js';

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function roundTrip(dt: DataType, values: unknown[]): unknown[] {
  return decodeToValues(dt, encodeTypedValues(dt, values));
}

function throwsValueError(fn: () => unknown, message: RegExp | string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ValueError, `expected ValueError, got ${String(err)}`);
    if (typeof message === 'string') assert.equal(err.message, message);
    else assert.match(err.message, message);
    return true;
  });
}

describe('encodeTypedValues / decodeToValues round trip', () => {
  const cases: [DataType, unknown[]][] = [
    ['BOOL', [true, false, true]],
    ['INT8', [-128, 127, 0, -1]],
    ['INT16', [-32768, 32767, 1]],
    ['INT32', [-(2 ** 31), 2 ** 31 - 1, 0]],
    ['UINT8', [0, 255, 7]],
    ['UINT16', [0, 65535]],
    ['UINT32', [0, 2 ** 32 - 1]],
    ['INT64', [-(2 ** 53 - 1), 2 ** 53 - 1, -1, 0]],
    ['UINT64', [0, 2 ** 53 - 1]],
    ['INT64', [-(2n ** 63n), 2n ** 63n - 1n, -1n]],
    ['UINT64', [0n, 2n ** 64n - 1n, 2n ** 63n]],
    ['FP32', [-0, NaN, Infinity, -Infinity, 3.4028234663852886e38, 2 ** -149, 1.5]],
    ['FP64', [Number.MAX_VALUE, Number.MIN_VALUE, -0, NaN, -Infinity, 0.1]],
    ['BYTES', ['', 'x', '日本語😀', '']],
  ];
  for (const [dt, values] of cases) {
    it(`${dt} ${values.map(String).join(', ')}`, () => {
      assert.deepEqual(roundTrip(dt, values), values);
    });
  }

  it('widens FP32 to the exact double of the float32 value', () => {
    assert.deepEqual(roundTrip('FP32', [0.1, 1e40, -1e40]), [0.10000000149011612, Infinity, -Infinity]);
  });

  it('returns bigints for every INT64 element once any is not a safe integer', () => {
    assert.deepEqual(roundTrip('INT64', [1, 2n ** 53n]), [1n, 2n ** 53n]);
    assert.deepEqual(roundTrip('INT64', [-(2n ** 53n), 5]), [-(2n ** 53n), 5n]);
    assert.deepEqual(roundTrip('UINT64', [2n ** 53n - 1n]), [2 ** 53 - 1]);
  });

  it('handles empty tensors', () => {
    for (const dt of ['BOOL', 'INT64', 'FP32', 'BYTES'] as const) {
      const data = encodeTypedValues(dt, []);
      assert.equal(data.byteLength, 0);
      assert.deepEqual(decodeToValues(dt, data), []);
    }
  });
});

describe('encodeTypedValues raw layout', () => {
  it('writes little-endian bytes', () => {
    assert.deepEqual([...encodeTypedValues('UINT16', [0x1234])], [0x34, 0x12]);
    assert.deepEqual([...encodeTypedValues('INT32', [1, -2])], [1, 0, 0, 0, 0xfe, 0xff, 0xff, 0xff]);
    assert.deepEqual([...encodeTypedValues('INT64', [-1])], new Array(8).fill(0xff));
    assert.deepEqual([...encodeTypedValues('INT64', [-(2 ** 40)])], [0, 0, 0, 0, 0, 0xff, 0xff, 0xff]);
    assert.deepEqual([...encodeTypedValues('BOOL', [true, false])], [1, 0]);
    assert.deepEqual([...encodeTypedValues('FP32', [1])], [0, 0, 0x80, 0x3f]);
    assert.deepEqual([...encodeTypedValues('BYTES', [Buffer.from('hi')])], [2, 0, 0, 0, 0x68, 0x69]);
  });

  it('stores -0 as 0 for integer types', () => {
    assert.deepEqual([...encodeTypedValues('INT8', [-0])], [0]);
  });
});

describe('encodeTypedValues integer forms', () => {
  it('accepts bigints, decimal strings and Long-like objects for every integer type', () => {
    assert.deepEqual(roundTrip('INT32', [5n, '-123', { low: 7, high: 0, unsigned: false }]), [5, -123, 7]);
    assert.deepEqual(roundTrip('UINT8', ['255', 0n]), [255, 0]);
    assert.deepEqual(roundTrip('INT64', ['9223372036854775807', '-9223372036854775808', '12']),
      [2n ** 63n - 1n, -(2n ** 63n), 12n]);
    assert.deepEqual(roundTrip('INT64', [{ low: -1, high: 0x7fffffff, unsigned: false }]), [2n ** 63n - 1n]);
    assert.deepEqual(roundTrip('INT64', [{ low: -1, high: -1, unsigned: false }, 2 ** 60]), [-1n, 2n ** 60n]);
    assert.deepEqual(roundTrip('UINT64', [{ low: -1, high: -1, unsigned: true }]), [2n ** 64n - 1n]);
    assert.deepEqual(roundTrip('UINT64', ['18446744073709551615', 2 ** 63]), [2n ** 64n - 1n, 2n ** 63n]);
  });

  it('rejects values outside the datatype range, naming the element', () => {
    throwsValueError(() => encodeTypedValues('UINT8', [1, 2, 3, 4, 5, 300]), 'element 5: 300 is out of range for UINT8');
    throwsValueError(() => encodeTypedValues('UINT32', [-1]), 'element 0: -1 is out of range for UINT32');
    throwsValueError(() => encodeTypedValues('INT8', [128]), /128 is out of range for INT8/);
    throwsValueError(() => encodeTypedValues('INT16', ['-32769']), /-32769 is out of range for INT16/);
    throwsValueError(() => encodeTypedValues('INT32', [2n ** 31n]), /2147483648 is out of range for INT32/);
    throwsValueError(() => encodeTypedValues('INT64', [2 ** 63]), /9223372036854775808 is out of range for INT64/);
    throwsValueError(() => encodeTypedValues('INT64', [2n ** 63n]), /out of range for INT64/);
    throwsValueError(() => encodeTypedValues('INT64', ['9223372036854775808']), /out of range for INT64/);
    throwsValueError(() => encodeTypedValues('INT64', [-(2 ** 64)]), /out of range for INT64/);
    throwsValueError(() => encodeTypedValues('UINT64', [-1n]), /-1 is out of range for UINT64/);
    throwsValueError(() => encodeTypedValues('UINT64', [2 ** 64]), /out of range for UINT64/);
    throwsValueError(() => encodeTypedValues('UINT64', [2n ** 64n]), /18446744073709551616 is out of range/);
    throwsValueError(() => encodeTypedValues('UINT8', [{ low: 256, high: 0, unsigned: true }]), /256 is out of range/);
  });

  it('rejects Long-likes whose sign does not fit the 64-bit type', () => {
    throwsValueError(() => encodeTypedValues('UINT64', [{ low: -1, high: -1, unsigned: false }]),
      'element 0: -1 is out of range for UINT64');
    throwsValueError(() => encodeTypedValues('INT64', [{ low: 0, high: -2147483648, unsigned: true }]),
      'element 0: 9223372036854775808 is out of range for INT64');
  });

  it('rejects non-integers and malformed decimal strings', () => {
    throwsValueError(() => encodeTypedValues('INT32', [1.5]), 'element 0: 1.5 is not an integer (INT32)');
    throwsValueError(() => encodeTypedValues('INT64', [0, NaN]), 'element 1: NaN is not an integer (INT64)');
    throwsValueError(() => encodeTypedValues('UINT8', [Infinity]), /Infinity is not an integer/);
    for (const s of ['1.0', ' 1', '0x10', '', '+1', '1e3', '-']) {
      throwsValueError(() => encodeTypedValues('INT64', [s]), /is not a decimal integer \(INT64\)/);
    }
    throwsValueError(() => encodeTypedValues('INT64', ['1'.repeat(101)]), /is not a decimal integer/);
  });

  it('rejects wrong JS kinds for every datatype', () => {
    throwsValueError(() => encodeTypedValues('BOOL', [true, 1]), 'element 1: expected a boolean for BOOL, got number 1');
    throwsValueError(() => encodeTypedValues('BOOL', ['true']), /expected a boolean for BOOL, got "true"/);
    throwsValueError(() => encodeTypedValues('INT32', [true]), /expected an integer for INT32, got boolean true/);
    throwsValueError(() => encodeTypedValues('INT64', [null]), /expected an integer for INT64, got null/);
    throwsValueError(() => encodeTypedValues('UINT16', [[1]]), /got an array/);
    throwsValueError(() => encodeTypedValues('INT8', [{}]), /got an object/);
    throwsValueError(() => encodeTypedValues('INT64', [{ low: 2 ** 32, high: 0 }]), /expected an integer for INT64, got an object/);
    throwsValueError(() => encodeTypedValues('INT64', [{ low: 0.5, high: 0 }]), /got an object/);
    throwsValueError(() => encodeTypedValues('FP32', ['1.0']), /expected a number for FP32, got "1.0"/);
    throwsValueError(() => encodeTypedValues('FP64', [1n]), /expected a number for FP64, got 1n/);
    throwsValueError(() => encodeTypedValues('FP64', [undefined]), /got undefined/);
    throwsValueError(() => encodeTypedValues('BYTES', ['ok', 5]), 'element 1: expected a string or bytes for BYTES, got number 5');
    throwsValueError(() => encodeTypedValues('BYTES', [[104]]), /got an array/);
  });

  it('rejects FP16 and BF16: they have no typed representation', () => {
    throwsValueError(() => encodeTypedValues('FP16', [1]), 'FP16 data must be sent as raw bytes');
    throwsValueError(() => encodeTypedValues('BF16', []), 'BF16 data must be sent as raw bytes');
  });
});

describe('typedView', () => {
  it('returns the matching typed array for each datatype', () => {
    const expected: [DataType, new (n: number) => object][] = [
      ['BOOL', Uint8Array], ['UINT8', Uint8Array], ['INT8', Int8Array], ['UINT16', Uint16Array],
      ['INT16', Int16Array], ['FP16', Uint16Array], ['BF16', Uint16Array], ['UINT32', Uint32Array],
      ['INT32', Int32Array], ['FP32', Float32Array], ['UINT64', BigUint64Array], ['INT64', BigInt64Array],
      ['FP64', Float64Array],
    ];
    for (const [dt, Ctor] of expected) {
      const view = typedView(dt as Exclude<DataType, 'BYTES'>, new Uint8Array(16));
      assert.equal(view.constructor, Ctor, dt);
    }
  });

  it('shares memory when the byte offset is aligned', () => {
    const backing = new Uint8Array(12);
    const data = backing.subarray(4);
    const view = typedView('INT32', data);
    assert.equal(view.buffer, backing.buffer);
    assert.equal(view.length, 2);
    backing[4] = 7;
    assert.equal(view[0], 7);
  });

  it('copies into an aligned buffer when the byte offset is not aligned', () => {
    const backing = new Uint8Array(1 + 16);
    backing.set(encodeTypedValues('FP64', [1.5, -2]), 1);
    const view = typedView('FP64', backing.subarray(1));
    assert.notEqual(view.buffer, backing.buffer);
    assert.deepEqual([...view], [1.5, -2]);
    const big = new Uint8Array(1 + 8);
    big.set(encodeTypedValues('INT64', [-(2n ** 63n)]), 1);
    assert.deepEqual([...typedView('INT64', big.subarray(1))], [-(2n ** 63n)]);
  });

  it('copies unaligned Node Buffers too (whose slice() is a view)', () => {
    const backing = Buffer.alloc(1 + 8);
    backing.writeInt32LE(-5, 1);
    backing.writeInt32LE(6, 5);
    const view = typedView('INT32', backing.subarray(1));
    assert.deepEqual([...view], [-5, 6]);
  });

  it('decodes correctly from unaligned views', () => {
    const backing = new Uint8Array(3 + 8);
    backing.set(encodeTypedValues('INT16', [-2, 300, 5, -32768]), 3);
    assert.deepEqual(decodeToValues('INT16', backing.subarray(3)), [-2, 300, 5, -32768]);
  });

  it('rejects BYTES and lengths that are not whole elements', () => {
    throwsValueError(() => typedView('BYTES' as 'INT8', new Uint8Array(4)), /BYTES has variable-size elements/);
    throwsValueError(() => typedView('INT32', new Uint8Array(6)), '6 bytes is not a whole number of INT32 elements (4 bytes each)');
    throwsValueError(() => decodeToValues('FP16', new Uint8Array(3)), /not a whole number of FP16 elements/);
  });
});

describe('decodeToValues', () => {
  it('reads any non-zero BOOL byte as true', () => {
    assert.deepEqual(decodeToValues('BOOL', new Uint8Array([0, 1, 2, 255])), [false, true, true, true]);
  });

  it('decodes FP16 and BF16 bit patterns to numbers', () => {
    const fp16 = new Uint8Array(new Uint16Array([0x3c00, 0x0001, 0x7c00, 0xfc00, 0x7e00, 0x8000, 0x7bff]).buffer);
    assert.deepEqual(decodeToValues('FP16', fp16), [1, 2 ** -24, Infinity, -Infinity, NaN, -0, 65504]);
    const bf16 = new Uint8Array(new Uint16Array([0x3f80, 0xc000, 0x7f80, 0x0001]).buffer);
    assert.deepEqual(decodeToValues('BF16', bf16), [1, -2, Infinity, 2 ** -133]);
  });

  it('keeps invalid UTF-8 as replacement characters and keeps a leading BOM', () => {
    const data = encodeBytesFramed([[0xff, 0x61], [0xef, 0xbb, 0xbf, 0x62]]);
    assert.deepEqual(decodeToValues('BYTES', data), ['\uFFFDa', '\uFEFFb']);
  });

  it('reports malformed BYTES framing', () => {
    assert.throws(() => decodeToValues('BYTES', new Uint8Array([9, 0, 0, 0, 1])), { name: 'FramingError' });
  });
});

function encodeBytesFramed(elements: number[][]): Uint8Array {
  return new Uint8Array(elements.flatMap((e) => [e.length, 0, 0, 0, ...e]));
}

/** Independent reference: the nearest representable value by search, ties to the even pattern. */
function nearestBits(x: number, positives: readonly number[], infBits: number): number {
  if (Number.isNaN(x)) return -1;
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  let lo = 0;
  let hi = positives.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (positives[mid]! <= a) lo = mid;
    else hi = mid;
  }
  if (a >= positives[hi]!) return sign | Math.min(hi, infBits);
  const dLo = a - positives[lo]!;
  const dHi = positives[hi]! - a;
  const bits = dLo < dHi ? lo : dHi < dLo ? hi : lo % 2 === 0 ? lo : hi;
  return sign | Math.min(bits, infBits);
}

/** Values of patterns 0..inf, with the infinity pattern standing in for 2^(maxExp+1) (IEEE overflow rule). */
function positiveValues(decode: (b: number) => number, infBits: number, overflowValue: number): number[] {
  return Array.from({ length: infBits + 1 }, (_, b) => (b === infBits ? overflowValue : decode(b)));
}

describe('FP16 / BF16 conversion', () => {
  it('converts known FP16 values, rounding ties to even', () => {
    const cases: [number, number][] = [
      [1, 0x3c00], [-2, 0xc000], [65504, 0x7bff], [65519.99, 0x7bff], [65520, 0x7c00], [1e10, 0x7c00],
      [2 ** -24, 0x0001], [2 ** -25, 0x0000], [3 * 2 ** -25, 0x0002], [2 ** -25 * 1.0000001, 0x0001],
      [2 ** -14 - 2 ** -25, 0x0400], [-0, 0x8000], [0, 0], [1 / 3, 0x3555], [1 + 2 ** -11, 0x3c00],
      [1 + 3 * 2 ** -11, 0x3c02], [-Infinity, 0xfc00], [NaN, 0x7e00], [1e-300, 0],
    ];
    for (const [x, bits] of cases) assert.equal(numberToFloat16Bits(x), bits, `${x}`);
  });

  it('converts known BF16 values, rounding ties to even', () => {
    const cases: [number, number][] = [
      [1, 0x3f80], [1 + 2 ** -8, 0x3f80], [1 + 3 * 2 ** -8, 0x3f82], [-1.5, 0xbfc0], [3.4e38, 0x7f80],
      [3.3895313892515355e38, 0x7f7f], [2 ** -133, 0x0001], [2 ** -134, 0], [NaN, 0x7fc0], [-0, 0x8000],
      [Number.MAX_VALUE, 0x7f80], [2 ** 100, 0x7180],
    ];
    for (const [x, bits] of cases) assert.equal(numberToBfloat16Bits(x), bits, `${x}`);
  });

  it('round-trips every FP16 and BF16 bit pattern except NaNs', () => {
    for (let b = 0; b < 0x10000; b++) {
      const h = float16BitsToNumber(b);
      if (Number.isNaN(h)) assert.ok((b & 0x7c00) === 0x7c00 && (b & 0x3ff) !== 0);
      else assert.equal(numberToFloat16Bits(h), b);
      const f = bfloat16BitsToNumber(b);
      if (Number.isNaN(f)) assert.ok((b & 0x7f80) === 0x7f80 && (b & 0x7f) !== 0);
      else assert.equal(numberToBfloat16Bits(f), b);
    }
  });

  it('matches a nearest-value search on random doubles, halfway points included', () => {
    const fp16 = positiveValues(float16BitsToNumber, 0x7c00, 2 ** 16);
    const bf16 = positiveValues(bfloat16BitsToNumber, 0x7f80, 2 ** 128);
    const rand = lcg(7);
    for (let i = 0; i < 4000; i++) {
      const b = Math.floor(rand() * 0x7bff);
      const halfway = (fp16[b]! + fp16[b + 1]!) / 2;
      const x16 = [halfway, -halfway, (rand() - 0.5) * 2 ** Math.floor(rand() * 44 - 28)];
      for (const x of x16) assert.equal(numberToFloat16Bits(x), nearestBits(x, fp16, 0x7c00), `fp16 ${x}`);
      const c = Math.floor(rand() * 0x7f7f);
      const mid = (bf16[c]! + bf16[c + 1]!) / 2;
      const xb = [mid, -mid, (rand() - 0.5) * 2 ** Math.floor(rand() * 270 - 135)];
      for (const x of xb) assert.equal(numberToBfloat16Bits(x), nearestBits(x, bf16, 0x7f80), `bf16 ${x}`);
    }
  });
});
