// v2 ↔ TensorFlow.js value conversion: exact where it can be, an error naming tensor and element
// where a value does not fit, never a silent wrap-around.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fromTfjsValues, toTfjsValues, v2OfTfDataType } from '../../../../src/backends/tensorflow/tensorflow-types.js';
import { encodeBytesElements } from '../../../../src/core/bytes-tensor.js';

const bytes = (a: ArrayBufferView): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

describe('toTfjsValues', () => {
  it('passes FP32 and INT32 through and widens small integers and halves', () => {
    assert.deepEqual([...(toTfjsValues('FP32', bytes(new Float32Array([1.5, -2])), 'x') as Float32Array)], [1.5, -2]);
    assert.deepEqual([...(toTfjsValues('UINT8', new Uint8Array([0, 255]), 'x') as Int32Array)], [0, 255]);
    assert.deepEqual([...(toTfjsValues('INT16', bytes(new Int16Array([-32768])), 'x') as Int32Array)], [-32768]);
    assert.deepEqual([...(toTfjsValues('FP16', bytes(new Uint16Array([0x3c00, 0xc000])), 'x') as Float32Array)], [1, -2]);
    assert.deepEqual([...(toTfjsValues('BOOL', new Uint8Array([0, 1, 7]), 'x') as Uint8Array)], [0, 1, 1]);
  });

  it('narrows INT64/UINT64/UINT32 to int32 only when the value fits', () => {
    assert.deepEqual([...(toTfjsValues('INT64', bytes(new BigInt64Array([-(2n ** 31n), 2n ** 31n - 1n])), 'x') as Int32Array)], [-(2 ** 31), 2 ** 31 - 1]);
    assert.throws(() => toTfjsValues('INT64', bytes(new BigInt64Array([0n, 2n ** 31n])), 'big'), /tensor 'big': element 1 \(2147483648\) is outside the int32 range TensorFlow.js computes INT64 in/);
    assert.throws(() => toTfjsValues('UINT64', bytes(new BigUint64Array([2n ** 63n])), 'u'), /tensor 'u': element 0/);
    assert.throws(() => toTfjsValues('UINT32', bytes(new Uint32Array([2 ** 31])), 'u32'), /element 0 \(2147483648\)/);
  });

  it('rounds FP64 to float32 but refuses values beyond its range', () => {
    assert.deepEqual([...(toTfjsValues('FP64', bytes(new Float64Array([0.1, Infinity])), 'x') as Float32Array)], [Math.fround(0.1), Infinity]);
    assert.throws(() => toTfjsValues('FP64', bytes(new Float64Array([1e39])), 'd'), /tensor 'd': element 0 \(1e\+39\) is beyond the float32 range/);
  });

  it('keeps BYTES elements as raw bytes and refuses broken framing', () => {
    const v = toTfjsValues('BYTES', encodeBytesElements(['ab', new Uint8Array([0xff, 0])]), 's') as Uint8Array[];
    assert.deepEqual(v.map((e) => [...e]), [[97, 98], [0xff, 0]]);
    assert.throws(() => toTfjsValues('BYTES', new Uint8Array([5, 0, 0, 0, 1]), 's'), /tensor 's': .*element 0/);
    assert.throws(() => toTfjsValues('INT32', new Uint8Array(3), 'odd'), /tensor 'odd': 3 bytes is not a whole number of INT32 elements/);
  });
});

describe('fromTfjsValues', () => {
  it('widens int32 to INT64 and checks narrowing', () => {
    assert.deepEqual([...new BigInt64Array(fromTfjsValues(new Int32Array([-5, 7]), 'int32', 'INT64', 'y').slice().buffer)], [-5n, 7n]);
    assert.deepEqual([...fromTfjsValues(new Int32Array([0, 255]), 'int32', 'UINT8', 'y')], [0, 255]);
    assert.throws(() => fromTfjsValues(new Int32Array([256]), 'int32', 'UINT8', 'y'), /tensor 'y': element 0 \(256\) does not fit UINT8/);
    assert.throws(() => fromTfjsValues(new Int32Array([-1]), 'int32', 'UINT64', 'y'), /does not fit UINT64/);
  });

  it('rounds float32 to FP16 and refuses overflow to infinity', () => {
    assert.deepEqual([...new Uint16Array(fromTfjsValues(new Float32Array([1, Infinity]), 'float32', 'FP16', 'h').slice().buffer)], [0x3c00, 0x7c00]);
    assert.throws(() => fromTfjsValues(new Float32Array([70000]), 'float32', 'FP16', 'h'), /element 0 \(70000\) overflows FP16/);
  });

  it('returns a fresh buffer, never the backend storage it was given', () => {
    const src = new Float32Array([1, 2]);
    const out = fromTfjsValues(src, 'float32', 'FP32', 'y');
    assert.notEqual(out.buffer, src.buffer);
    assert.throws(() => fromTfjsValues(src, 'float32', 'INT32', 'y'), /produced float32 values, which cannot be returned as INT32/);
  });

  it('frames strings as BYTES', () => {
    assert.deepEqual([...fromTfjsValues([new Uint8Array([1, 2])], 'string', 'BYTES', 's')], [2, 0, 0, 0, 1, 2]);
  });
});

describe('v2OfTfDataType', () => {
  it('maps TensorFlow types with a v2 name and nothing else', () => {
    assert.equal(v2OfTfDataType('DT_FLOAT'), 'FP32');
    assert.equal(v2OfTfDataType('DT_STRING'), 'BYTES');
    assert.equal(v2OfTfDataType('DT_BFLOAT16'), 'BF16');
    assert.equal(v2OfTfDataType('DT_RESOURCE'), undefined);
    assert.equal(v2OfTfDataType('DT_COMPLEX64'), undefined);
  });
});
