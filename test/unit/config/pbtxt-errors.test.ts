import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import protobuf from 'protobufjs';

import { ErrorCode } from '../../../src/errors/error-codes.js';
import { InferenceError } from '../../../src/errors/inference-error.js';
import { findPackageRoot } from '../../../src/util/package-root.js';
import { MAX_NESTING_DEPTH, parseModelConfigText, parseTextFormat } from '../../../src/config/pbtxt.js';

const FIXTURES = join(findPackageRoot(), 'test', 'fixtures', 'pbtxt');

/** Asserts INVALID_ARG at `line:column` of m/config.pbtxt whose message matches `pattern`. */
function assertRejected(text: string, line: number, column: number, pattern: RegExp): void {
  assert.throws(
    () => parseModelConfigText(text, 'm/config.pbtxt'),
    (err: unknown) => {
      assert.ok(err instanceof InferenceError, `expected InferenceError, got ${String(err)}`);
      assert.equal(err.code, ErrorCode.INVALID_ARG);
      assert.ok(err.message.startsWith(`m/config.pbtxt:${line}:${column}: `), err.message);
      assert.match(err.message, pattern);
      return true;
    },
  );
}

/** Asserts only that parsing fails cleanly: INVALID_ARG citing the file with a line and column. */
function assertCleanFailure(text: string): void {
  try {
    parseModelConfigText(text, 'g.pbtxt');
  } catch (err) {
    assert.ok(err instanceof InferenceError, `expected InferenceError, got ${String(err)}`);
    assert.equal(err.code, ErrorCode.INVALID_ARG);
    assert.match(err.message, /^g\.pbtxt:\d+:\d+: \S/);
    return;
  }
  assert.fail(`garbage parsed without error: ${JSON.stringify(text.slice(0, 60))}`);
}

