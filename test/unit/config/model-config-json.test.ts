import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';

import { ErrorCode } from '../../../src/errors/error-codes.js';
import { InferenceError } from '../../../src/errors/inference-error.js';
import { findPackageRoot } from '../../../src/util/package-root.js';
import { normalizeModelConfig } from '../../../src/config/model-config-normalize.js';
import { modelConfigFromJson, modelConfigToJson, parseModelConfigText } from '../../../src/config/pbtxt.js';
import { modelConfigFromJsonText } from '../../../src/config/model-config-json.js';
import { stringifyLosslessJson } from '../../../src/util/lossless-json.js';

const FIXTURES = join(findPackageRoot(), 'test', 'fixtures', 'pbtxt');
const fixture = (name: string) => parseModelConfigText(readFileSync(join(FIXTURES, name), 'utf8'), name);

function assertJsonRejected(obj: unknown, pattern: RegExp): void {
  assert.throws(() => modelConfigFromJson(obj, 'override'), (err: unknown) => {
    assert.ok(err instanceof InferenceError);
    assert.equal(err.code, ErrorCode.INVALID_ARG);
    assert.match(err.message, /^override: config/);
    assert.match(err.message, pattern);
    return true;
  });
}

describe('modelConfigToJson / modelConfigFromJson', () => {
  for (const name of ['simple.pbtxt', 'full.pbtxt', 'ensemble.pbtxt', 'sequence.pbtxt']) {
    it(`round-trips ${name} through JSON text without loss`, () => {
      const config = fixture(name);
      const sparse = JSON.parse(JSON.stringify(modelConfigToJson(config, { includeDefaults: false })));
      assert.deepEqual(modelConfigFromJson(sparse, name), config);
      const full = JSON.parse(JSON.stringify(modelConfigToJson(config)));
      assert.deepEqual(modelConfigToJson(modelConfigFromJson(full, name)), full);
    });
  }

  it('writes absent scalars, lists and maps as defaults but not absent messages or oneof members', () => {
    const json = modelConfigToJson({ name: 'm', input: [{ name: 'x' }] });
    assert.equal(json.platform, '');
    assert.equal(json.max_batch_size, 0);
    assert.deepEqual(json.cc_model_filenames, {});
    assert.deepEqual(json.instance_group, []);
    assert.ok(!('version_policy' in json));
    assert.ok(!('dynamic_batching' in json));
    assert.deepEqual(json.input, [{
      name: 'x', data_type: 'TYPE_INVALID', format: 'FORMAT_NONE', dims: [], is_shape_tensor: false,
      allow_ragged_batch: false, optional: false, is_non_linear_format_io: false,
    }]);
  });

  it('writes fields in proto declaration order, as Triton does', () => {
    const json = modelConfigToJson(normalizeModelConfig(fixture('simple.pbtxt'), { modelName: 'simple' }));
    assert.deepEqual(Object.keys(json).slice(0, 8), [
      'name', 'platform', 'backend', 'runtime', 'version_policy', 'max_batch_size', 'input', 'output',
    ]);
  });

  it('writes 64-bit integers as JSON numbers and non-finite floats as protobuf strings', () => {
    const json = modelConfigToJson({
      dynamic_batching: { max_queue_delay_microseconds: 9007199254740991 },
      model_metrics: { metric_control: [{ histogram_options: { buckets: [1, Infinity, -Infinity, NaN] } }] },
    }, { includeDefaults: false });
    assert.equal(JSON.stringify(json),
      '{"dynamic_batching":{"max_queue_delay_microseconds":9007199254740991},' +
      '"model_metrics":{"metric_control":[{"histogram_options":{"buckets":[1,"Infinity","-Infinity","NaN"]}}]}}');
  });

  it('reads uint64 values beyond 2^53 from JSON text exactly and writes them back exactly', () => {
    const text = '{"name":"m","dynamic_batching":{"priority_levels":18446744073709551615,"default_priority_level":"18446744073709551615",' +
      '"default_queue_policy":{"default_timeout_microseconds":18446744073709551615},"max_queue_delay_microseconds":4.0},"max_batch_size":8e0}';
    const config = modelConfigFromJsonText(text, 'override');
    assert.deepEqual(config.dynamic_batching, {
      priority_levels: 18446744073709551615n, default_priority_level: 18446744073709551615n,
      default_queue_policy: { default_timeout_microseconds: 18446744073709551615n }, max_queue_delay_microseconds: 4,
    });
    assert.equal(config.max_batch_size, 8);
    const written = stringifyLosslessJson(modelConfigToJson(config, { includeDefaults: false }));
    assert.match(written, /"priority_levels":18446744073709551615,"default_priority_level":18446744073709551615/);
    assert.match(written, /"default_timeout_microseconds":18446744073709551615/);
    assert.deepEqual(modelConfigFromJsonText(written, 'again'), config);
    assert.throws(() => modelConfigFromJsonText('{"max_batch_size": ', 'override'), /^InferenceError|override: unexpected end of JSON/);
    assert.throws(() => modelConfigFromJsonText('{"max_batch_size": 1.5}', 'override'), /expected an integer \(int32\), got number 1\.5/);
  });

  it('accepts int64 as strings, enums case-insensitively or by number, camelCase names and null', () => {
    const config = modelConfigFromJson({
      name: 'm',
      maxBatchSize: '4',
      input: [{ name: 'x', data_type: 'type_fp32', dims: ['-1', 3], format: 1 }],
      dynamic_batching: { priority_queue_policy: { '2': { timeout_action: 'delay' } } },
      model_metrics: { metric_control: [{ histogram_options: { buckets: ['Infinity', 'NaN', '2.5', 1] } }] },
      platform: null,
    }, 'override');
    assert.deepEqual(config.input, [{ name: 'x', data_type: 'TYPE_FP32', dims: [-1, 3], format: 'FORMAT_NHWC' }]);
    assert.equal(config.max_batch_size, 4);
    assert.ok(!('platform' in config));
    assert.deepEqual(config.dynamic_batching, { priority_queue_policy: { '2': { timeout_action: 'DELAY' } } });
    const buckets = config.model_metrics!.metric_control![0]!.histogram_options!.buckets!;
    assert.deepEqual(buckets.slice(2), [2.5, 1]);
    assert.equal(buckets[0], Infinity);
    assert.ok(Number.isNaN(buckets[1]));
  });

  it('keeps a map key named __proto__ as an entry through JSON and normalize', () => {
    const config = modelConfigFromJson(JSON.parse('{"backend":"python","parameters":{"__proto__":{"string_value":"x"}}}'), 'o');
    assert.equal(Object.getPrototypeOf(config.parameters), Object.prototype);
    const normalized = normalizeModelConfig(config, { modelName: 'm' });
    assert.equal(JSON.stringify(modelConfigToJson(normalized).parameters), '{"__proto__":{"string_value":"x"}}');
  });

  it('rejects unknown fields, wrong types and bad values with a JSON path', () => {
    assertJsonRejected({ nme: 'x' }, /config\.nme: unknown field 'nme' in inference\.ModelConfig/);
    assertJsonRejected({ input: [{ dims: [1, 'two'] }] }, /config\.input\[0\]\.dims\[1\]: expected an integer \(int64\), got "two"/);
    assertJsonRejected({ input: { name: 'x' } }, /config\.input: expected an array/);
    assertJsonRejected({ version_policy: [] }, /config\.version_policy: expected an object/);
    assertJsonRejected({ max_batch_size: 1.5 }, /expected an integer \(int32\)/);
    assertJsonRejected({ max_batch_size: 2 ** 31 }, /out of range for int32/);
    assertJsonRejected({ input: [{ dims: [2 ** 60] }] }, /beyond Number\.MAX_SAFE_INTEGER/);
    assertJsonRejected({ input: [{ dims: ['9007199254740993'] }] }, /beyond Number\.MAX_SAFE_INTEGER/);
    assertJsonRejected({ input: [{ data_type: 'FP32' }] }, /invalid value "FP32" for enum inference\.DataType/);
    assertJsonRejected({ response_cache: { enable: 'true' } }, /expected true or false/);
    assertJsonRejected({ name: 7 }, /config\.name: expected a string, got number 7/);
    assertJsonRejected({ dynamic_batching: { priority_queue_policy: { one: {} } } }, /priority_queue_policy\.one: expected an integer \(uint64\)/);
    assertJsonRejected({ dynamic_batching: {}, sequence_batching: {} }, /oneof 'scheduling_choice'/);
    assertJsonRejected({ max_batch_size: 1, maxBatchSize: 2 }, /'max_batch_size' is given twice/);
    assertJsonRejected('{"name":"x"}', /expected an object for inference\.ModelConfig, got "\{/);
    assertJsonRejected(null, /expected an object/);
  });
});
