/**
 * Constant tensors of a TensorFlow graph (TensorProto) and checkpoint tensors (raw little-endian
 * bytes) as the values TensorFlow.js computes with. Integer types become int32 and floating types
 * float32 under the checked rules of tensorflow-types.ts: a value that does not fit is a
 * TfFormatError naming the tensor, never a silent wrap-around.
 */
import { elementCount } from '../../../core/datatype.js';
import {
  bfloat16BitsToNumber, float16BitsToNumber,
} from '../../../core/float16.js';
import type { TfjsDtype, TfjsValues } from '../tensorflow-types.js';
import { shapeDims, TfFormatError, type TfTensorProto } from './tf-proto.js';

/** A constant as a tfjs weight: dtype, shape and values. */
export interface TfjsConstant {
  dtype: TfjsDtype;
  shape: number[];
  values: TfjsValues;
}

interface RawLayout {
  bytes: number;
  read(view: DataView, at: number): number | bigint;
}

const LE = true;
const RAW: Readonly<Record<string, RawLayout>> = {
  DT_FLOAT: { bytes: 4, read: (v, a) => v.getFloat32(a, LE) },
  DT_DOUBLE: { bytes: 8, read: (v, a) => v.getFloat64(a, LE) },
  DT_HALF: { bytes: 2, read: (v, a) => float16BitsToNumber(v.getUint16(a, LE)) },
  DT_BFLOAT16: { bytes: 2, read: (v, a) => bfloat16BitsToNumber(v.getUint16(a, LE)) },
  DT_INT32: { bytes: 4, read: (v, a) => v.getInt32(a, LE) },
  DT_UINT32: { bytes: 4, read: (v, a) => v.getUint32(a, LE) },
  DT_INT16: { bytes: 2, read: (v, a) => v.getInt16(a, LE) },
  DT_UINT16: { bytes: 2, read: (v, a) => v.getUint16(a, LE) },
  DT_INT8: { bytes: 1, read: (v, a) => v.getInt8(a) },
  DT_UINT8: { bytes: 1, read: (v, a) => v.getUint8(a) },
  DT_INT64: { bytes: 8, read: (v, a) => v.getBigInt64(a, LE) },
  DT_UINT64: { bytes: 8, read: (v, a) => v.getBigUint64(a, LE) },
  DT_BOOL: { bytes: 1, read: (v, a) => (v.getUint8(a) === 0 ? 0 : 1) },
};

const FLOAT_TYPES = new Set(['DT_FLOAT', 'DT_DOUBLE', 'DT_HALF', 'DT_BFLOAT16']);

/** The tfjs dtype a TensorFlow dtype computes in, or undefined for types tfjs has no use for. */
export function tfjsDtypeOfTf(tfType: string): TfjsDtype | undefined {
  if (tfType === 'DT_STRING') return 'string';
  if (tfType === 'DT_BOOL') return 'bool';
  if (RAW[tfType] === undefined) return undefined;
  return FLOAT_TYPES.has(tfType) ? 'float32' : 'int32';
}

const FLOAT32_MAX = 3.4028234663852886e38;

function store(out: Float32Array | Int32Array | Uint8Array, i: number, v: number | bigint, what: string): void {
  if (out instanceof Float32Array) {
    const n = Number(v);
    if (Number.isFinite(n) && Math.abs(n) > FLOAT32_MAX) throw new TfFormatError(`${what}: element ${i} (${n}) does not fit float32`);
    out[i] = n;
    return;
  }
  if (out instanceof Int32Array && (v < -2147483648 || v > 2147483647)) {
    throw new TfFormatError(`${what}: element ${i} (${String(v)}) does not fit the int32 TensorFlow.js computes integers in`);
  }
  out[i] = Number(v);
}

function allocate(dtype: TfjsDtype, n: number): Float32Array | Int32Array | Uint8Array {
  if (dtype === 'float32') return new Float32Array(n);
  if (dtype === 'int32') return new Int32Array(n);
  return new Uint8Array(n);
}

