/**
 * The /infer JSON header (plus binary tensors) ⇔ core types (PROTOCOL.md §6.3–§6.4). No business
 * logic: names, shapes and byte sizes against the model are the core validator's job; here only
 * what the HTTP encoding itself defines is checked (JSON kinds, element counts, binary framing).
 *
 * Numbers: the header is parsed with JSON.parse, which turns `1.0` into 1 and rounds integers
 * beyond 2^53. When that could change the outcome (an integer literal of 16+ digits anywhere, or
 * a fraction/exponent in a request with integer-typed JSON data) the header is parsed again
 * losslessly, so INT64/UINT64 data and uint64 parameters stay exact and `1.0` is refused for
 * integer types, as Triton does. JSON that JSON.parse refuses goes to the lossless parser too,
 * which also accepts NaN/Infinity and names the offset of a syntax error.
 */
import type { InferenceRequest, InferenceResponse, InputTensor, RequestedOutput } from '../../core/inference-request.js';
import type { Parameters, ParameterValue } from '../../core/tensor.js';
import { isDataType } from '../../core/datatype.js';
import { errors, modelRef } from '../../errors/catalogue.js';
import { JsonFloat, JsonSyntaxError, parseLosslessJson } from '../../util/lossless-json.js';
import { bytesToJsonDataText, isIntegerType, jsonDataToBytes } from './json-tensor-data.js';
import { scanJson } from './json-scan.js';
import { REQUEST_LIMITS } from '../../core/request-limits.js';
import { SHM_REGION } from '../../core/shared-memory/request-shm.js';
import { CLAIM_MIN_BYTES, claimLargest } from '../../core/detachable.js';

const NO_DATA = new Uint8Array(0);

type Obj = Record<string, unknown>;

/** Which outputs travel as binary: explicitly listed ones by their `binary_data`, the rest by default. */
export interface OutputBinarySelection {
  readonly explicit: ReadonlyMap<string, boolean>;
  readonly byDefault: boolean;
}

export interface HttpInferRequest {
  request: InferenceRequest;
  binary: OutputBinarySelection;
}

/** A standalone `16+ digit` integer literal (not the digits of a fraction or exponent). */
const LONG_INTEGER = /(?<![0-9.eE+-])-?[0-9]{16,}(?![0-9.eE])/;
const FRACTION_OR_EXPONENT = /[0-9][.eE]/;

/**
 * Parses request JSON (an /infer header or another route's body); syntax errors → INVALID_ARG,
 * JSON beyond the scan's bounds → RESOURCE_EXHAUSTED before anything is parsed. `scanned`: the
 * bytes were scanned as they arrived (body-reader.ts), so they are not scanned again.
 */
export function parseRequestJson(bytes: Uint8Array, what: string, scanned = false): unknown {
  if (!scanned) scanJson(bytes, what);
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  let fast: unknown;
  try {
    fast = JSON.parse(text);
  } catch {
    return lossless(text, what);
  }
  if (LONG_INTEGER.test(text) || (FRACTION_OR_EXPONENT.test(text) && hasIntegerJsonData(fast))) return lossless(text, what);
  return fast;
}

function lossless(text: string, what: string): unknown {
  if (text.trim() === '') throw errors.invalidArg(`failed to parse ${what}: the JSON is empty`);
  try {
    return parseLosslessJson(text);
  } catch (e) {
    if (e instanceof JsonSyntaxError) throw errors.invalidArg(`failed to parse ${what}: ${e.message}`);
    throw e;
  }
}

function hasIntegerJsonData(v: unknown): boolean {
  const inputs = isObj(v) ? v['inputs'] : undefined;
  if (!Array.isArray(inputs)) return false;
  return inputs.some((i) => isObj(i) && i['data'] !== undefined && typeof i['datatype'] === 'string' && isDataType(i['datatype']) && isIntegerType(i['datatype']));
}

export function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof JsonFloat);
}

/** A field that must be an object when present. */
function optObj(o: Obj, key: string, where: string): Obj {
  const v = o[key];
  if (v === undefined) return {};
  if (!isObj(v)) throw errors.invalidArg(`'${key}' must be a JSON object ${where}`);
  return v;
}

/** A non-negative integer from either parser (number, bigint, or a JsonFloat that is integral). */
function uint(v: unknown, what: string): number {
  const n = v instanceof JsonFloat ? v.value : typeof v === 'bigint' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
    throw errors.invalidArg(`${what} must be a non-negative integer, got ${describe(v)}`);
  }
  return n;
}

function describe(v: unknown): string {
  if (v instanceof JsonFloat) return v.text;
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  if (v === null || v === undefined) return String(v);
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : String(v);
}

