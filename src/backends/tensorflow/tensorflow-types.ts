/**
 * Datatypes between the v2 protocol, TensorFlow's DataType enum and TensorFlow.js, and the value
 * conversions the tfjs runtimes need. Loads no tfjs code (the main thread uses the tables).
 *
 * TensorFlow.js computes in four element types only: float32, int32, bool and string. Every other
 * v2 datatype is converted on the way in and out, with these rules (checked, never wrapping):
 *
 *   v2 in → tfjs          rule
 *   FP32, INT32, BOOL      as is (BOOL: any non-zero byte is true)
 *   FP16, BF16             exact widening to float32
 *   FP64                   rounded to the nearest float32; a finite value beyond ±3.4028235e38 is an error
 *   INT8, INT16, UINT8, UINT16   exact widening to int32
 *   UINT32, INT64, UINT64  to int32 when in [-2^31, 2^31-1], else an error naming the tensor and element
 *   BYTES                  string tensor of the raw element bytes (no UTF-8 decoding)
 *
 *   tfjs out → v2          rule
 *   float32 → FP16/BF16    nearest (ties to even); a finite value that overflows to ±Inf is an error
 *   float32 → FP64         exact
 *   int32 → INT64          exact; → UINT8/UINT16/UINT32/UINT64/INT8/INT16: error when out of range
 *   bool → BOOL, string → BYTES   as is
 */
import { elementCount, type DataType } from '../../core/datatype.js';
import { encodeBytesElements, bytesElementViews, FramingError } from '../../core/bytes-tensor.js';
import {
  bfloat16BitsToNumber, float16BitsToNumber, numberToBfloat16Bits, numberToFloat16Bits,
} from '../../core/float16.js';
import { typedView, ValueError } from '../../core/tensor-codec.js';
import { ErrorCode } from '../../errors/error-codes.js';
import { InferenceError } from '../../errors/inference-error.js';

/** The element types TensorFlow.js computes in. */
export type TfjsDtype = 'float32' | 'int32' | 'bool' | 'string';

/** Values of a tfjs tensor as tf.tensor() takes them and dataSync() returns them. */
export type TfjsValues = Float32Array | Int32Array | Uint8Array | Uint8Array[];

/** TensorFlow DataType enum names (types.proto) and the v2 datatype each maps to. */
const TF_TO_V2: ReadonlyMap<string, DataType> = new Map([
  ['DT_FLOAT', 'FP32'], ['DT_DOUBLE', 'FP64'], ['DT_INT32', 'INT32'], ['DT_UINT8', 'UINT8'],
  ['DT_INT16', 'INT16'], ['DT_INT8', 'INT8'], ['DT_STRING', 'BYTES'], ['DT_INT64', 'INT64'],
  ['DT_BOOL', 'BOOL'], ['DT_UINT16', 'UINT16'], ['DT_HALF', 'FP16'], ['DT_UINT32', 'UINT32'],
  ['DT_UINT64', 'UINT64'], ['DT_BFLOAT16', 'BF16'],
]);

/** The v2 datatype of a TensorFlow DataType name, or undefined (complex, resource, variant, …). */
export function v2OfTfDataType(tfType: string): DataType | undefined {
  return TF_TO_V2.get(tfType);
}

/** The tfjs dtype a v2 datatype computes in. */
export function tfjsDtypeOf(dt: DataType): TfjsDtype {
  switch (dt) {
    case 'FP32': case 'FP16': case 'BF16': case 'FP64': return 'float32';
    case 'BOOL': return 'bool';
    case 'BYTES': return 'string';
    default: return 'int32';
  }
}

/** The v2 datatype of a tfjs dtype (float32 → FP32, int32 → INT32, …); undefined for complex64. */
export function v2OfTfjsDtype(dtype: string): DataType | undefined {
  const map: Record<string, DataType> = { float32: 'FP32', int32: 'INT32', bool: 'BOOL', string: 'BYTES' };
  return map[dtype];
}

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
const FLOAT32_MAX = 3.4028234663852886e38;

const INT_RANGE: Readonly<Partial<Record<DataType, readonly [number, number]>>> = {
  INT8: [-128, 127], INT16: [-32768, 32767], UINT8: [0, 255], UINT16: [0, 65535],
  UINT32: [0, 2 ** 32 - 1], UINT64: [0, Number.MAX_SAFE_INTEGER], INT64: [INT32_MIN, INT32_MAX], INT32: [INT32_MIN, INT32_MAX],
};

function rangeError(tensor: string, index: number, value: number | bigint, what: string): InferenceError {
  return new InferenceError(ErrorCode.INVALID_ARG,
    `tensor '${tensor}': element ${index} (${String(value)}) ${what}`);
}

function toInt32(src: ArrayLike<number | bigint>, tensor: string, from: DataType): Int32Array {
  const out = new Int32Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const v = src[i]!;
    const n = typeof v === 'bigint' ? (v >= BigInt(INT32_MIN) && v <= BigInt(INT32_MAX) ? Number(v) : Number.NaN) : v;
    if (!(n >= INT32_MIN && n <= INT32_MAX)) {
      throw rangeError(tensor, i, v, `is outside the int32 range TensorFlow.js computes ${from} in`);
    }
    out[i] = n;
  }
  return out;
}