describe('parseModelConfigText rejects invalid configs with file:line:column', () => {
  it('unknown fields, naming the message type', () => {
    assertRejected('name: "a"\nbogus: 1', 2, 1, /unknown field 'bogus' in inference\.ModelConfig/);
    assertRejected('input {\n  name: "x"\n  dimz: [1]\n}', 3, 3, /unknown field 'dimz' in inference\.ModelInput/);
    assertRejected('constructor: 1', 1, 1, /unknown field 'constructor'/);
    assertRejected('__proto__ { }', 1, 1, /unknown field '__proto__'/);
  });

  it('field names in camelCase or brackets', () => {
    assertRejected('maxBatchSize: 1', 1, 1, /unknown field 'maxBatchSize'/);
    assertRejected('[inference.ext]: 1', 1, 1, /expected a field name/);
  });

  it('wrong value types', () => {
    assertRejected('max_batch_size: "8"', 1, 17, /expected an integer \(int32\) for field 'max_batch_size'/);
    assertRejected('max_batch_size: 1.5', 1, 17, /expected an integer/);
    assertRejected('name: simple', 1, 7, /expected a quoted string for field 'name'/);
    assertRejected('response_cache { enable: yes }', 1, 26, /expected a bool/);
    assertRejected('response_cache { enable: 2 }', 1, 26, /expected a bool/);
    assertRejected('input { data_type: TYPE_FLOAT }', 1, 20, /invalid value 'TYPE_FLOAT'.*expected one of TYPE_INVALID, TYPE_BOOL/);
    assertRejected('input { data_type: 99 }', 1, 20, /invalid value '99' for enum field 'data_type'/);
    assertRejected('input { data_type: "TYPE_FP32" }', 1, 20, /invalid value/);
    assertRejected('version_policy: 3', 1, 17, /expected '\{' or '<' to start message 'version_policy'/);
    assertRejected('model_metrics { metric_control { histogram_options { buckets: [x] } } }', 1, 64, /expected a number \(double\)/);
  });

  it('a missing colon before a scalar value', () => {
    assertRejected('max_batch_size 8', 1, 16, /expected ':' after field name 'max_batch_size'/);
  });

  it('a list for a singular field, and malformed lists', () => {
    assertRejected('name: ["a", "b"]', 1, 7, /'name' is not repeated; a list/);
    assertRejected('input { dims: [1 2] }', 1, 18, /expected ',' or '\]' in the list of 'dims'/);
    assertRejected('input { dims: [1, ] }', 1, 19, /expected an integer/);
    assertRejected('input { dims: [1, 2', 1, 20, /expected an integer .* got end of file|expected ',' or '\]'/);
  });

  it('malformed map entries', () => {
    assertRejected('metric_tags { k: "a" }', 1, 15, /expected 'key' or 'value' in an entry of map 'metric_tags'/);
    assertRejected('metric_tags { key: "a" key: "b" }', 1, 24, /'key' is given twice/);
    assertRejected('metric_tags { key: 1 value: "b" }', 1, 20, /expected a quoted string/);
    assertRejected('dynamic_batching { priority_queue_policy { key: -1 value {} } }', 1, 49, /out of range for uint64/);
    assertRejected('metric_tags: "x"', 1, 14, /expected '\{' or '<' to start an entry of map 'metric_tags'/);
  });

  it('unterminated strings, blocks and map entries', () => {
    assertRejected('name: "abc', 1, 7, /unterminated string/);
    assertRejected("name: 'abc\"\n", 1, 7, /unterminated string/);
    assertRejected('name: "ab\ncd"', 1, 7, /unterminated string/);
    assertRejected('input {\n  name: "x"\n', 3, 1, /unexpected end of file: expected '\}' to close the message opened at 1:7/);
    assertRejected('input < name: "x" }', 1, 19, /expected a field name/);
    assertRejected('metric_tags { key: "a"', 1, 23, /close the map entry opened at 1:13/);
    assertRejected('}', 1, 1, /expected a field name of inference\.ModelConfig, got '\}'/);
  });

  it('bad escapes', () => {
    assertRejected('name: "a\\qb"', 1, 9, /invalid escape sequence: backslash followed by 'q'/);
    assertRejected('name: "\\x"', 1, 8, /invalid escape '\\x'/);
    assertRejected('name: "\\u12"', 1, 8, /expected 4 hex digits/);
    assertRejected('name: "\\uD800"', 1, 8, /Unicode scalar value/);
    assertRejected('name: "\\400"', 1, 8, /octal escape '\\400' exceeds one byte/);
    assertRejected('name: "\\xff"', 1, 7, /not valid UTF-8/);
  });

  it('out-of-range and imprecise integers', () => {
    assertRejected('max_batch_size: 2147483648', 1, 17, /out of range for int32/);
    assertRejected('max_batch_size: -2147483649', 1, 17, /out of range for int32/);
    assertRejected('instance_group { rate_limiter { priority: -1 } }', 1, 43, /out of range for uint32/);
    assertRejected('input { dims: 9007199254740992 }', 1, 15, /beyond Number\.MAX_SAFE_INTEGER/);
    assertRejected('input { dims: -9223372036854775808 }', 1, 15, /beyond Number\.MAX_SAFE_INTEGER/);
    assertRejected('input { dims: 99999999999999999999999999999 }', 1, 15, /out of range for int64/);
    assertRejected('dynamic_batching { priority_levels: 0xFFFFFFFFFFFFFFFFF }', 1, 37, /out of range for uint64/);
  });

  it('malformed numbers', () => {
    assertRejected('max_batch_size: 12abc', 1, 17, /got '12abc'/);
    assertRejected('max_batch_size: 08', 1, 17, /got '08'/);
    assertRejected('model_metrics { metric_control { histogram_options { buckets: 1.2.3 } } }', 1, 63, /got '1\.2\.3'/);
    assertRejected('max_batch_size: --1', 1, 18, /expected an integer/);
  });

  it('stray characters, with control characters shown as code points', () => {
    assertRejected('name: "a" @', 1, 11, /unexpected character '@'/);
    assertRejected('name: "a"\n\u0000', 2, 1, /unexpected character U\+0000/);
    assertRejected('name: "a" \u00e9', 1, 11, /unexpected character U\+00E9/);
  });

  it('survives deeply nested braces without exhausting the stack', () => {
    assertRejected('{'.repeat(100_000), 1, 1, /expected a field name/);
    assertRejected('input {'.repeat(50_000), 1, 8, /unknown field 'input' in inference\.ModelInput/);
    assertRejected('<'.repeat(10_000), 1, 1, /expected a field name/);
  });

  it(`caps message nesting at ${MAX_NESTING_DEPTH} levels for a recursive schema`, () => {
    const root = protobuf.parse('syntax = "proto3"; message Node { Node child = 1; int32 id = 2; }', { keepCase: true }).root;
    root.resolveAll();
    const node = root.lookupType('Node');
    const nested = (depth: number): string => 'child { '.repeat(depth) + 'id: 1' + ' }'.repeat(depth);
    let parsed = parseTextFormat(nested(MAX_NESTING_DEPTH), 'n.pbtxt', node);
    for (let i = 0; i < MAX_NESTING_DEPTH; i++) parsed = parsed.child as Record<string, unknown>;
    assert.deepEqual(parsed, { id: 1 });
    assert.throws(() => parseTextFormat(nested(100_000), 'n.pbtxt', node),
      (err: unknown) => err instanceof InferenceError && err.code === ErrorCode.INVALID_ARG &&
        err.message === `n.pbtxt:1:${8 * MAX_NESTING_DEPTH + 7}: messages nested deeper than ${MAX_NESTING_DEPTH} levels`);
  });
});

