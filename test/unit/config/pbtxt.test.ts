import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';

import { findPackageRoot } from '../../../src/util/package-root.js';
import { parseModelConfigText } from '../../../src/config/pbtxt.js';

const FIXTURES = join(findPackageRoot(), 'test', 'fixtures', 'pbtxt');
const fixture = (name: string): string => readFileSync(join(FIXTURES, name), 'utf8');
const parse = (text: string): Record<string, unknown> => parseModelConfigText(text, 'config.pbtxt') as Record<string, unknown>;

describe('parseModelConfigText on realistic configs', () => {
  it('reads a simple two-input two-output model', () => {
    const config = parseModelConfigText(fixture('simple.pbtxt'), 'simple/config.pbtxt');
    assert.deepEqual(config, {
      name: 'simple',
      platform: 'onnxruntime_onnx',
      max_batch_size: 8,
      input: [
        { name: 'INPUT0', data_type: 'TYPE_INT32', dims: [16] },
        { name: 'INPUT1', data_type: 'TYPE_INT32', dims: [16] },
      ],
      output: [
        { name: 'OUTPUT0', data_type: 'TYPE_INT32', dims: [16] },
        { name: 'OUTPUT1', data_type: 'TYPE_INT32', dims: [16] },
      ],
    });
  });

  it('reads batching, priority queue policy map, instance groups, parameters, optimization, warmup', () => {
    const config = parseModelConfigText(fixture('full.pbtxt'), 'full.pbtxt');
    assert.deepEqual(config.version_policy, { specific: { versions: [1, 3] } });
    assert.deepEqual(config.input?.[0], { name: 'image', data_type: 'TYPE_FP32', format: 'FORMAT_NCHW', dims: [3, 224, 224] });
    assert.deepEqual(config.input?.[1], {
      name: 'scale', data_type: 'TYPE_FP32', dims: [1], reshape: { shape: [] }, optional: true,
    });
    assert.equal(config.output?.[0]?.label_filename, 'labels.txt');
    assert.deepEqual(config.dynamic_batching, {
      preferred_batch_size: [4, 8],
      max_queue_delay_microseconds: 100,
      priority_levels: 2,
      default_priority_level: 2,
      default_queue_policy: { timeout_action: 'REJECT', default_timeout_microseconds: 0 },
      priority_queue_policy: {
        '1': { timeout_action: 'DELAY', default_timeout_microseconds: 100000, allow_timeout_override: true, max_queue_size: 16 },
        '2': { max_queue_size: 64 },
      },
    });
    assert.deepEqual(config.instance_group, [
      { count: 2, kind: 'KIND_CPU' },
      { name: 'gpu_group', kind: 'KIND_GPU', count: 1, gpus: [0, 1] },
    ]);
    assert.deepEqual(config.optimization, {
      graph: { level: 1 },
      priority: 'PRIORITY_MAX',
      execution_accelerators: {
        cpu_execution_accelerator: [{ name: 'openvino' }],
        gpu_execution_accelerator: [{ name: 'tensorrt', parameters: { precision_mode: 'FP16' } }],
      },
      input_pinned_memory: { enable: false },
    });
    assert.deepEqual(config.parameters, {
      intra_op_thread_count: { string_value: '1' },
      note: { string_value: "single-quoted with a 'quote' and a tab\t" },
    });
    assert.deepEqual(config.model_warmup, [{
      name: 'zeros', batch_size: 1, count: 2,
      inputs: { image: { data_type: 'TYPE_FP32', dims: [3, 224, 224], zero_data: true } },
    }]);
    assert.deepEqual(config.metric_tags, { team: 'vision' });
    assert.deepEqual(config.model_transaction_policy, { decoupled: false });
    assert.deepEqual(config.response_cache, { enable: true });
  });

  it('reads an ensemble with input_map and output_map', () => {
    const config = parseModelConfigText(fixture('ensemble.pbtxt'), 'ensemble.pbtxt');
    assert.equal(config.platform, 'ensemble');
    assert.deepEqual(config.ensemble_scheduling?.step, [
      { model_name: 'preprocess', model_version: -1, input_map: { BYTES_IN: 'RAW' }, output_map: { TENSOR_OUT: 'preprocessed' } },
      { model_name: 'classifier', model_version: -1, input_map: { image: 'preprocessed' }, output_map: { probabilities: 'SCORES' } },
    ]);
  });

  it('reads sequence batching with a oneof strategy, controls and implicit state', () => {
    const config = parseModelConfigText(fixture('sequence.pbtxt'), 'sequence.pbtxt');
    const sequence = config.sequence_batching!;
    assert.deepEqual(sequence.oldest, { max_candidate_sequences: 4, max_queue_delay_microseconds: 50 });
    assert.deepEqual(sequence.control_input?.[0]?.control, [{ kind: 'CONTROL_SEQUENCE_START', fp32_false_true: [0, 1] }]);
    assert.deepEqual(sequence.control_input?.[2]?.control, [{ kind: 'CONTROL_SEQUENCE_CORRID', data_type: 'TYPE_UINT64' }]);
    assert.deepEqual(sequence.state?.[0]?.initial_state, [{ name: 'zero', data_type: 'TYPE_INT32', dims: [1], zero_data: true }]);
  });
});