function toFloat32(src: ArrayLike<number>, tensor: string): Float32Array {
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const v = src[i]!;
    if (Number.isFinite(v) && Math.abs(v) > FLOAT32_MAX) {
      throw rangeError(tensor, i, v, 'is beyond the float32 range TensorFlow.js computes FP64 in');
    }
    out[i] = v;
  }
  return out;
}

function fromHalfBits(bits: Uint16Array, decode: (b: number) => number): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = decode(bits[i]!);
  return out;
}

/**
 * The tfjs values of a raw v2 tensor (see the rules above). Throws INVALID_ARG naming `tensor` for
 * a value that does not fit, or for malformed BYTES framing.
 */
export function toTfjsValues(dt: DataType, data: Uint8Array, tensor: string): TfjsValues {
  try {
    switch (dt) {
      case 'FP32': return typedView('FP32', data);
      case 'INT32': return typedView('INT32', data);
      case 'BOOL': return Uint8Array.from(data, (b) => (b === 0 ? 0 : 1));
      case 'BYTES': return bytesElementViews(data);
      case 'FP16': return fromHalfBits(typedView('FP16', data), float16BitsToNumber);
      case 'BF16': return fromHalfBits(typedView('BF16', data), bfloat16BitsToNumber);
      case 'FP64': return toFloat32(typedView('FP64', data), tensor);
      case 'INT8': case 'INT16': case 'UINT8': case 'UINT16':
        return Int32Array.from(typedView(dt, data));
      case 'UINT32': case 'INT64': case 'UINT64':
        return toInt32(typedView(dt, data), tensor, dt);
    }
  } catch (err) {
    if (err instanceof ValueError || err instanceof FramingError) {
      throw new InferenceError(ErrorCode.INVALID_ARG, `tensor '${tensor}': ${err.message}`);
    }
    throw err;
  }
}

function checkedInts(src: Int32Array, dt: DataType, tensor: string): void {
  const range = INT_RANGE[dt];
  if (range === undefined) return;
  for (let i = 0; i < src.length; i++) {
    const v = src[i]!;
    if (v < range[0] || v > range[1]) throw rangeError(tensor, i, v, `does not fit ${dt}`);
  }
}

function intBytes(src: Int32Array, dt: DataType, tensor: string): Uint8Array {
  checkedInts(src, dt, tensor);
  switch (dt) {
    case 'INT32': return bytesOf(src.slice());
    case 'INT8': return bytesOf(Int8Array.from(src));
    case 'INT16': return bytesOf(Int16Array.from(src));
    case 'UINT8': return bytesOf(Uint8Array.from(src));
    case 'UINT16': return bytesOf(Uint16Array.from(src));
    case 'UINT32': return bytesOf(Uint32Array.from(src));
    case 'INT64': return bytesOf(BigInt64Array.from(src, (v) => BigInt(v)));
    case 'UINT64': return bytesOf(BigUint64Array.from(src, (v) => BigInt(v)));
    default: throw mismatch(tensor, 'int32', dt);
  }
}

function halfBytes(src: Float32Array, encode: (x: number) => number, dt: DataType, tensor: string): Uint8Array {
  const out = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const v = src[i]!;
    const bits = encode(v);
    if (Number.isFinite(v) && (bits & 0x7fff) === (dt === 'FP16' ? 0x7c00 : 0x7f80)) {
      throw rangeError(tensor, i, v, `overflows ${dt}`);
    }
    out[i] = bits;
  }
  return bytesOf(out);
}

function floatBytes(src: Float32Array, dt: DataType, tensor: string): Uint8Array {
  switch (dt) {
    case 'FP32': return bytesOf(src.slice());
    case 'FP64': return bytesOf(Float64Array.from(src));
    case 'FP16': return halfBytes(src, numberToFloat16Bits, dt, tensor);
    case 'BF16': return halfBytes(src, numberToBfloat16Bits, dt, tensor);
    default: throw mismatch(tensor, 'float32', dt);
  }
}

function mismatch(tensor: string, tfjs: string, dt: DataType): InferenceError {
  return new InferenceError(ErrorCode.INTERNAL, `tensor '${tensor}': the model produced ${tfjs} values, which cannot be returned as ${dt}`);
}

/** The bytes of a typed array, as a view over the same memory. */
export function bytesOf(data: ArrayBufferView): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/**
 * Raw v2 bytes of tfjs values (see the rules above), always in a fresh buffer the caller may
 * transfer: dataSync() can return a backend's own storage (of a weight, when an output is one),
 * which must never be detached. Throws
 * INVALID_ARG for a value out of the target's range, INTERNAL for a dtype that cannot become `dt`.
 */
export function fromTfjsValues(values: TfjsValues, tfjsDtype: string, dt: DataType, tensor: string): Uint8Array {
  if (Array.isArray(values)) {
    if (dt !== 'BYTES') throw mismatch(tensor, tfjsDtype, dt);
    return encodeBytesElements(values);
  }
  if (tfjsDtype === 'bool') {
    if (dt !== 'BOOL') throw mismatch(tensor, 'bool', dt);
    return bytesOf(values.slice());
  }
  if (values instanceof Float32Array) return floatBytes(values, dt, tensor);
  if (values instanceof Int32Array) return intBytes(values, dt, tensor);
  throw mismatch(tensor, tfjsDtype, dt);
}

/** Number of elements of `shape`, or -1 when it has a negative (unknown) dim. */
export function knownElementCount(shape: readonly number[]): number {
  return shape.some((d) => d < 0) ? -1 : elementCount(shape);
}