/** The /infer header (already parsed) and its trailing binary tensors → a core request. */
export function toInferenceRequest(header: unknown, binary: Uint8Array, model: string, version: string): HttpInferRequest {
  const where = modelRef(model, version);
  if (!isObj(header)) throw errors.invalidArg(`the inference request to ${where} must be a JSON object`);
  const id = header['id'] ?? '';
  if (typeof id !== 'string') throw errors.invalidArg(`'id' of the request to ${where} must be a string`);
  const inputsJson = header['inputs'];
  if (!Array.isArray(inputsJson)) throw errors.invalidArg(`the request to ${where} must have an 'inputs' array`);
  boundedList(inputsJson, 'inputs', where);
  boundedList(header['outputs'], 'outputs', where);
  const { parameters, binaryDefault } = requestParameters(optObj(header, 'parameters', `in the request to ${where}`), where);
  const cursor = { offset: 0 };
  const inputs = inputsJson.map((j: unknown, idx) => toInput(j, idx, binary, cursor, where));
  if (cursor.offset !== binary.byteLength) {
    throw errors.invalidArg(
      `unexpected additional input data for ${where}: the inputs' binary_data_size add up to ${cursor.offset} bytes but ${binary.byteLength} follow the JSON header`,
    );
  }
  // A big binary input crosses to the worker with the body's buffer instead of a copy of it
  // (only binary data can be that big a view of the body: a small body costs no extra pass).
  if (binary.byteLength >= CLAIM_MIN_BYTES) {
    const data = claimLargest(inputs.map((t) => t.data), (d) => new Uint8Array(d)); // a copy (Buffer.slice would be a view)
    for (let k = 0; k < inputs.length; k++) if (data[k] !== inputs[k]!.data) inputs[k] = { ...inputs[k]!, data: data[k]! };
  }
  const { outputs, explicit } = toOutputs(header['outputs'], where);
  return {
    request: { id, modelName: model, modelVersion: version, parameters, inputs, outputs },
    binary: { explicit, byDefault: binaryDefault },
  };
}

function boundedList(v: unknown, what: string, where: string): void {
  if (Array.isArray(v) && v.length > REQUEST_LIMITS.entries) {
    throw errors.resourceExhausted(`the request to ${where} has ${v.length} ${what}, more than the limit of ${REQUEST_LIMITS.entries}`);
  }
}

function toInput(j: unknown, idx: number, binary: Uint8Array, cursor: { offset: number }, where: string): InputTensor {
  if (!isObj(j)) throw errors.invalidArg(`input ${idx} of the request to ${where} must be a JSON object`);
  const name = j['name'];
  if (typeof name !== 'string') throw errors.invalidArg(`input ${idx} of the request to ${where} must have a string 'name'`);
  const at = `input '${name}' of the request to ${where}`;
  const datatype = j['datatype'];
  if (typeof datatype !== 'string' || !isDataType(datatype)) throw errors.invalidArg(`${at} has invalid datatype ${describe(datatype)}`);
  const shapeJson = j['shape'];
  if (!Array.isArray(shapeJson)) throw errors.invalidArg(`${at} must have a 'shape' array`);
  if (shapeJson.length > REQUEST_LIMITS.dims) throw errors.resourceExhausted(`${at} has a shape of ${shapeJson.length} dimensions, more than the limit of ${REQUEST_LIMITS.dims}`);
  const shape = shapeJson.map((d, k) => uint(d, `dimension ${k} of the shape of ${at}`));
  const { binary_data_size: size, ...rest } = optObj(j, 'parameters', `in ${at}`);
  const shm = rest[SHM_REGION] !== undefined;
  const sources = [j['data'] !== undefined, size !== undefined, shm].filter(Boolean).length;
  if (sources !== 1) {
    throw errors.invalidArg(`${at}: an input must set exactly one of 'data', 'binary_data_size' or 'shared_memory_region'`);
  }
  let data: Uint8Array;
  if (shm) {
    data = NO_DATA; // the core reads it from the region
  } else if (size !== undefined) {
    const n = uint(size, `binary_data_size of ${at}`);
    if (cursor.offset + n > binary.byteLength) {
      throw errors.invalidArg(`${at}: expecting ${n} bytes of binary data at offset ${cursor.offset} but only ${binary.byteLength - cursor.offset} remain after the JSON header`);
    }
    data = binary.subarray(cursor.offset, cursor.offset + n);
    cursor.offset += n;
  } else {
    data = jsonDataToBytes(datatype, j['data'], shape, name, where);
  }
  return { name, datatype, shape, data, parameters: plainParameters(rest, `input '${name}'`, where) };
}

function toOutputs(json: unknown, where: string): { outputs: RequestedOutput[]; explicit: Map<string, boolean> } {
  const explicit = new Map<string, boolean>();
  if (json === undefined) return { outputs: [], explicit };
  if (!Array.isArray(json)) throw errors.invalidArg(`'outputs' of the request to ${where} must be an array`);
  const outputs = json.map((o: unknown, idx): RequestedOutput => {
    if (!isObj(o) || typeof o['name'] !== 'string') throw errors.invalidArg(`output ${idx} of the request to ${where} must be an object with a string 'name'`);
    const name = o['name'];
    const { binary_data: bin, ...rest } = optObj(o, 'parameters', `in output '${name}' of the request to ${where}`);
    if (bin !== undefined && typeof bin !== 'boolean') throw errors.invalidArg(`parameter 'binary_data' of output '${name}' for ${where} must be a boolean`);
    if (bin === true && rest[SHM_REGION] !== undefined) throw errors.invalidArg(`output '${name}' of the request to ${where} cannot set both 'binary_data' and '${SHM_REGION}'`);
    explicit.set(name, bin === true);
    return { name, parameters: plainParameters(rest, `output '${name}'`, where) };
  });
  return { outputs, explicit };
}