describe('text-format syntax', () => {
  it('ignores # comments anywhere, including after values and at end of file without newline', () => {
    assert.deepEqual(parse('# head\nname: "a" # tail\n# only comment\nmax_batch_size: 2 # end'), { name: 'a', max_batch_size: 2 });
  });

  it('accepts messages in {} or <>, with or without a colon', () => {
    const a = parse('version_policy { latest { num_versions: 2 } }');
    const b = parse('version_policy: < latest: < num_versions: 2 > >');
    assert.deepEqual(a, { version_policy: { latest: { num_versions: 2 } } });
    assert.deepEqual(b, a);
  });

  it('collects repeated fields from lists, repeated keys, and both mixed', () => {
    assert.deepEqual(parse('input { dims: 1 dims: [2, 3] dims: [] dims: 4 }'), { input: [{ dims: [1, 2, 3, 4] }] });
    assert.deepEqual(parse('input [ { name: "a" }, { name: "b" } ] input { name: "c" } input []'), {
      input: [{ name: 'a' }, { name: 'b' }, { name: 'c' }],
    });
  });

  it('keeps an empty list as an explicitly empty field', () => {
    assert.deepEqual(parse('output { name: "o" reshape { shape: [] } }'), { output: [{ name: 'o', reshape: { shape: [] } }] });
  });

  it('reads enums by name and by number', () => {
    assert.deepEqual(parse('input { data_type: TYPE_FP16 format: 2 }'), { input: [{ data_type: 'TYPE_FP16', format: 'FORMAT_NCHW' }] });
    assert.deepEqual(parse('instance_group { kind: 0x2 }'), { instance_group: [{ kind: 'KIND_CPU' }] });
  });

  it('decodes C escapes in both quote styles and concatenates adjacent strings', () => {
    const config = parse(String.raw`name: "a\n\t\\\'\"" 'b\x41\x7\101\0' "\u00e9\U0001F600" "" 'z'`);
    assert.equal(config.name, 'a\n\t\\\'"bA\x07A\0é😀z');
  });

  it('accepts raw UTF-8 inside strings', () => {
    assert.equal(parse('name: "modèle-ü"').name, 'modèle-ü');
  });

  it('reads maps with key/value in either order, defaults for a missing part, last duplicate key winning', () => {
    assert.deepEqual(parse('metric_tags { value: "v" key: "k" } metric_tags { key: "e" } metric_tags { key: "k" value: "w" }'), {
      metric_tags: { k: 'w', e: '' },
    });
    assert.deepEqual(parse('parameters { key: "p" }'), { parameters: { p: {} } });
    assert.deepEqual(parse('parameters [ { key: "a" value { string_value: "1" } }, { key: "b" value { } } ]'), {
      parameters: { a: { string_value: '1' }, b: {} },
    });
  });

  it('stores a map key named __proto__ as an entry, not as the prototype', () => {
    const config = parseModelConfigText('parameters { key: "__proto__" value { string_value: "x" } }', 'p.pbtxt');
    assert.deepEqual(Object.keys(config.parameters!), ['__proto__']);
    assert.equal(Object.getPrototypeOf(config.parameters), Object.prototype);
    assert.equal(Object.getOwnPropertyDescriptor(config.parameters, '__proto__')?.value.string_value, 'x');
  });

  it('writes uint64 map keys as decimal strings', () => {
    assert.deepEqual(parse('dynamic_batching { priority_queue_policy { key: 0x10 value {} } }'), {
      dynamic_batching: { priority_queue_policy: { '16': {} } },
    });
  });

  it('reads negative, hex and octal integers', () => {
    assert.deepEqual(parse('input { dims: [-1, 0x1F, 0X10, 017, 0, - 5] }'), { input: [{ dims: [-1, 31, 16, 15, 0, -5] }] });
    assert.deepEqual(parse('ensemble_scheduling { step { model_version: -0x1 } }'), {
      ensemble_scheduling: { step: [{ model_version: -1 }] },
    });
  });

  it('reads int64 values up to Number.MAX_SAFE_INTEGER exactly', () => {
    assert.deepEqual(parse('input { dims: [9007199254740991, -9007199254740991] }'), {
      input: [{ dims: [9007199254740991, -9007199254740991] }],
    });
  });

  it('reads float literals, integer literals, f suffixes, inf and nan', () => {
    const text = 'model_metrics { metric_control { histogram_options { buckets: [1.5, 1e3, -2.5E-1, .5, 3, 1.0f, 2f, 0x10, inf, -inf, Infinity, nan] } } }';
    const buckets = (parse(text) as { model_metrics: { metric_control: Array<{ histogram_options: { buckets: number[] } }> } })
      .model_metrics.metric_control[0]!.histogram_options.buckets;
    assert.deepEqual(buckets.slice(0, 11), [1.5, 1000, -0.25, 0.5, 3, 1, 2, 16, Infinity, -Infinity, Infinity]);
    assert.ok(Number.isNaN(buckets[11]));
  });

  it('reads every bool spelling', () => {
    const bools = 'sequence_batching { control_input { control { bool_false_true: [true, false, True, False, t, f, 1, 0] } } }';
    const config = parse(bools) as { sequence_batching: { control_input: Array<{ control: Array<{ bool_false_true: boolean[] }> }> } };
    assert.deepEqual(config.sequence_batching.control_input[0]!.control[0]!.bool_false_true, [true, false, true, false, true, false, true, false]);
  });

  it('accepts , or ; after any field, and no separator at all', () => {
    assert.deepEqual(parse('name: "a", max_batch_size: 1; platform: "p" backend: "b";'), {
      name: 'a', max_batch_size: 1, platform: 'p', backend: 'b',
    });
  });

  it('tolerates a byte-order mark, CRLF line ends and tabs', () => {
    assert.deepEqual(parse('\ufeffname:\t"a"\r\nmax_batch_size: 3\r\n'), { name: 'a', max_batch_size: 3 });
  });

  it('parses an empty file and a comment-only file to an empty config', () => {
    assert.deepEqual(parse(''), {});
    assert.deepEqual(parse('# nothing here\n   \n'), {});
  });
});

