// Responses written as frame parts (framed-responses.ts) are byte for byte what protobufjs +
// grpc-js's framing write, for unary and stream responses, with and without raw outputs; the
// output bytes are written as the output's own view; only the two inference methods are marked.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadInferenceProtos } from '../../../../src/frontends/grpc/proto-loader.js';
import { inferParts, streamParts, withFramedResponses } from '../../../../src/frontends/grpc/framed-responses.js';
import type { ModelInferResponse } from '../../../../src/generated/inference/ModelInferResponse.js';

const { inference } = loadInferenceProtos();
const encodeInfer = (v: unknown) => inference.ModelInfer.responseSerialize(v as ModelInferResponse);
const encodeStream = (v: unknown) => inference.ModelStreamInfer.responseSerialize(v as never);

function grpcFrame(message: Buffer): Buffer {
  const out = Buffer.alloc(message.length + 5);
  out.writeUInt32BE(message.length, 1);
  message.copy(out, 5);
  return out;
}

const response: ModelInferResponse = {
  model_name: 'identity_fp32', model_version: '1', id: 'r7', parameters: { p: { int64_param: 3 } },
  outputs: [{ name: 'OUT', datatype: 'FP32', shape: [1, 40_000] }, { name: 'OUT2', datatype: 'INT8', shape: [0] }],
  raw_output_contents: [new Uint8Array(160_000).fill(9), new Uint8Array(0)],
};

describe('framed responses', () => {
  it('ModelInferResponse: the same bytes as protobufjs + grpc-js framing', () => {
    for (const r of [response, { ...response, raw_output_contents: [] }, { model_name: 'm', raw_output_contents: [Buffer.from([1, 2, 3])] }]) {
      assert.deepEqual(Buffer.concat(inferParts(r, encodeInfer)), grpcFrame(encodeInfer(r)));
    }
  });

  it('writes each raw output as its own view, not a copy', () => {
    const parts = inferParts(response, encodeInfer);
    assert.equal(parts.filter((p) => p === response.raw_output_contents![0]).length, 1);
  });

  it('ModelStreamInferResponse: the same bytes, with and without error_message and infer_response', () => {
    for (const m of [{ infer_response: response }, { error_message: 'boom', infer_response: response }, { error_message: 'only' }, { infer_response: { id: 'x' } }]) {
      assert.deepEqual(Buffer.concat(streamParts(m, encodeStream, encodeInfer)), grpcFrame(encodeStream(m)));
    }
  });

  it('withFramedResponses marks only the two inference methods and keeps their plain serializers', () => {
    const def = withFramedResponses(inference);
    assert.notEqual(def.ModelInfer.responseSerialize, inference.ModelInfer.responseSerialize);
    assert.equal(def.ServerLive.responseSerialize, inference.ServerLive.responseSerialize);
    assert.deepEqual(def.ModelInfer.responseSerialize(response), encodeInfer(response));
  });
});
