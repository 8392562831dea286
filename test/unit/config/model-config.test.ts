import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { ErrorCode } from '../../../src/errors/error-codes.js';
import { InferenceError } from '../../../src/errors/inference-error.js';
import {
  CONFIG_DATA_TYPES, configDataTypeToWire, wireToConfigDataType,
} from '../../../src/config/model-config.js';
import { modelConfigSchema } from '../../../src/config/model-config-schema.js';

describe('datatype helpers', () => {
  it('maps config datatypes to wire names and back, TYPE_STRING being BYTES', () => {
    assert.equal(configDataTypeToWire('TYPE_STRING'), 'BYTES');
    assert.equal(configDataTypeToWire('TYPE_FP32'), 'FP32');
    assert.equal(configDataTypeToWire('TYPE_BF16'), 'BF16');
    assert.equal(wireToConfigDataType('BYTES'), 'TYPE_STRING');
    for (const dataType of CONFIG_DATA_TYPES.slice(1)) {
      assert.equal(wireToConfigDataType(configDataTypeToWire(dataType)), dataType);
    }
  });

  it('treats wire names case-sensitively and maps unknown ones to TYPE_INVALID', () => {
    assert.equal(wireToConfigDataType('fp32'), 'TYPE_INVALID');
    assert.equal(wireToConfigDataType('STRING'), 'TYPE_INVALID');
    assert.equal(wireToConfigDataType('INVALID'), 'TYPE_INVALID');
  });

  it('refuses a wire name for TYPE_INVALID', () => {
    assert.throws(() => configDataTypeToWire('TYPE_INVALID'), (err: unknown) =>
      err instanceof InferenceError && err.code === ErrorCode.INVALID_ARG);
  });

  it('lists the datatypes in the order of the proto enum', () => {
    const values = modelConfigSchema().root.lookupEnum('inference.DataType').values;
    assert.deepEqual(CONFIG_DATA_TYPES, Object.keys(values).sort((a, b) => values[a]! - values[b]!));
  });
});

describe('model config schema', () => {
  it('loads once and keeps Triton field numbers and nesting', () => {
    const schema = modelConfigSchema();
    assert.equal(modelConfigSchema(), schema);
    const fields = schema.modelConfig.fields;
    const numbers = Object.fromEntries(Object.values(fields).map((f) => [f.name, f.id]));
    assert.deepEqual(numbers, {
      name: 1, platform: 2, backend: 17, runtime: 25, version_policy: 3, max_batch_size: 4, input: 5, output: 6,
      batch_input: 20, batch_output: 21, optimization: 12, dynamic_batching: 11, sequence_batching: 13,
      ensemble_scheduling: 15, instance_group: 7, default_model_filename: 8, cc_model_filenames: 9,
      metric_tags: 10, parameters: 14, model_warmup: 16, model_operations: 18, model_transaction_policy: 19,
      model_repository_agents: 23, response_cache: 24, model_metrics: 26,
    });
    assert.deepEqual(schema.modelConfig.oneofs!.scheduling_choice!.oneof, ['dynamic_batching', 'sequence_batching', 'ensemble_scheduling']);
    for (const nested of ['ModelInput.Format', 'ModelInstanceGroup.Kind', 'ModelInstanceGroup.SecondaryDevice.SecondaryDeviceKind',
      'ModelEnsembling.Step', 'ModelVersionPolicy.Latest', 'ModelOptimizationPolicy.Cuda.GraphSpec.LowerBound',
      'ModelSequenceBatching.Control.Kind', 'ModelWarmup.Input', 'ModelMetrics.MetricControl.HistogramOptions', 'ModelQueuePolicy.TimeoutAction']) {
      assert.ok(schema.root.lookup(`inference.${nested}`), nested);
    }
    assert.equal(schema.root.lookupType('inference.ModelInput').fields.optional!.id, 8);
  });
});
