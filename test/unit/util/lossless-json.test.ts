import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { JsonFloat, JsonSyntaxError, MAX_JSON_DEPTH, parseLosslessJson, stringifyLosslessJson } from '../../../src/util/lossless-json.js';

/** JsonFloat and bigint → a number, so results compare with JSON.parse's. */
function plain(v: unknown): unknown {
  if (v instanceof JsonFloat) return v.value;
  if (typeof v === 'bigint') return Number(v);
  if (Array.isArray(v)) return v.map(plain);
  if (typeof v === 'object' && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}

const CORPUS = [
  '0', '-0', '1', '-17', '3.25', '1e3', '-2.5E-3', '0.1', 'true', 'false', 'null', '""', '"a\\"b\\\\c\\/d\\b\\f\\n\\r\\t"',
  '"\\u00e9\\ud83d\\ude00"', '"ünïcode 😀"', '[]', '{}', '[1,[2,[3,{"a":[]}]]]', ' { "k" : [ 1 , 2 ] , "z" : { } } ',
  '{"a":1,"a":2}', '{"inputs":[{"name":"IN","datatype":"INT32","shape":[1,2],"data":[1,2]}]}',
];

describe('parseLosslessJson', () => {
  it('agrees with JSON.parse on ordinary JSON', () => {
    for (const t of CORPUS) assert.deepEqual(plain(parseLosslessJson(t)), JSON.parse(t), t);
  });

  it('keeps big integers exact as bigints, and marks fractions and exponents', () => {
    assert.deepEqual(parseLosslessJson('[9007199254740991,9007199254740993,-9223372036854775808,18446744073709551615]'),
      [9007199254740991, 9007199254740993n, -9223372036854775808n, 18446744073709551615n]);
    const [a, b, c] = parseLosslessJson('[1.0,2e0,3]') as unknown[];
    assert.ok(a instanceof JsonFloat && a.value === 1 && a.text === '1.0');
    assert.ok(b instanceof JsonFloat && b.text === '2e0');
    assert.equal(c, 3);
  });

  it('accepts NaN and ±Infinity as numbers', () => {
    const v = parseLosslessJson('[NaN,Infinity,-Infinity]') as JsonFloat[];
    assert.ok(Number.isNaN(v[0]!.value));
    assert.deepEqual([v[1]!.value, v[2]!.value], [Infinity, -Infinity]);
  });

  it('a "__proto__" key is data, as with JSON.parse', () => {
    const v = parseLosslessJson('{"__proto__":{"polluted":1}}') as Record<string, unknown>;
    assert.equal(Object.getPrototypeOf(v), Object.prototype);
    assert.deepEqual(Object.keys(v), ['__proto__']);
    assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
  });

  it('names the offset of syntax errors', () => {
    const bad: [string, RegExp][] = [
      ['', /end of JSON at offset 0/], ['[1,]', /unexpected character "]" at offset 3/], ['{"a" 1}', /expected ':' at offset 5/],
      ['[1 2]', /expected ',' or ']' at offset 3/], ['"abc', /unterminated string/], ['"a\nb"', /control character/],
      ['"\\x"', /invalid escape/], ['"\\u12"', /invalid \\u escape/], ['01', /unexpected data after/], ['-', /invalid number/],
      ['1.', /unexpected data after/], ['.5', /unexpected character/], ['tru', /unexpected character/], ['{"a":1}}', /unexpected data/],
      ['{1:2}', /expected a property name/], ['nan', /unexpected character/],
    ];
    for (const [t, re] of bad) assert.throws(() => parseLosslessJson(t), (e: unknown) => e instanceof JsonSyntaxError && re.test(e.message), t);
  });

  it('refuses nesting beyond the limit instead of overflowing the stack', () => {
    const deep = '['.repeat(MAX_JSON_DEPTH + 1) + ']'.repeat(MAX_JSON_DEPTH + 1);
    assert.throws(() => parseLosslessJson(deep), /nesting deeper than/);
    const ok = '['.repeat(MAX_JSON_DEPTH) + ']'.repeat(MAX_JSON_DEPTH);
    assert.doesNotThrow(() => parseLosslessJson(ok));
    assert.throws(() => parseLosslessJson('{"a":'.repeat(100_000)), /nesting deeper than/);
  });

  it('garbage: mutated JSON either parses like JSON.parse or throws JsonSyntaxError, nothing else', () => {
    let seed = 42;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n);
    const alphabet = '{}[]",:0123456789.eE+-tfnulrsaNIy\\ \n';
    for (let i = 0; i < 3000; i++) {
      const base = CORPUS[rnd(CORPUS.length)]!;
      const chars = [...base];
      for (let k = 0; k <= rnd(3); k++) chars.splice(rnd(chars.length + 1), rnd(2), alphabet[rnd(alphabet.length)]!);
      const t = chars.join('');
      let expected: unknown;
      let valid = true;
      try {
        expected = JSON.parse(t);
      } catch {
        valid = false;
      }
      try {
        const got = parseLosslessJson(t);
        if (valid) assert.deepEqual(plain(got), expected, t);
      } catch (e) {
        assert.ok(e instanceof JsonSyntaxError, `${t}: ${String(e)}`);
        assert.ok(!valid, `JSON.parse accepts ${JSON.stringify(t)} but the lossless parser does not`);
      }
    }
  });
});

describe('stringifyLosslessJson', () => {
  it('writes bigints as exact integers and everything else as JSON.stringify does', () => {
    const value = { a: 18446744073709551615n, b: [1, -9007199254740993n, 'x"y', null, undefined], c: { d: true, e: undefined }, f: 1.5 };
    assert.equal(stringifyLosslessJson(value), '{"a":18446744073709551615,"b":[1,-9007199254740993,"x\\"y",null,null],"c":{"d":true},"f":1.5}');
    assert.deepEqual(parseLosslessJson(stringifyLosslessJson(value)), { a: 18446744073709551615n, b: [1, -9007199254740993n, 'x"y', null, null], c: { d: true }, f: new JsonFloat(1.5, '1.5') });
  });
});