/** Request-level names with a fixed JSON type (PROTOCOL.md §5.6–§5.8). */
const RESERVED_KIND: Readonly<Record<string, 'uint' | 'bool' | 'uint-or-string'>> = {
  sequence_id: 'uint-or-string', sequence_start: 'bool', sequence_end: 'bool', priority: 'uint', timeout: 'uint',
};

export function requestParameters(p: Obj, where: string): { parameters: Parameters; binaryDefault: boolean } {
  const { binary_data_output: bdo, ...rest } = p;
  if (bdo !== undefined && typeof bdo !== 'boolean') throw errors.invalidArg(`parameter 'binary_data_output' of the request to ${where} must be a boolean`);
  for (const [key, v] of Object.entries(rest)) {
    if (key.startsWith('triton_') || key === 'headers') {
      throw errors.invalidArg(`parameter '${key}' of the request to ${where} is reserved and cannot be set over HTTP`);
    }
    const kind = RESERVED_KIND[key];
    const ok = kind === undefined || (kind === 'bool' ? typeof v === 'boolean' : isUint(v) || (kind === 'uint-or-string' && typeof v === 'string'));
    if (!ok) throw errors.invalidArg(`parameter '${key}' of the request to ${where} must be ${kind === 'bool' ? 'a boolean' : kind === 'uint' ? 'an unsigned integer' : 'an unsigned integer or a string'}, got ${describe(v)}`);
  }
  return { parameters: plainParameters(rest, 'the request', where), binaryDefault: bdo === true };
}

/** A JSON integer in uint64's range (priority, timeout and sequence_id are uint64 in Triton's protocol). */
function isUint(v: unknown): boolean {
  return (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) || (typeof v === 'bigint' && v >= 0n && v <= 0xffff_ffff_ffff_ffffn);
}

/** JSON scalars → parameter values (integers stay integers, other numbers are doubles); anything else is refused. */
function plainParameters(p: Obj, owner: string, where: string): Parameters {
  const out: Parameters = {};
  for (const [key, v] of Object.entries(p)) {
    let value: ParameterValue;
    if (v instanceof JsonFloat) value = v.value;
    else if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') value = v;
    else throw errors.invalidArg(`parameter '${key}' of ${owner} for ${where} must be a string, number or boolean, got ${describe(v)}`);
    out[key] = value;
  }
  return out;
}

export interface HttpInferResponse {
  /** The JSON header, UTF-8. */
  json: Buffer;
  /** Binary outputs' bytes in output order; empty when every output went into the JSON. */
  binary: Uint8Array[];
}

/** Response JSON in Triton's field order; binary outputs carry `parameters.binary_data_size` instead of `data`. */
export function toHttpInferResponse(r: InferenceResponse, isBinary: (output: string) => boolean): HttpInferResponse {
  const binary: Uint8Array[] = [];
  return { json: Buffer.from(inferResponseText(r, isBinary, binary), 'utf8'), binary };
}

/** The response JSON text; the bytes of binary outputs are appended to `binary` in output order. */
export function inferResponseText(r: InferenceResponse, isBinary: (output: string) => boolean, binary: Uint8Array[]): string {
  const outputs = r.outputs.map((o) => {
    const head = `{"name":${JSON.stringify(o.name)},"datatype":"${o.datatype}","shape":${JSON.stringify(o.shape)}`;
    // Written into its shared-memory region: no data here, the region in `parameters`.
    if (o.parameters[SHM_REGION] !== undefined) return `${head},"parameters":${parametersText(o.parameters)}}`;
    if (isBinary(o.name)) {
      binary.push(o.data);
      return `${head},"parameters":{"binary_data_size":${o.data.byteLength}}}`;
    }
    return `${head},"data":${bytesToJsonDataText(o.datatype, o.data)}}`;
  });
  const id = r.id === '' ? '' : `"id":${JSON.stringify(r.id)},`;
  const params = Object.keys(r.parameters).length === 0 ? '' : `"parameters":${parametersText(r.parameters)},`;
  return `{${id}"model_name":${JSON.stringify(r.modelName)},"model_version":${JSON.stringify(r.modelVersion)},${params}"outputs":[${outputs.join(',')}]}`;
}

export function parametersText(p: Parameters): string {
  const parts = Object.entries(p).map(([k, v]) => `${JSON.stringify(k)}:${typeof v === 'bigint' ? v.toString() : JSON.stringify(v)}`);
  return `{${parts.join(',')}}`;
}

export function binarySelector(sel: OutputBinarySelection): (output: string) => boolean {
  return (name) => sel.explicit.get(name) ?? sel.byDefault;
}
