// Encoding and decoding inference messages: byte-exact encodings a Triton client produces, a full
// ModelInferRequest round trip through protobufjs, and the same bytes through the server's own
// proto-loader codecs (a second protobufjs version), so both ends of the wire agree.
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { loadInferenceProtos, resolveProtoDir } from '../../../src/frontends/grpc/proto-loader.js';

function loadRoot(): protobuf.Root {
  const protoDir = resolveProtoDir(dirname(fileURLToPath(import.meta.url)));
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => join(protoDir, target);
  root.loadSync(['grpc_service.proto', 'health.proto'], { keepCase: true });
  root.resolveAll();
  return root;
}

const root = loadRoot();
const ModelInferRequest = root.lookupType('inference.ModelInferRequest');

function encode(typeName: string, value: Record<string, unknown>): Buffer {
  const type = root.lookupType(typeName);
  return Buffer.from(type.encode(type.fromObject(value)).finish());
}

const TO_OBJECT: protobuf.IConversionOptions = { longs: Number, enums: String, bytes: Buffer };

// Every typed list is filled once so each field number and wire type is exercised. Floats are
// exactly representable in float32 so fp32 compares exactly after the round trip.
const REQUEST = {
  model_name: 'simple',
  model_version: '3',
  id: 'req-1',
  parameters: {
    sequence_id: { int64_param: 42 },
    sequence_start: { bool_param: true },
    note: { string_param: 'héllo' },
    scale: { double_param: 0.1 },
    big: { uint64_param: 7 },
  },
  inputs: [
    {
      name: 'RAW',
      datatype: 'FP16',
      shape: [1, -1, 4],
      parameters: { shared_memory_region: { string_param: 'r0' } },
    },
    {
      name: 'TYPED',
      datatype: 'FP32',
      shape: [2],
      contents: {
        bool_contents: [true, false],
        int_contents: [-128, 32767],
        int64_contents: [-(2 ** 53 - 1), 2 ** 53 - 1],
        uint_contents: [0, 4294967295],
        uint64_contents: [0, 2 ** 53 - 1],
        fp32_contents: [1.5, -2.25],
        fp64_contents: [0.1, Number.MAX_VALUE],
        bytes_contents: [Buffer.from('abc'), Buffer.alloc(0)],
      },
    },
  ],
  outputs: [{ name: 'OUT', parameters: { classification: { int64_param: 3 } } }],
  raw_input_contents: [Buffer.from([0, 60, 0, 188, 255, 127, 0, 0])],
};

describe('golden encodings (bytes as any proto3 encoder writes them)', () => {
  const cases: [string, Record<string, unknown>, string][] = [
    ['inference.ServerLiveResponse', { live: true }, '0801'],
    ['inference.ModelInferRequest', { model_name: 'm' }, '0a016d'],
    ['inference.InferParameter', { int64_param: -1 }, '10ffffffffffffffffff01'],
    ['inference.InferParameter', { uint64_param: 1 }, '2801'],
    ['inference.InferTensorContents', { int_contents: [1, 2] }, '12020102'],
    ['inference.InferTensorContents', { fp32_contents: [1] }, '32040000803f'],
    ['inference.ModelInferRequest', { raw_input_contents: [Buffer.from([9])] }, '3a0109'],
    ['inference.ModelInferResponse', { raw_output_contents: [Buffer.from([9])] }, '320109'],
    ['inference.CudaSharedMemoryRegisterRequest', { device_id: 1 }, '1801'],
    ['inference.LogSettingsRequest.SettingValue', { uint32_param: 5 }, '1005'],
    ['grpc.health.v1.HealthCheckResponse', { status: 'SERVING' }, '0801'],
  ];
  for (const [typeName, value, hex] of cases) {
    it(`${typeName} ${JSON.stringify(value)} encodes to ${hex}`, () => {
      assert.equal(encode(typeName, value).toString('hex'), hex);
    });
  }
});

describe('ModelInferRequest round trip', () => {
  it('decodes to what was encoded, through protobufjs', () => {
    const bytes = encode('inference.ModelInferRequest', REQUEST);
    const back = ModelInferRequest.toObject(ModelInferRequest.decode(bytes), TO_OBJECT);
    assert.deepEqual(back, REQUEST);
  });

  it('decodes the same bytes identically through the server codecs (proto-loader)', () => {
    const bytes = encode('inference.ModelInferRequest', REQUEST);
    const decoded = loadInferenceProtos().inference.ModelInfer.requestDeserialize(bytes);
    const typed = decoded.inputs[1]?.contents;
    assert.ok(typed);
    assert.deepEqual(decoded.inputs.map((i) => i.shape), [[1, -1, 4], [2]]);
    assert.deepEqual(typed.int64_contents, REQUEST.inputs[1]?.contents?.int64_contents);
    assert.deepEqual(typed.uint64_contents, REQUEST.inputs[1]?.contents?.uint64_contents);
    assert.deepEqual(typed.fp32_contents, [1.5, -2.25]);
    assert.deepEqual(typed.bytes_contents, [Buffer.from('abc'), Buffer.alloc(0)]);
    assert.deepEqual(decoded.raw_input_contents, REQUEST.raw_input_contents);
    assert.deepEqual(decoded.parameters['sequence_id'], { int64_param: 42, parameter_choice: 'int64_param' });
    assert.equal(decoded.inputs[0]?.contents, null, 'an input without contents decodes to null');
  });

  it('server-encoded responses decode through protobufjs with raw outputs intact', () => {
    const codec = loadInferenceProtos().inference.ModelInfer;
    const raw = Buffer.from(new Float32Array([1, 2, 3]).buffer);
    const bytes = codec.responseSerialize({
      model_name: 'simple',
      model_version: '1',
      id: '',
      outputs: [{ name: 'OUT', datatype: 'FP32', shape: [1, 3] }],
      raw_output_contents: [raw],
    });
    const type = root.lookupType('inference.ModelInferResponse');
    const back = type.toObject(type.decode(bytes), TO_OBJECT);
    assert.deepEqual(back, {
      model_name: 'simple',
      model_version: '1',
      outputs: [{ name: 'OUT', datatype: 'FP32', shape: [1, 3] }],
      raw_output_contents: [raw],
    });
  });
});
