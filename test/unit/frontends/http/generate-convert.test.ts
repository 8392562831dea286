import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateResponseText, spreadShape, toGenerateRequest } from '../../../../src/frontends/http/generate-convert.js';
import { acceptsEventStream } from '../../../../src/frontends/http/event-stream.js';
import { parseRequestJson } from '../../../../src/frontends/http/http-convert.js';
import { InferenceError } from '../../../../src/errors/inference-error.js';
import { decodeToValues, encodeTypedValues } from '../../../../src/core/tensor-codec.js';
import { encodeBytesElements } from '../../../../src/core/bytes-tensor.js';
import type { ModelMetadata } from '../../../../src/core/inference-service.js';

const meta: ModelMetadata = {
  name: 'm', versions: ['1'], platform: 'p',
  inputs: [{ name: 'TEXT', datatype: 'BYTES', shape: [-1, -1] }, { name: 'N', datatype: 'INT64', shape: [1] }, { name: 'X', datatype: 'FP32', shape: [-1, 2] }],
  outputs: [],
};
const invalidArg = (re: RegExp) => (e: unknown) => e instanceof InferenceError && e.code === 'INVALID_ARG' && re.test(e.message);

describe('spreadShape (Triton\'s generate shape rule)', () => {
  it('fixed dims divide the count, the innermost -1 takes the rest, other -1s are 1', () => {
    assert.deepEqual(spreadShape([-1, 16], 16), [1, 16]);
    assert.deepEqual(spreadShape([-1, 16], 32), [2, 16]);
    assert.deepEqual(spreadShape([-1, -1], 3), [1, 3]);
    assert.deepEqual(spreadShape([-1, 2, -1], 6), [1, 2, 3]);
    assert.deepEqual(spreadShape([4], 4), [4]);
    assert.deepEqual(spreadShape([-1], 0), [0]);
    assert.deepEqual(spreadShape([0, -1], 0), [0, 1]);
  });

  it('undefined when the count does not fit', () => {
    assert.equal(spreadShape([-1, 16], 3), undefined);
    assert.equal(spreadShape([4], 2), undefined);
    assert.equal(spreadShape([2, 2], 8), undefined);
    assert.equal(spreadShape([0, -1], 1), undefined);
  });
});

describe('toGenerateRequest', () => {
  it('maps input keys to tensors with the model\'s datatypes, the rest to parameters', () => {
    const body = parseRequestJson(Buffer.from('{"TEXT":"hi","N":9007199254740993,"parameters":{"X":[1.5,2],"temperature":0.25,"stream":true}}'), 'the generate request');
    const r = toGenerateRequest(body, meta, 'm', '1');
    assert.deepEqual(r.inputs.map((i) => [i.name, i.datatype, i.shape]), [['TEXT', 'BYTES', [1, 1]], ['N', 'INT64', [1]], ['X', 'FP32', [1, 2]]]);
    assert.deepEqual(r.inputs[0]!.data, encodeBytesElements(['hi']));
    assert.deepEqual(decodeToValues('INT64', r.inputs[1]!.data), [9007199254740993n]);
    assert.deepEqual(r.parameters, { temperature: 0.25, stream: true });
    assert.equal(r.modelVersion, '1');
  });

  it('refuses a parameter given twice and "parameters" naming an input', () => {
    assert.throws(() => toGenerateRequest({ t: 1, parameters: { t: 2 } }, meta, 'm', ''), invalidArg(/parameter 't' is given twice in the generate request to model 'm'/));
    const clash = { ...meta, inputs: [{ name: 'parameters', datatype: 'INT32', shape: [1] }] };
    assert.throws(() => toGenerateRequest({ parameters: {} }, clash, 'm', ''), invalidArg(/both the request's parameters object and an input/));
  });

  it('a JSON null for an input is refused with its kind', () => {
    assert.throws(() => toGenerateRequest({ N: null }, meta, 'm', ''), invalidArg(/input 'N' for model 'm'.*got null/));
  });
});

describe('generateResponseText', () => {
  const out = (name: string, datatype: 'INT32' | 'BYTES' | 'FP32', shape: number[], data: Uint8Array) => ({ name, datatype, shape, data, parameters: {} });

  it('id, model, parameters, then outputs: one element bare, several as an array, none as []', () => {
    const text = generateResponseText({
      id: 'q', modelName: 'm', modelVersion: '3', parameters: { seq: 5n, done: true },
      outputs: [
        out('text_output', 'BYTES', [1, 1], encodeBytesElements(['hello'])),
        out('ids', 'INT32', [1, 3], encodeTypedValues('INT32', [1, 2, 3])),
        out('none', 'INT32', [1, 0], new Uint8Array(0)),
        out('nan', 'FP32', [1], encodeTypedValues('FP32', [NaN])),
      ],
    });
    assert.equal(text, '{"id":"q","model_name":"m","model_version":"3","seq":5,"done":true,"text_output":"hello","ids":[1,2,3],"none":[],"nan":NaN}');
  });

  it('on a key clash the earlier key wins (reserved, then parameters, then outputs), as Triton', () => {
    const text = generateResponseText({ id: '', modelName: 'm', modelVersion: '1', parameters: { model_name: 'x', OUT: 'p' }, outputs: [out('OUT', 'INT32', [1], encodeTypedValues('INT32', [7]))] });
    assert.deepEqual(JSON.parse(text), { model_name: 'm', model_version: '1', OUT: 'p' });
  });
});

describe('acceptsEventStream', () => {
  it('text/event-stream listed with q > 0', () => {
    assert.equal(acceptsEventStream('text/event-stream'), true);
    assert.equal(acceptsEventStream('application/json, Text/Event-Stream;q=0.1'), true);
    assert.equal(acceptsEventStream('text/event-stream;q=0'), false);
    assert.equal(acceptsEventStream('*/*'), false);
    assert.equal(acceptsEventStream('text/*'), false);
    assert.equal(acceptsEventStream(undefined), false);
  });
});
