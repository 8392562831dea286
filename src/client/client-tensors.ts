/**
 * Typed-array tensors ⇔ the raw little-endian bytes both transports carry (PROTOCOL.md §4), with
 * the core's codecs (tensor-codec, bytes-tensor) so client and server agree on every layout.
 *
 * Inputs: a fixed-size typed array is sent as a view over its own memory (no copy); only BOOL given
 * as booleans and BYTES given as strings/byte strings are serialized into a fresh buffer. Outputs:
 * typed views over the response's bytes where alignment allows (typedView copies otherwise), BYTES
 * as views of each element. Every size is checked against the shape on the way in (so a mistake is
 * the caller's INVALID_ARG, not a server round trip) and on the way out (a server or proxy that
 * breaks the layout gets INTERNAL, never a short typed array).
 */
import { elementByteSize, elementCount, isDataType, type DataType } from '../core/datatype.js';
import { encodeTypedValues, typedView, VIEW_CONSTRUCTORS, type FixedSizeDataType } from '../core/tensor-codec.js';
import { bytesElementViews, encodeBytesElements } from '../core/bytes-tensor.js';
import { InferenceClientError, invalidRequest, malformedResponse } from './client-error.js';
import type { InferInput, InferResult, OutputTensor, Parameters } from './client-types.js';
import { ErrorCode } from '../errors/error-codes.js';

/** An input ready for either transport. */
export interface EncodedInput {
  name: string;
  datatype: DataType;
  shape: number[];
  parameters: Parameters;
  raw: Uint8Array;
}

/** An output as a transport received it, before typing. */
export interface RawOutput {
  name: string;
  datatype: string;
  shape: readonly number[];
  parameters: Parameters;
  raw: Uint8Array;
}

function checkShape(shape: readonly number[], what: string): number {
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw invalidRequest(`${what}: shape must be a list of non-negative integers, got ${JSON.stringify(shape)}`);
  }
  return elementCount(shape);
}

export function encodeInput(input: InferInput, model: string): EncodedInput {
  const what = `input '${input.name}' of the request to '${model}'`;
  const datatype: string = input.datatype;
  if (!isDataType(datatype)) throw invalidRequest(`${what}: unknown datatype '${datatype}'`);
  const count = checkShape(input.shape, what);
  const data = input.data as ArrayLike<unknown>;
  if (data === null || typeof data !== 'object' || typeof data.length !== 'number') {
    throw invalidRequest(`${what}: data must be a typed array or a list`);
  }
  if (data.length !== count) {
    throw invalidRequest(`${what}: shape ${JSON.stringify(input.shape)} has ${count} elements but data has ${data.length}`);
  }
  return { name: input.name, datatype, shape: [...input.shape], parameters: input.parameters ?? {}, raw: rawBytes(datatype, data, what) };
}

function rawBytes(datatype: DataType, data: ArrayLike<unknown>, what: string): Uint8Array {
  try {
    if (datatype === 'BYTES') {
      const i = Array.from(data).findIndex((el) => typeof el !== 'string' && !(el instanceof Uint8Array));
      if (i >= 0) throw new Error(`BYTES element ${i} must be a string or a Uint8Array, got ${describe(data[i])}`);
      return encodeBytesElements(data as readonly (Uint8Array | string)[]);
    }
    if (datatype === 'BOOL' && Array.isArray(data)) return encodeTypedValues('BOOL', data);
  } catch (e) {
    throw invalidRequest(`${what}: ${e instanceof Error ? e.message : String(e)}`);
  }
  const Ctor = VIEW_CONSTRUCTORS[datatype as FixedSizeDataType];
  if (!(data instanceof Ctor)) {
    throw invalidRequest(`${what}: ${datatype} data must be a ${Ctor.name}, got ${describe(data)}`);
  }
  const view = data as unknown as ArrayBufferView;
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

function describe(v: unknown): string {
  if (Array.isArray(v)) return 'an array';
  return v !== null && typeof v === 'object' ? (v.constructor?.name ?? 'an object') : typeof v;
}

export function decodeOutput(o: RawOutput): OutputTensor {
  const what = `output '${o.name}'`;
  if (!isDataType(o.datatype)) throw malformedResponse(`${what} has unknown datatype '${o.datatype}'`);
  const count = elementCount(o.shape);
  if (o.datatype === 'BYTES') {
    let data: Uint8Array[];
    try {
      data = bytesElementViews(o.raw);
    } catch (e) {
      throw malformedResponse(`${what}: ${e instanceof Error ? e.message : String(e)}`, e);
    }
    if (data.length !== count) throw malformedResponse(`${what} has ${data.length} BYTES elements for shape ${JSON.stringify(o.shape)}`);
    return { name: o.name, datatype: 'BYTES', shape: [...o.shape], data, parameters: o.parameters };
  }
  const expected = count * elementByteSize(o.datatype);
  if (o.raw.byteLength !== expected) {
    throw malformedResponse(`${what} (${o.datatype}, shape ${JSON.stringify(o.shape)}) needs ${expected} bytes, got ${o.raw.byteLength}`);
  }
  return { name: o.name, datatype: o.datatype, shape: [...o.shape], data: typedView(o.datatype, o.raw), parameters: o.parameters } as OutputTensor;
}

export function inferResult(model: string, version: string, id: string, parameters: Parameters, outputs: OutputTensor[]): InferResult {
  return {
    model,
    version,
    id,
    parameters,
    outputs,
    output(name: string, datatype?: DataType) {
      const o = outputs.find((x) => x.name === name);
      if (o === undefined) {
        throw new InferenceClientError(ErrorCode.INTERNAL, `the response from '${model}' has no output '${name}' (outputs: ${outputs.map((x) => x.name).join(', ')})`);
      }
      if (datatype !== undefined && o.datatype !== datatype) {
        throw new InferenceClientError(ErrorCode.INTERNAL, `output '${name}' of '${model}' is ${o.datatype}, not ${datatype}`);
      }
      return o;
    },
  } as InferResult;
}