function numericDtype(tfType: string, what: string): { dtype: TfjsDtype; layout: RawLayout } {
  const dtype = tfjsDtypeOfTf(tfType);
  const layout = RAW[tfType];
  if (dtype === undefined || dtype === 'string' || layout === undefined) {
    throw new TfFormatError(`${what} has dtype ${tfType}, which TensorFlow.js cannot hold`);
  }
  return { dtype, layout };
}

/** Values of `count` elements stored as raw little-endian bytes (tensor_content, checkpoints). */
export function valuesFromRaw(tfType: string, bytes: Uint8Array, count: number, what: string): TfjsValues {
  const { dtype, layout } = numericDtype(tfType, what);
  if (bytes.byteLength !== count * layout.bytes) {
    throw new TfFormatError(`${what}: ${bytes.byteLength} bytes for ${count} ${tfType} elements (expected ${count * layout.bytes})`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = allocate(dtype, count);
  for (let i = 0; i < count; i++) store(out, i, layout.read(view, i * layout.bytes), what);
  return out;
}

/** The typed *_val list of a TensorProto that holds `tfType` values. */
function typedList(t: TfTensorProto, tfType: string): ArrayLike<number | bigint | string | boolean> {
  switch (tfType) {
    case 'DT_FLOAT': return t.floatVal;
    case 'DT_DOUBLE': return t.doubleVal;
    case 'DT_HALF': case 'DT_BFLOAT16': return t.halfVal;
    case 'DT_INT64': return t.int64Val;
    case 'DT_UINT64': return t.uint64Val;
    case 'DT_UINT32': return t.uint32Val;
    case 'DT_BOOL': return t.boolVal;
    default: return t.intVal;
  }
}

function listElement(tfType: string, v: number | bigint | string | boolean): number | bigint {
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'string') return BigInt(v);
  if (tfType === 'DT_HALF') return float16BitsToNumber(Number(v));
  if (tfType === 'DT_BFLOAT16') return bfloat16BitsToNumber(Number(v));
  return v;
}

/**
 * Values from the typed list. TensorFlow's rule: fewer values than elements means the last value
 * repeats (one value fills the tensor); none means zeros.
 */
function valuesFromList(t: TfTensorProto, tfType: string, count: number, what: string): TfjsValues {
  if (tfType === 'DT_STRING') {
    if (t.stringVal.length > count) throw new TfFormatError(`${what}: ${t.stringVal.length} strings for ${count} elements`);
    const last = t.stringVal[t.stringVal.length - 1] ?? new Uint8Array(0);
    return Array.from({ length: count }, (_, i) => t.stringVal[i] ?? last);
  }
  const { dtype } = numericDtype(tfType, what);
  const list = typedList(t, tfType);
  if (list.length > count) throw new TfFormatError(`${what}: ${list.length} values for ${count} elements`);
  const out = allocate(dtype, count);
  for (let i = 0; i < count; i++) {
    const v = list.length === 0 ? 0 : list[Math.min(i, list.length - 1)]!;
    store(out, i, listElement(tfType, v), what);
  }
  return out;
}

/** A Const node's TensorProto as a tfjs constant. Throws TfFormatError naming `what`. */
export function constantFromTensorProto(t: TfTensorProto, what: string): TfjsConstant {
  const tfType = t.dtype ?? 'DT_INVALID';
  const shape = shapeDims(t.tensorShape);
  if (shape === undefined || shape.some((d) => d < 0)) throw new TfFormatError(`${what} has no fully known shape`);
  const count = elementCount(shape);
  if (!Number.isSafeInteger(count) || count > 2 ** 31) throw new TfFormatError(`${what} has too many elements`);
  const dtype = tfjsDtypeOfTf(tfType);
  if (dtype === undefined) throw new TfFormatError(`${what} has dtype ${tfType}, which TensorFlow.js cannot hold`);
  const content = t.tensorContent;
  const values = content !== undefined && content.byteLength > 0 && tfType !== 'DT_STRING'
    ? valuesFromRaw(tfType, content, count, what)
    : valuesFromList(t, tfType, count, what);
  return { dtype, shape, values };
}