describe('parseModelConfigText on garbage', () => {
  it('fails cleanly on every truncation of a real config', () => {
    const text = readFileSync(join(FIXTURES, 'full.pbtxt'), 'utf8');
    let failures = 0;
    for (let end = 1; end < text.length; end += 7) {
      try {
        parseModelConfigText(text.slice(0, end), 'g.pbtxt');
      } catch (err) {
        assert.ok(err instanceof InferenceError && err.code === ErrorCode.INVALID_ARG, String(err));
        assert.match(err.message, /^g\.pbtxt:\d+:\d+: /);
        failures++;
      }
    }
    assert.ok(failures > 50, `only ${failures} truncations failed`);
  });

  it('fails cleanly on random bytes decoded as UTF-8 and as Latin-1', () => {
    let seed = 12345;
    const nextByte = (): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed >>> 16 & 0xff;
    };
    for (let i = 0; i < 200; i++) {
      const bytes = Buffer.from(Array.from({ length: 1 + (i % 97) * 3 }, nextByte));
      // A leading byte that cannot start a field name guarantees the sample is not valid by luck.
      bytes[0] = 0x40;
      assertCleanFailure(bytes.toString('utf8'));
      assertCleanFailure(bytes.toString('latin1'));
    }
  });

  it('fails cleanly on binary noise: a protobuf-encoded config and an ONNX-like header', () => {
    assertCleanFailure('\n\u0006simple\u0012\u0010onnxruntime_onnx \b');
    assertCleanFailure('\b\u0007\u0012\u0007pytorch\u001a\u00052.0.0:\u00a3\u0001');
  });

  it('fails cleanly on huge numbers and long runs of symbols', () => {
    assertCleanFailure(`max_batch_size: ${'9'.repeat(10_000)}`);
    assertCleanFailure(`model_metrics { metric_control { histogram_options { buckets: 1e${'9'.repeat(400)}x } } }`);
    assertCleanFailure(']'.repeat(10_000));
    assertCleanFailure(`name: ${'"a" '.repeat(10_000)}`.replace(/ $/, ' "'));
  });
});
