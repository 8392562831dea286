/**
 * v2 datatype ↔ ONNX Runtime tensor type, and raw bytes ↔ the typed arrays ORT's JS API takes.
 * Loads no ORT code, so the main thread can use the table without loading the native addon.
 *
 * Raw tensor bytes are little-endian (PROTOCOL.md §4); so are the typed arrays on every platform
 * onnxruntime-node ships for, so a typed-array view over the bytes is the tensor, no conversion.
 */
import type { DataType } from '../../core/datatype.js';
import { ErrorCode } from '../../errors/error-codes.js';
import { InferenceError } from '../../errors/inference-error.js';

/** The ORT tensor type names this backend exchanges (a subset of onnxruntime-common's Tensor.Type). */
export type OrtTensorType =
  | 'bool' | 'int8' | 'uint8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'int64' | 'uint64'
  | 'float16' | 'float32' | 'float64' | 'string';

/** Data of a non-string ORT tensor. */
export type OrtNumericData =
  | Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array
  | BigInt64Array | BigUint64Array | Float32Array | Float64Array;

type NumericCtor = {
  readonly BYTES_PER_ELEMENT: number;
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): OrtNumericData;
};

/** BF16 has no ORT JS tensor type: models using it cannot be served by this backend. */
const ORT_TYPE: Readonly<Record<Exclude<DataType, 'BF16'>, OrtTensorType>> = {
  BOOL: 'bool', INT8: 'int8', UINT8: 'uint8', INT16: 'int16', UINT16: 'uint16', INT32: 'int32',
  UINT32: 'uint32', INT64: 'int64', UINT64: 'uint64', FP16: 'float16', FP32: 'float32',
  FP64: 'float64', BYTES: 'string',
};

const DATATYPE_OF: ReadonlyMap<string, DataType> = new Map(
  Object.entries(ORT_TYPE).map(([dt, ort]) => [ort, dt as DataType]),
);

/** BOOL travels as one byte per element (0/1), which is also ORT's 'bool' layout; FP16 as raw bits. */
const VIEW_CTOR: Readonly<Record<Exclude<DataType, 'BF16' | 'BYTES'>, NumericCtor>> = {
  BOOL: Uint8Array, INT8: Int8Array, UINT8: Uint8Array, INT16: Int16Array, UINT16: Uint16Array,
  INT32: Int32Array, UINT32: Uint32Array, INT64: BigInt64Array, UINT64: BigUint64Array,
  FP16: Uint16Array, FP32: Float32Array, FP64: Float64Array,
};

/** The ORT type for a v2 datatype, or undefined for BF16. */
export function ortTypeOf(dt: DataType): OrtTensorType | undefined {
  return dt === 'BF16' ? undefined : ORT_TYPE[dt];
}

/** The v2 datatype for an ORT type name, or undefined for types v2 cannot carry (uint4, int4, …). */
export function datatypeOfOrtType(ortType: string): DataType | undefined {
  return DATATYPE_OF.get(ortType);
}

/**
 * A typed array over `bytes` for a fixed-size datatype: a view (no copy) when the offset is
 * aligned to the element size, else a view over an aligned copy. Throws INVALID_ARG when the byte
 * length is not a whole number of elements.
 */
export function typedView(dt: Exclude<DataType, 'BF16' | 'BYTES'>, bytes: Uint8Array, tensorName: string): OrtNumericData {
  const Ctor = VIEW_CTOR[dt];
  const size = Ctor.BYTES_PER_ELEMENT;
  if (bytes.byteLength % size !== 0) {
    throw new InferenceError(ErrorCode.INVALID_ARG,
      `tensor '${tensorName}': ${bytes.byteLength} bytes is not a whole number of ${dt} elements`);
  }
  const src = bytes.byteOffset % size === 0 ? bytes : bytes.slice();
  return new Ctor(src.buffer, src.byteOffset, src.byteLength / size);
}