describe('parseModelConfigText: fields given twice and 64-bit integers, as protobuf\'s TextFormat parser', () => {
  it('a singular scalar given twice keeps the last value', () => {
    assert.deepEqual(parse('max_batch_size: 0\nmax_batch_size: 8'), { max_batch_size: 8 });
    assert.deepEqual(parse('name: "a"\nname: "b"'), { name: 'b' });
  });

  it('a message given twice is merged: scalars overwritten, lists appended', () => {
    assert.deepEqual(parse('optimization { graph { level: 1 } graph { level: 2 } }'), { optimization: { graph: { level: 2 } } });
    assert.deepEqual(
      parse('dynamic_batching { preferred_batch_size: [2] max_queue_delay_microseconds: 1 }\ndynamic_batching { preferred_batch_size: [4] max_queue_delay_microseconds: 5 }'),
      { dynamic_batching: { preferred_batch_size: [2, 4], max_queue_delay_microseconds: 5 } },
    );
  });

  it('a oneof member replaces the member set before it', () => {
    assert.deepEqual(parse('dynamic_batching { }\nsequence_batching { }'), { sequence_batching: {} });
    assert.deepEqual(parse('version_policy { latest { } all { } }'), { version_policy: { all: {} } });
  });

  it('keeps uint64 values beyond 2^53 exact (bigint) and refuses int64 values it cannot hold exactly', () => {
    const config = parse(`dynamic_batching {
      priority_levels: 18446744073709551615 default_priority_level: 18446744073709551615
      max_queue_delay_microseconds: 9007199254740993
      default_queue_policy { default_timeout_microseconds: 18446744073709551615 }
      priority_queue_policy { key: 18446744073709551615 value { max_queue_size: 3 } }
    }`);
    assert.deepEqual(config.dynamic_batching, {
      priority_levels: 18446744073709551615n,
      default_priority_level: 18446744073709551615n,
      max_queue_delay_microseconds: 9007199254740993n,
      default_queue_policy: { default_timeout_microseconds: 18446744073709551615n },
      priority_queue_policy: { '18446744073709551615': { max_queue_size: 3 } },
    });
    const safe = parse('dynamic_batching { max_queue_delay_microseconds: 9007199254740991 }').dynamic_batching as Record<string, unknown>;
    assert.equal(safe.max_queue_delay_microseconds, 9007199254740991, 'values up to 2^53 - 1 stay numbers');
    assert.throws(() => parse('input { dims: [ 9007199254740993 ] }'), /9007199254740993 is beyond Number.MAX_SAFE_INTEGER.*'dims'/);
    assert.throws(() => parse('dynamic_batching { priority_levels: 18446744073709551616 }'), /out of range for uint64/);
  });
});
