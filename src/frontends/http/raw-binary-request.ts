/**
 * The raw binary request (PROTOCOL.md §6.4): `Inference-Header-Content-Length: 0` and a body that
 * is the one input tensor, with no JSON at all. The shape is derived from the model: batch 1 when
 * the model batches, and at most one variable dimension, sized from the byte count. A BYTES input
 * must have shape [1] (or [1, 1] batched): the body is that one element's content, and the length
 * prefix of the BYTES layout is added here. Every output comes back binary.
 */
import type { ModelMetadata } from '../../core/inference-service.js';
import type { HttpInferRequest } from './http-convert.js';
import { elementByteSize, elementCount, isDataType } from '../../core/datatype.js';
import { encodeBytesElements } from '../../core/bytes-tensor.js';
import { errors, modelRef } from '../../errors/catalogue.js';

export function rawBinaryRequest(meta: ModelMetadata, batching: boolean, body: Uint8Array, version: string): HttpInferRequest {
  const where = modelRef(meta.name, version);
  const input = meta.inputs[0];
  if (meta.inputs.length !== 1 || input === undefined) {
    throw errors.invalidArg(`a raw binary request (Inference-Header-Content-Length: 0) needs a model with exactly one input, but ${where} has ${meta.inputs.length}`);
  }
  const { name, datatype } = input;
  if (!isDataType(datatype)) throw errors.internal(`input '${name}' of ${where} has datatype '${datatype}'`);
  const dims = batching ? input.shape.slice(1) : [...input.shape];
  const variable = dims.filter((d) => d === -1).length;
  if (variable > 1) {
    throw errors.invalidArg(`a raw binary request needs input '${name}' of ${where} to have at most one variable dimension, it has ${variable}`);
  }
  let data: Uint8Array;
  if (datatype === 'BYTES') {
    const concrete = dims.map((d) => (d === -1 ? 1 : d));
    if (elementCount(concrete) !== 1) throw errors.invalidArg(`a raw binary request with BYTES input '${name}' needs its shape to be [1], ${where} has [${dims.join(',')}]`);
    dims.splice(0, dims.length, ...concrete);
    data = encodeBytesElements([body]);
  } else {
    const fixed = elementCount(dims.filter((d) => d !== -1)) * elementByteSize(datatype);
    if (fixed === 0 || body.byteLength % fixed !== 0 || (variable === 0 && body.byteLength !== fixed)) {
      throw errors.invalidArg(`raw binary data of ${body.byteLength} bytes does not fit input '${name}' of ${where} (${datatype}, shape [${dims.join(',')}])`);
    }
    const i = dims.indexOf(-1);
    if (i !== -1) dims[i] = body.byteLength / fixed;
    data = body;
  }
  const shape = batching ? [1, ...dims] : dims;
  return {
    request: { id: '', modelName: meta.name, modelVersion: version, parameters: {}, inputs: [{ name, datatype, shape, data, parameters: {} }], outputs: [] },
    binary: { explicit: new Map(), byDefault: true },
  };
}
