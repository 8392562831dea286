/**
 * ModelInferRequest/Response ↔ core types (PROTOCOL.md §2.3, §4). No business logic: shape,
 * datatype and size checks against the model happen in the core's request validator.
 *
 * Copies: raw_input_contents are passed to the core as the decoded Buffers (views into the
 * received message); raw_output_contents are views of the core's output buffers.
 */
import type { ModelInferRequest__Output } from '../../generated/inference/ModelInferRequest.js';
import type { ModelInferResponse } from '../../generated/inference/ModelInferResponse.js';
import type { InferTensorContents__Output } from '../../generated/inference/InferTensorContents.js';
import type { InferenceRequest, InferenceResponse, InputTensor } from '../../core/inference-request.js';
import { isDataType, type DataType } from '../../core/datatype.js';
import { encodeTypedValues, ValueError } from '../../core/tensor-codec.js';
import { errors, modelRef } from '../../errors/catalogue.js';
import { requestParameters, tensorParameters } from './grpc-parameters.js';

type Contents = InferTensorContents__Output;
type ContentsField = keyof Contents;

/** Which InferTensorContents field carries each datatype; FP16/BF16 have none (raw only). */
export const CONTENTS_FIELD: Readonly<Record<DataType, ContentsField | undefined>> = {
  BOOL: 'bool_contents', INT8: 'int_contents', INT16: 'int_contents', INT32: 'int_contents',
  INT64: 'int64_contents', UINT8: 'uint_contents', UINT16: 'uint_contents', UINT32: 'uint_contents',
  UINT64: 'uint64_contents', FP32: 'fp32_contents', FP64: 'fp64_contents', BYTES: 'bytes_contents',
  FP16: undefined, BF16: undefined,
};
const ALL_FIELDS: readonly ContentsField[] = [
  'bool_contents', 'int_contents', 'int64_contents', 'uint_contents',
  'uint64_contents', 'fp32_contents', 'fp64_contents', 'bytes_contents',
];

export function toInferenceRequest(msg: ModelInferRequest__Output, signal?: AbortSignal): InferenceRequest {
  const where = modelRef(msg.model_name, msg.model_version);
  const raw = msg.raw_input_contents;
  if (raw.length > 0) {
    if (msg.inputs.some((i) => populatedFields(i.contents).length > 0)) {
      throw errors.invalidArg(
        `contents field must not be specified when using raw_input_contents for ${where}`,
      );
    }
    if (raw.length > msg.inputs.length) {
      throw errors.invalidArg(
        `raw_input_contents has ${raw.length} entries but the request to ${where} has ${msg.inputs.length} inputs`,
      );
    }
  }
  const inputs: InputTensor[] = msg.inputs.map((i, idx) => {
    if (!isDataType(i.datatype)) {
      throw errors.invalidArg(`input '${i.name}' of the request to ${where} has invalid datatype '${i.datatype}'`);
    }
    let data: Uint8Array;
    if (raw.length > 0) {
      const r = raw[idx];
      if (r === undefined) throw errors.invalidArg(`unable to find data for input tensor '${i.name}' for ${where}: raw_input_contents has ${raw.length} entries`);
      data = r;
    } else {
      data = contentsToBytes(i.datatype, i.contents, i.name, where);
    }
    return { name: i.name, datatype: i.datatype, shape: i.shape, data, parameters: tensorParameters(i.parameters) };
  });
  const req: InferenceRequest = {
    id: msg.id,
    modelName: msg.model_name,
    modelVersion: msg.model_version,
    parameters: requestParameters(msg.parameters, where),
    inputs,
    outputs: msg.outputs.map((o) => ({ name: o.name, parameters: tensorParameters(o.parameters) })),
  };
  if (signal !== undefined) req.signal = signal;
  return req;
}

function populatedFields(c: Contents | null): ContentsField[] {
  if (c === null) return [];
  return ALL_FIELDS.filter((f) => c[f].length > 0);
}

function contentsToBytes(dt: DataType, c: Contents | null, name: string, where: string): Uint8Array {
  const expected = CONTENTS_FIELD[dt];
  const populated = populatedFields(c);
  const wrong = populated.filter((f) => f !== expected);
  if (expected === undefined && populated.length > 0) {
    throw errors.invalidArg(`input '${name}' for ${where} has datatype ${dt}, which must be sent in raw_input_contents`);
  }
  if (wrong.length > 0) {
    throw errors.invalidArg(
      `unexpected explicit tensor data for input tensor '${name}' for ${where}: datatype ${dt} expects ${expected ?? 'raw_input_contents'}, got ${wrong.join(', ')}`,
    );
  }
  if (c === null || expected === undefined) return new Uint8Array(0);
  try {
    return encodeTypedValues(dt, c[expected]);
  } catch (e) {
    if (e instanceof ValueError) throw errors.invalidArg(`input '${name}' for ${where}: ${e.message}`);
    throw e;
  }
}

/** Triton always answers in raw_output_contents, one entry per output in `outputs` order. */
export function toModelInferResponse(r: InferenceResponse): ModelInferResponse {
  return {
    model_name: r.modelName,
    model_version: r.modelVersion,
    id: r.id,
    parameters: {},
    outputs: r.outputs.map((o) => ({ name: o.name, datatype: o.datatype, shape: o.shape })),
    raw_output_contents: r.outputs.map((o) => o.data),
  };
}
