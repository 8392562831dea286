import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import {
  bytesElementStrings, bytesElementViews, countBytesElements, encodeBytesElements, FramingError,
} from '../../../src/core/bytes-tensor.js';

const utf8 = new TextDecoder();

/** Deterministic PRNG so a failing fuzz case can be reproduced. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('encodeBytesElements', () => {
  it('writes a 4-byte little-endian length before each element', () => {
    const data = encodeBytesElements(['ab', new Uint8Array([0xff]), '']);
    assert.deepEqual([...data], [2, 0, 0, 0, 97, 98, 1, 0, 0, 0, 0xff, 0, 0, 0, 0]);
  });

  it('encodes strings as UTF-8, counting bytes not characters', () => {
    const data = encodeBytesElements(['é日😀']);
    assert.deepEqual([...data.subarray(0, 4)], [9, 0, 0, 0]);
    assert.equal(utf8.decode(data.subarray(4)), 'é日😀');
  });

  it('writes a lone surrogate as U+FFFD and frames it consistently', () => {
    const data = encodeBytesElements(['a\uD800b']);
    assert.deepEqual([...data], [5, 0, 0, 0, 0x61, 0xef, 0xbf, 0xbd, 0x62]);
  });

  it('returns an empty buffer for no elements, in a fresh ArrayBuffer otherwise', () => {
    assert.equal(encodeBytesElements([]).byteLength, 0);
    const data = encodeBytesElements([Buffer.from('xyz')]);
    assert.equal(data.byteOffset, 0);
    assert.equal(data.buffer.byteLength, data.byteLength);
    assert.ok(!Buffer.isBuffer(data), 'returns a plain Uint8Array');
  });

  it('copies byte elements that are views into a larger buffer', () => {
    const big = new Uint8Array([9, 9, 1, 2, 3, 9]);
    const data = encodeBytesElements([big.subarray(2, 5)]);
    assert.deepEqual([...data], [3, 0, 0, 0, 1, 2, 3]);
  });
});

describe('countBytesElements / bytesElementViews', () => {
  it('round-trips empty strings, multi-byte UTF-8 and binary elements', () => {
    const elements = ['', 'a', 'héllo', '日本語', '😀', '', 'x'.repeat(300)];
    const data = encodeBytesElements([...elements, new Uint8Array([0, 255, 0])]);
    assert.equal(countBytesElements(data), elements.length + 1);
    const views = bytesElementViews(data);
    assert.deepEqual(views.slice(0, -1).map((v) => utf8.decode(v)), elements);
    assert.deepEqual([...views.at(-1)!], [0, 255, 0]);
  });

  it('returns views sharing memory with the input, also at a non-zero offset', () => {
    const framed = encodeBytesElements(['abc', 'de']);
    const backing = new Uint8Array(framed.byteLength + 3);
    backing.set(framed, 3);
    const data = backing.subarray(3);
    const views = bytesElementViews(data);
    assert.equal(views[1]!.buffer, backing.buffer);
    assert.equal(views[1]!.byteOffset, 3 + 7 + 4);
    backing[3 + 4] = 0x41; // first content byte of element 0
    assert.equal(utf8.decode(views[0]), 'Abc');
  });

  it('decodes elements as UTF-8 strings, replacing invalid sequences and keeping a BOM', () => {
    const data = new Uint8Array([
      3, 0, 0, 0, 0xef, 0xbb, 0xbf, 0, 0, 0, 0, 2, 0, 0, 0, 0xff, 0x61, 3, 0, 0, 0, 0xe6, 0x97, 0xa5,
    ]);
    assert.deepEqual(bytesElementStrings(data), ['\uFEFF', '', '\uFFFDa', '日']);
    assert.deepEqual(bytesElementStrings(encodeBytesElements(['x', '😀'])), ['x', '😀']);
    assert.throws(() => bytesElementStrings(new Uint8Array([1, 0, 0, 0])), /element 0 at byte 0 declares 1 bytes/);
  });

  it('reads a zero-length buffer as no elements', () => {
    assert.equal(countBytesElements(new Uint8Array(0)), 0);
    assert.deepEqual(bytesElementViews(new Uint8Array(0)), []);
  });

  it('rejects a truncated length prefix, saying where', () => {
    const data = new Uint8Array([1, 0, 0, 0, 0x61, 2, 0]);
    for (const fn of [countBytesElements, bytesElementViews]) {
      assert.throws(() => fn(data), (err: unknown) => {
        assert.ok(err instanceof FramingError);
        assert.match(err.message, /truncated length prefix at byte 5: element 1 needs 4 bytes but only 2 remain/);
        assert.equal(err.offset, 5);
        return true;
      });
    }
  });

  it('rejects an element longer than the bytes that remain', () => {
    const data = new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 100, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7]);
    assert.throws(() => countBytesElements(data), {
      name: 'FramingError',
      message: 'element 3 at byte 12 declares 100 bytes but only 7 remain',
    });
  });

  it('rejects a maximal length prefix without allocating or looping', () => {
    const data = new Uint8Array([0xff, 0xff, 0xff, 0xff, 1]);
    assert.throws(() => bytesElementViews(data), /declares 4294967295 bytes but only 1 remain/);
  });

  it('on random garbage, throws FramingError or parses consistently', () => {
    const rand = lcg(42);
    let parsed = 0;
    for (let trial = 0; trial < 3000; trial++) {
      const data = trial % 2 === 0 ? randomBytes(rand) : corruptedFraming(rand);
      let views: Uint8Array[];
      try {
        views = bytesElementViews(data);
      } catch (err) {
        assert.ok(err instanceof FramingError, String(err));
        assert.throws(() => countBytesElements(data), FramingError);
        assert.throws(() => bytesElementStrings(data), FramingError);
        continue;
      }
      parsed++;
      assert.equal(countBytesElements(data), views.length);
      assert.equal(bytesElementStrings(data).length, views.length);
      assert.deepEqual(encodeBytesElements(views), data);
    }
    assert.ok(parsed > 100, `only ${parsed} garbage buffers happened to parse`);
  });
});

/** Random bytes, mostly small values so that some of them happen to frame correctly. */
function randomBytes(rand: () => number): Uint8Array {
  const data = new Uint8Array(Math.floor(rand() * 48));
  for (let i = 0; i < data.length; i++) data[i] = rand() < 0.7 ? Math.floor(rand() * 6) : Math.floor(rand() * 256);
  return data;
}

/** A valid framing with one byte overwritten, then possibly truncated. */
function corruptedFraming(rand: () => number): Uint8Array {
  const elements = Array.from({ length: Math.floor(rand() * 5) }, () => 'x'.repeat(Math.floor(rand() * 6)));
  const data = encodeBytesElements(elements);
  if (data.length === 0) return data;
  data[Math.floor(rand() * data.length)] = Math.floor(rand() * 256);
  return rand() < 0.5 ? data : data.subarray(0, Math.floor(rand() * data.length));
}
