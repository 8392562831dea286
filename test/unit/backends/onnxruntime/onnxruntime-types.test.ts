import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DATATYPES } from '../../../../src/core/datatype.js';
import { InferenceError } from '../../../../src/errors/inference-error.js';
import {
  bytesOf, checkOutputStrings, datatypeOfOrtType, decodeBytesElements, encodeBytesElements, ortTypeOf, typedView,
} from '../../../../src/backends/onnxruntime/onnxruntime-types.js';

const invalidArg = (pattern: RegExp) => (err: unknown): boolean => {
  assert.ok(err instanceof InferenceError);
  assert.equal(err.code, 'INVALID_ARG');
  assert.match(err.message, pattern);
  return true;
};

describe('v2 datatype ↔ ORT type', () => {
  it('maps every datatype but BF16 both ways', () => {
    for (const dt of DATATYPES) {
      const ort = ortTypeOf(dt);
      if (dt === 'BF16') {
        assert.equal(ort, undefined);
        continue;
      }
      assert.ok(ort !== undefined, dt);
      assert.equal(datatypeOfOrtType(ort), dt);
    }
    assert.equal(ortTypeOf('BYTES'), 'string');
    assert.equal(ortTypeOf('FP16'), 'float16');
    assert.equal(ortTypeOf('BOOL'), 'bool');
  });

  it('has no datatype for ORT types v2 cannot carry', () => {
    for (const t of ['uint4', 'int4', 'float8', '', 'FLOAT32']) assert.equal(datatypeOfOrtType(t), undefined);
  });
});

describe('typedView', () => {
  it('views aligned bytes without copying', () => {
    const bytes = new Uint8Array(new Float32Array([1.5, -2]).buffer);
    const view = typedView('FP32', bytes, 'X');
    assert.ok(view instanceof Float32Array);
    assert.equal(view.buffer, bytes.buffer);
    assert.deepEqual([...view], [1.5, -2]);
  });

  it('copies misaligned bytes into an aligned buffer', () => {
    const backing = new Uint8Array(9);
    new DataView(backing.buffer).setBigInt64(1, -7n, true);
    const view = typedView('INT64', backing.subarray(1), 'X');
    assert.ok(view instanceof BigInt64Array);
    assert.notEqual(view.buffer, backing.buffer);
    assert.deepEqual([...view], [-7n]);
  });

  it('rejects a byte length that is not a whole number of elements', () => {
    assert.throws(() => typedView('INT32', new Uint8Array(6), 'X'), invalidArg(/tensor 'X': 6 bytes is not a whole number of INT32 elements/));
  });

  it('bytesOf views a typed array without copying', () => {
    const a = new Uint16Array([1, 2, 3]).subarray(1);
    const b = bytesOf(a);
    assert.equal(b.buffer, a.buffer);
    assert.equal(b.byteOffset, 2);
    assert.equal(b.byteLength, 4);
  });
});

describe('BYTES framing', () => {
  it('round-trips strings, including empty and non-ASCII ones', () => {
    const strings = ['héllo', '', 'a\uFFFDb', '日本'];
    assert.deepEqual(decodeBytesElements(encodeBytesElements(strings), 'S'), strings);
    assert.deepEqual(decodeBytesElements(new Uint8Array(0), 'S'), []);
  });

  it('refuses elements onnxruntime-node would change: a NUL byte, bytes that are not UTF-8', () => {
    const framed = (...elements: number[][]) => new Uint8Array(elements.flatMap((e) => [e.length, 0, 0, 0, ...e]));
    assert.throws(() => decodeBytesElements(framed([0x6f, 0x6b], [0x68, 0x65, 0, 0x6c]), 'S'),
      invalidArg(/^tensor 'S': BYTES element 1 holds a NUL byte at offset 2, .*C strings.*refused rather than truncated$/));
    assert.throws(() => decodeBytesElements(framed([0xff, 0xfe]), 'S'),
      invalidArg(/^tensor 'S': BYTES element 0 is not valid UTF-8, .*U\+FFFD: refused rather than changed$/));
    assert.throws(() => decodeBytesElements(framed([0xe6, 0x97]), 'S'), invalidArg(/element 0 is not valid UTF-8/), 'a cut multi-byte sequence');
  });

  it('refuses output strings holding U+FFFD and passes NULs', () => {
    checkOutputStrings(['he\u0000llo', ''], 'O');
    assert.throws(() => checkOutputStrings(['ok', 'x\uFFFD'], 'O'), invalidArg(/^tensor 'O': BYTES element 1 contains U\+FFFD/));
  });

  it('decodes from a view at an offset', () => {
    const framed = encodeBytesElements(['xy']);
    const backing = new Uint8Array(framed.byteLength + 3);
    backing.set(framed, 3);
    assert.deepEqual(decodeBytesElements(backing.subarray(3), 'S'), ['xy']);
  });

  it('rejects a truncated length prefix', () => {
    assert.throws(() => decodeBytesElements(new Uint8Array([1, 0, 0]), 'S'), invalidArg(/'S': BYTES element 0 has a truncated length prefix at byte 0/));
    const framed = encodeBytesElements(['ok']);
    const bad = new Uint8Array([...framed, 9]);
    assert.throws(() => decodeBytesElements(bad, 'S'), invalidArg(/element 1 has a truncated length prefix at byte 6/));
  });

  it('rejects a length that runs past the end', () => {
    assert.throws(() => decodeBytesElements(new Uint8Array([5, 0, 0, 0, 1, 2]), 'S'), invalidArg(/element 0 claims 5 bytes but only 2 remain/));
    assert.throws(() => decodeBytesElements(new Uint8Array([255, 255, 255, 255]), 'S'), invalidArg(/claims 4294967295 bytes/));
  });
});
