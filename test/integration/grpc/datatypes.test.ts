/**
 * Every v2 datatype round-trips through a real ONNX Identity model over gRPC, sent raw and (where
 * a typed field exists) as typed contents; responses always come back raw.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TempRepo } from '../../helpers/repo.js';
import { call, startServer, type TestServer } from '../../helpers/start-server.js';
import type { ModelInferRequest } from '../../../src/generated/inference/ModelInferRequest.js';
import type { ModelInferResponse__Output } from '../../../src/generated/inference/ModelInferResponse.js';
import type { InferTensorContents } from '../../../src/generated/inference/InferTensorContents.js';
import { encodeTypedValues } from '../../../src/core/tensor-codec.js';
import { encodeBytesElements } from '../../../src/core/bytes-tensor.js';

interface Case {
  dt: string;
  configType: string;
  file: string;
  values: unknown[];
  typed?: InferTensorContents;
}

const CASES: Case[] = [
  { dt: 'BOOL', configType: 'TYPE_BOOL', file: 'bool', values: [true, false, true, true], typed: { bool_contents: [true, false, true, true] } },
  { dt: 'INT8', configType: 'TYPE_INT8', file: 'int8', values: [-128, 127, 0, -1], typed: { int_contents: [-128, 127, 0, -1] } },
  { dt: 'UINT8', configType: 'TYPE_UINT8', file: 'uint8', values: [0, 255, 7, 128], typed: { uint_contents: [0, 255, 7, 128] } },
  { dt: 'INT16', configType: 'TYPE_INT16', file: 'int16', values: [-32768, 32767, 1, -2], typed: { int_contents: [-32768, 32767, 1, -2] } },
  { dt: 'UINT16', configType: 'TYPE_UINT16', file: 'uint16', values: [0, 65535, 3, 4], typed: { uint_contents: [0, 65535, 3, 4] } },
  { dt: 'INT32', configType: 'TYPE_INT32', file: 'int32', values: [-(2 ** 31), 2 ** 31 - 1, 5, 6], typed: { int_contents: [-(2 ** 31), 2 ** 31 - 1, 5, 6] } },
  { dt: 'UINT32', configType: 'TYPE_UINT32', file: 'uint32', values: [0, 2 ** 32 - 1, 9, 10], typed: { uint_contents: [0, 2 ** 32 - 1, 9, 10] } },
  { dt: 'INT64', configType: 'TYPE_INT64', file: 'int64', values: [-(2n ** 63n), 2n ** 63n - 1n, 1n, -1n], typed: { int64_contents: [-(2 ** 53), 2 ** 53, 1, -1] } },
  { dt: 'UINT64', configType: 'TYPE_UINT64', file: 'uint64', values: [0n, 2n ** 64n - 1n, 11n, 12n], typed: { uint64_contents: [0, 2 ** 53, 11, 12] } },
  { dt: 'FP32', configType: 'TYPE_FP32', file: 'fp32', values: [1.5, -0, Infinity, 3.25], typed: { fp32_contents: [1.5, -0, Infinity, 3.25] } },
  { dt: 'FP64', configType: 'TYPE_FP64', file: 'fp64', values: [Math.PI, -1e300, 5e-324, 0], typed: { fp64_contents: [Math.PI, -1e300, 5e-324, 0] } },
  { dt: 'BYTES', configType: 'TYPE_STRING', file: 'bytes', values: ['a', '', 'ünïcode', 'z'], typed: { bytes_contents: ['a', '', 'ünïcode', 'z'].map((s) => Buffer.from(s)) } },
  { dt: 'FP16', configType: 'TYPE_FP16', file: 'fp16', values: [] },
];

function config(c: Case): string {
  return `
name: "id_${c.file}"
platform: "onnxruntime_onnx"
max_batch_size: 4
input [ { name: "IN" data_type: ${c.configType} dims: [ -1 ] } ]
output [ { name: "OUT" data_type: ${c.configType} dims: [ -1 ] } ]
instance_group [ { count: 1 kind: KIND_CPU } ]
`;
}

function rawOf(c: Case): Buffer {
  if (c.dt === 'FP16') return Buffer.from(new Uint16Array([0x3c00, 0x7bff, 0x0001, 0xfc00]).buffer);
  if (c.dt === 'BYTES') return Buffer.from(encodeBytesElements(c.values as string[]));
  return Buffer.from(encodeTypedValues(c.dt as 'INT8', c.values));
}

let ts: TestServer;
const repo = new TempRepo();
before(async () => {
  for (const c of CASES) repo.add(`id_${c.file}`, { config: config(c), versions: { 1: `identity_${c.file}.onnx` } });
  ts = await startServer([repo.dir]);
});
after(async () => {
  await ts.close();
  repo.remove();
});

const infer = (req: ModelInferRequest) => call<ModelInferRequest, ModelInferResponse__Output>(ts.client.ModelInfer.bind(ts.client), req);

describe('datatype round trips through ONNX Runtime', () => {
  for (const c of CASES) {
    it(`${c.dt} raw bytes come back identical`, async () => {
      const raw = rawOf(c);
      const res = await infer({
        model_name: `id_${c.file}`,
        inputs: [{ name: 'IN', datatype: c.dt, shape: [1, 4] }],
        raw_input_contents: [raw],
      });
      assert.equal(res.outputs[0]!.datatype, c.dt);
      assert.deepEqual(res.outputs[0]!.shape, [1, 4]);
      assert.ok(Buffer.compare(res.raw_output_contents[0]!, raw) === 0, `${c.dt} bytes differ`);
    });
    if (c.typed !== undefined) {
      it(`${c.dt} typed contents come back as the same raw values`, async () => {
        const res = await infer({
          model_name: `id_${c.file}`,
          inputs: [{ name: 'IN', datatype: c.dt, shape: [1, 4], contents: c.typed! }],
        });
        const field = Object.keys(c.typed!)[0] as keyof InferTensorContents;
        const expected = c.dt === 'BYTES'
          ? Buffer.from(encodeBytesElements(c.values as string[]))
          : Buffer.from(encodeTypedValues(c.dt as 'INT8', c.typed![field] as unknown[]));
        assert.ok(Buffer.compare(res.raw_output_contents[0]!, expected) === 0, `${c.dt} typed round trip differs`);
      });
    }
  }
});