/** The bytes of a typed array, as a view over the same memory. */
export function bytesOf(data: ArrayBufferView): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

const utf8Decoder = new TextDecoder('utf-8', { fatal: true });
const utf8Encoder = new TextEncoder();

/**
 * Splits BYTES framing (4-byte little-endian length, then the bytes, repeated) into strings for
 * ORT's 'string' tensors. onnxruntime-node takes only JS strings and hands them to ORT as
 * NUL-terminated C strings, so two kinds of element cannot reach the model unchanged: bytes that
 * are not valid UTF-8 (they would become U+FFFD) and bytes holding a NUL (the string would end
 * there). Both are refused with INVALID_ARG naming the tensor, the element and the reason, rather
 * than silently changed. Broken framing is INVALID_ARG too.
 */
export function decodeBytesElements(bytes: Uint8Array, tensorName: string): string[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: string[] = [];
  let pos = 0;
  while (pos < bytes.byteLength) {
    if (pos + 4 > bytes.byteLength) {
      throw new InferenceError(ErrorCode.INVALID_ARG,
        `tensor '${tensorName}': BYTES element ${out.length} has a truncated length prefix at byte ${pos}`);
    }
    const len = view.getUint32(pos, true);
    pos += 4;
    if (pos + len > bytes.byteLength) {
      throw new InferenceError(ErrorCode.INVALID_ARG,
        `tensor '${tensorName}': BYTES element ${out.length} claims ${len} bytes but only ${bytes.byteLength - pos} remain`);
    }
    const element = bytes.subarray(pos, pos + len);
    const nul = element.indexOf(0);
    if (nul >= 0) {
      throw new InferenceError(ErrorCode.INVALID_ARG,
        `tensor '${tensorName}': BYTES element ${out.length} holds a NUL byte at offset ${nul}, and onnxruntime-node ` +
        'passes strings to ONNX Runtime as C strings, which end at the first NUL: refused rather than truncated');
    }
    try {
      out.push(utf8Decoder.decode(element));
    } catch {
      throw new InferenceError(ErrorCode.INVALID_ARG,
        `tensor '${tensorName}': BYTES element ${out.length} is not valid UTF-8, and onnxruntime-node carries ` +
        'string tensors as JS strings, which would replace those bytes with U+FFFD: refused rather than changed');
    }
    pos += len;
  }
  return out;
}

/**
 * Refuses an ORT string output element holding U+FFFD: onnxruntime-node decodes the model's bytes
 * as UTF-8 and puts U+FFFD where they were not valid, so such an element may no longer be the
 * model's bytes and cannot be returned as them. (A U+FFFD the model really produced is refused as
 * well: the two cannot be told apart.) NULs in outputs are carried exactly.
 */
export function checkOutputStrings(strings: readonly string[], tensorName: string): void {
  const bad = strings.findIndex((s) => s.includes('\uFFFD'));
  if (bad >= 0) {
    throw new InferenceError(ErrorCode.INVALID_ARG,
      `tensor '${tensorName}': BYTES element ${bad} contains U+FFFD, which onnxruntime-node puts where the model's ` +
      'bytes were not valid UTF-8; the original bytes are lost, so the output is refused rather than returned changed');
  }
}

/** Frames strings as BYTES (UTF-8 bytes, each after its 4-byte little-endian length) in one fresh buffer. */
export function encodeBytesElements(strings: readonly string[]): Uint8Array {
  const encoded = strings.map((s) => utf8Encoder.encode(s));
  const total = encoded.reduce((n, e) => n + 4 + e.byteLength, 0);
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  let pos = 0;
  for (const e of encoded) {
    view.setUint32(pos, e.byteLength, true);
    out.set(e, pos + 4);
    pos += 4 + e.byteLength;
  }
  return out;
}

/** file: URL of the runner module that instance and auto-complete workers load. */
export const ONNXRUNTIME_RUNNER_URL: string = new URL('./onnxruntime-runner.js', import.meta.url).href;
