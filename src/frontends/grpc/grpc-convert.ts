/**
 * ModelInferRequest/Response ↔ core types (PROTOCOL.md §2.3, §4). No business logic: shape,
 * datatype and size checks against the model happen in the core's request validator.
 *
 * Copies: raw_input_contents are passed to the core as the decoded Buffers (views into the
 * received message); raw_output_contents are views of the core's output buffers. A raw entry of
 * at least 1 MiB that is most of the message claims the message's buffer (core/detachable.ts), so
 * it crosses to the worker with that buffer instead of being copied out of it; other entries in
 * the same buffer are copied out first (they are small: the claimed one is over half of it).
 */
import type { ModelInferRequest__Output } from '../../generated/inference/ModelInferRequest.js';
import type { ModelInferResponse } from '../../generated/inference/ModelInferResponse.js';
import type { InferenceRequest, InferenceResponse, InputTensor } from '../../core/inference-request.js';
import type { Cancellation } from '../../core/cancellation.js';
import { isDataType, type DataType } from '../../core/datatype.js';
import { claimLargest } from '../../core/detachable.js';
import { encodeTypedValues, ValueError } from '../../core/tensor-codec.js';
import { errors, modelRef } from '../../errors/catalogue.js';
import { requestParameters, tensorParameters } from './grpc-parameters.js';
import type { ModelConfig } from '../../config/model-config.js';
import { setEntry } from '../../config/model-config-schema.js';
import type { ModelConfig as ProtoModelConfig } from '../../generated/inference/ModelConfig.js';
import { SHM_REGION } from '../../core/shared-memory/request-shm.js';
import { ALL_FIELDS, CONTENTS_FIELD, type Contents, type ContentsField } from './tensor-contents.js';

const NO_DATA = new Uint8Array(0);

export function toInferenceRequest(msg: ModelInferRequest__Output, cancellation?: Cancellation): InferenceRequest {
  const raw = claimLargest(msg.raw_input_contents, (r) => Buffer.from(r));
  if (raw.length > 0) {
    for (const i of msg.inputs) {
      if (hasContents(i.contents)) {
        throw errors.invalidArg(
          `contents field must not be specified when using raw_input_contents for '${i.name}' for ${whereOf(msg)}`,
        );
      }
    }
  }
  // Raw entries are used in order by the inputs that do not name a shared-memory region.
  let nextRaw = 0;
  const inputs: InputTensor[] = [];
  for (const i of msg.inputs) {
    if (!isDataType(i.datatype)) {
      throw errors.invalidArg(`input '${i.name}' of the request to ${whereOf(msg)} has invalid datatype '${i.datatype}'`);
    }
    const parameters = tensorParameters(i.parameters);
    let data: Uint8Array;
    if (parameters[SHM_REGION] !== undefined) {
      if (hasContents(i.contents)) {
        throw errors.invalidArg(`input '${i.name}' of the request to ${whereOf(msg)} sets both contents and '${SHM_REGION}'`);
      }
      data = NO_DATA;
    } else if (raw.length > 0) {
      const r = raw[nextRaw++];
      if (r === undefined) throw errors.invalidArg(`unable to find data for input tensor '${i.name}' for ${whereOf(msg)}: raw_input_contents has ${raw.length} entries`);
      data = r;
    } else {
      data = contentsToBytes(i.datatype, i.contents, i.name, whereOf(msg));
    }
    inputs.push({ name: i.name, datatype: i.datatype, shape: i.shape, data, parameters });
  }
  if (raw.length > nextRaw) {
    throw errors.invalidArg(
      `raw_input_contents has ${raw.length} entries but the request to ${whereOf(msg)} has ${nextRaw} inputs that take raw data`,
    );
  }
  const req: InferenceRequest = {
    id: msg.id,
    modelName: msg.model_name,
    modelVersion: msg.model_version,
    parameters: isEmpty(msg.parameters) ? {} : requestParameters(msg.parameters, whereOf(msg)),
    inputs,
    outputs: msg.outputs.map((o) => ({ name: o.name, parameters: tensorParameters(o.parameters) })),
  };
  if (cancellation !== undefined) req.cancellation = cancellation;
  return req;
}

/** The model reference for error messages: built only when a message is, not per request. */
function whereOf(msg: ModelInferRequest__Output): string {
  return modelRef(msg.model_name, msg.model_version);
}

function isEmpty(o: object): boolean {
  for (const k in o) if (Object.hasOwn(o, k)) return false;
  return true;
}

/** Whether any contents field holds values (no array built: this runs for every input of every request). */
function hasContents(c: Contents | null): boolean {
  if (c === null) return false;
  for (const f of ALL_FIELDS) if (c[f].length > 0) return true;
  return false;
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

/**
 * A ModelConfig as the protobuf encoder takes it: uint64 values kept as bigints (beyond 2^53) become
 * decimal strings, which protobufjs encodes exactly (it would encode a bigint as 0).
 */
export function toProtoConfig(config: Readonly<ModelConfig>): ProtoModelConfig {
  return withBigintsAsStrings(config) as ProtoModelConfig;
}

function withBigintsAsStrings(v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (Array.isArray(v)) return v.map(withBigintsAsStrings);
  if (typeof v !== 'object' || v === null) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) setEntry(out, k, withBigintsAsStrings(x));
  return out;
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
