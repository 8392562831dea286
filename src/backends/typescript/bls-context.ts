/**
 * A TypeScript model's ExecuteContext (ctx.infer / ctx.inferStream, model-contract.ts) over the
 * worker's BLS channel (workers/bls-client.ts): contract tensors (typed arrays) become wire
 * tensors and back, and `call.parent` becomes the parent's index in the batch.
 *
 * Copies: by the worker channel's shared ring, one (into shared memory, the array stays as it
 * is); by its port, none for a typed array whose view covers its buffer (it is transferred) and
 * one for a view over part of a buffer (e.g. a row slice of a merged batch). Outputs arrive as
 * typed-array views over the received response bytes, as inputs do (toModelTensor).
 */
import { encodeBytesElements } from '../../core/bytes-tensor.js';
import { elementByteSize, elementCount, isDataType, type DataType } from '../../core/datatype.js';
import type { Tensor } from '../../core/tensor.js';
import { ErrorCode } from '../../errors/error-codes.js';
import { InferenceError } from '../../errors/inference-error.js';
import type { BlsCall, BlsPort, BlsResponse } from '../../workers/worker-messages.js';
import type { ExecuteContext, InferCall, InferInput, InferRequest, InferResult, ModelTensor } from './model-contract.js';

/** The datatype a typed array's class says, for inputs given without one. */
function impliedDatatype(data: InferInput['data']): DataType | undefined {
  if (Array.isArray(data)) return 'BYTES';
  if (data instanceof Float32Array) return 'FP32';
  if (data instanceof Float64Array) return 'FP64';
  if (data instanceof Int32Array) return 'INT32';
  if (data instanceof Uint32Array) return 'UINT32';
  if (data instanceof BigInt64Array) return 'INT64';
  if (data instanceof BigUint64Array) return 'UINT64';
  if (data instanceof Int16Array) return 'INT16';
  if (data instanceof Uint16Array) return 'UINT16';
  if (data instanceof Int8Array) return 'INT8';
  if (data instanceof Uint8Array) return 'UINT8';
  return undefined;
}

function toTensor(where: string, name: string, input: InferInput): Tensor {
  const bad = (why: string) => new InferenceError(ErrorCode.INVALID_ARG, `${where}: input '${name}' ${why}`);
  if (input === null || typeof input !== 'object') throw bad('must be { datatype?, shape, data }');
  const { shape, data } = input;
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw bad('needs a shape of non-negative integers');
  const datatype = input.datatype ?? impliedDatatype(data);
  if (datatype === undefined || !isDataType(datatype)) throw bad(`has no known datatype (got ${String(input.datatype ?? data?.constructor?.name)})`);
  if (datatype === 'BYTES') {
    if (!Array.isArray(data)) throw bad('is BYTES, so its data must be an array of Uint8Array or string elements');
    return { name, datatype, shape: [...shape], data: encodeBytesElements(data) };
  }
  if (!ArrayBuffer.isView(data)) throw bad(`is ${datatype}, so its data must be a typed array`);
  const want = elementCount(shape) * elementByteSize(datatype);
  if (data.byteLength !== want) {
    throw bad(data.byteLength === 0 && want > 0
      ? `has no bytes: its buffer was transferred by an earlier call (pass data.slice() to each call that needs it)`
      : `holds ${data.byteLength} bytes, but shape [${shape.join(',')}] of ${datatype} needs ${want}`);
  }
  return { name, datatype, shape: [...shape], data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

function fromResponse(r: BlsResponse, toModelTensor: (t: Tensor) => ModelTensor): InferResult {
  const outputs: Record<string, ModelTensor> = {};
  for (const t of r.outputs) outputs[t.name] = toModelTensor(t);
  return { model: r.model, version: r.version, outputs, parameters: r.parameters };
}

/** `model` names the caller in error messages; `requests` is the batch `batchId` execute() got. */
export function executeContext(
  model: string, channel: BlsPort, batchId: number, requests: readonly InferRequest[], toModelTensor: (t: Tensor) => ModelTensor,
): ExecuteContext {
  const wire = (call: InferCall): BlsCall => {
    if (call === null || typeof call !== 'object' || typeof call.model !== 'string' || call.model === '') {
      throw new InferenceError(ErrorCode.INVALID_ARG, `model '${model}': ctx.infer needs { model, inputs }`);
    }
    const where = `model '${model}': ctx.infer to model '${call.model}'`;
    if (call.inputs === null || typeof call.inputs !== 'object') throw new InferenceError(ErrorCode.INVALID_ARG, `${where}: inputs must be an object of tensors by name`);
    let request = requests.length === 1 ? 0 : -1;
    if (call.parent !== undefined) {
      request = requests.indexOf(call.parent);
      if (request < 0) throw new InferenceError(ErrorCode.INVALID_ARG, `${where}: parent is not one of this batch's requests`);
    }
    const out: BlsCall = {
      model: call.model, version: call.version === undefined ? '' : String(call.version),
      inputs: Object.entries(call.inputs).map(([name, t]) => toTensor(where, name, t)),
      outputs: call.outputs === undefined ? [] : [...call.outputs], parameters: call.parameters ?? {}, request,
    };
    if (call.timeoutMs !== undefined) {
      if (typeof call.timeoutMs !== 'number' || !(call.timeoutMs >= 0)) throw new InferenceError(ErrorCode.INVALID_ARG, `${where}: timeoutMs must be a non-negative number`);
      out.timeoutMs = call.timeoutMs;
    }
    return out;
  };
  return {
    infer: async (call) => fromResponse(await channel.infer(batchId, wire(call)), toModelTensor),
    inferStream: (call) => (async function* () {
      for await (const r of channel.inferStream(batchId, wire(call))) yield fromResponse(r, toModelTensor);
    })(),
  };
}
