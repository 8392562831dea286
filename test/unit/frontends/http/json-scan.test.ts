// The pre-scan of request JSON (json-scan.ts): counts containers and depth outside strings only,
// refuses beyond the limits with the right code, and never throws anything else on garbage.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { JSON_LIMITS, JsonScan, scanJson } from '../../../../src/frontends/http/json-scan.js';
import { InferenceError } from '../../../../src/errors/inference-error.js';
import { ErrorCode } from '../../../../src/errors/error-codes.js';
import { noise } from '../../../helpers/noise.js';

const scan = (text: string, limits = JSON_LIMITS) => scanJson(Buffer.from(text), 'the body', limits);
const small = { depth: 3, objects: 2, arrays: 3 };
const codeOf = (f: () => void): ErrorCode | undefined => {
  try {
    f();
    return undefined;
  } catch (e) {
    assert.ok(e instanceof InferenceError, String(e));
    return e.code;
  }
};

describe('scanJson', () => {
  it('passes requests within the limits, whatever their strings hold', () => {
    scan('{"inputs":[{"name":"[[[[{{{{","shape":[1,2],"data":[[1,2]]}]}');
    scan('{"a":"\\\\"}'); // an escaped backslash ends the string at the next quote
    scan('{"a":"\\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}', small);
    scan('  "just a string"', small);
  });

  it('refuses depth (INVALID_ARG), objects and arrays (RESOURCE_EXHAUSTED) beyond the limits', () => {
    assert.equal(codeOf(() => scan('[[[[]]]]', small)), ErrorCode.INVALID_ARG);
    assert.throws(() => scan('[[[[]]]]', small), /the body is nested deeper than 3 levels/);
    assert.equal(codeOf(() => scan('[{},{},{}]', small)), ErrorCode.RESOURCE_EXHAUSTED);
    assert.throws(() => scan('[{},{},{}]', small), /the body has more than 2 JSON objects/);
    assert.throws(() => scan('[[],[],[]]', small), /more than 3 JSON arrays/);
  });

  it('never throws anything but its own refusals on garbage', () => {
    for (let seed = 1; seed <= 2000; seed++) {
      const bytes = noise(1 + (seed % 500), seed);
      bytes[0] = seed % 2 === 0 ? 0x7b : 0x5b; // start like JSON so the scan runs
      const code = codeOf(() => scanJson(bytes, 'x', small));
      assert.ok(code === undefined || code === ErrorCode.INVALID_ARG || code === ErrorCode.RESOURCE_EXHAUSTED);
    }
  });

  it('refuses a body no JSON value can start, from its first byte, without reading the rest', () => {
    const zeros = new Uint8Array(64 << 20); // what a gzip bomb of zeros inflates to
    const t0 = performance.now();
    assert.throws(() => scanJson(zeros, 'the header'), (e: unknown) => e instanceof InferenceError && e.code === ErrorCode.INVALID_ARG
      && e.message === 'failed to parse the header: unexpected character "\\u0000" at offset 0');
    assert.ok(performance.now() - t0 < 50, 'refused from the first byte');
    assert.throws(() => scanJson(new TextEncoder().encode('  <html>'), 'x'), /unexpected character "<" at offset 2/);
    // Scalars and non-ASCII starts are left to the parser (its own messages).
    for (const ok of ['1', '-2', '"s"', 'true', 'false', 'null', '', '   ', '\u00e9']) scanJson(new TextEncoder().encode(ok), 'x');
  });
});

describe('JsonScan (fed in pieces)', () => {
  const outcome = (f: () => void): string => {
    try {
      f();
      return 'ok';
    } catch (e) {
      return e instanceof Error ? e.message : String(e);
    }
  };
  const texts = [
    '{"inputs":[{"name":"[[[[{{{{","shape":[1,2],"data":[[1,2]]}]}',
    '{"a":"\\\\"}[[[[', '{"a":"\\"[[[[[[[[[[["}', '  "just a string" [[[[[[', '[{},{},{}]', '[[[[]]]]', '   \u0000', '\n\t  <x',
    `{"a":"${'\\\\\\"'.repeat(20)}[[[[[[[["}`,
  ];

  it('gives the same outcome as one scan, however the bytes are split', () => {
    for (const text of texts) {
      const bytes = Buffer.from(text);
      const whole = outcome(() => scanJson(bytes, 'the body', small));
      for (let cut = 0; cut <= bytes.length; cut++) {
        for (const step of [1, 2, 3, 7]) {
          const split = outcome(() => {
            const s = new JsonScan('the body', small);
            s.push(bytes.subarray(0, cut));
            for (let at = cut; at < bytes.length; at += step) s.push(bytes.subarray(at, at + step));
          });
          assert.equal(split, whole, `${JSON.stringify(text)} cut at ${cut}, then pieces of ${step}`);
        }
      }
    }
  });

  it('gives the same outcome as one scan on garbage split at random', () => {
    for (let seed = 1; seed <= 500; seed++) {
      const bytes = noise(1 + (seed % 300), seed);
      bytes[0] = seed % 2 === 0 ? 0x7b : 0x5b;
      const whole = outcome(() => scanJson(bytes, 'x', small));
      const s = new JsonScan('x', small);
      const split = outcome(() => {
        for (let at = 0; at < bytes.length;) {
          const n = 1 + ((seed * 31 + at) % 17);
          s.push(bytes.subarray(at, at + n));
          at += n;
        }
      });
      assert.equal(split, whole, `seed ${seed}`);
    }
  });
});
