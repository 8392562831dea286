/**
 * Conversions between the core's raw tensor bytes (row-major, little-endian; PROTOCOL.md §4) and
 * the typed values the front-ends carry: gRPC `*_contents` fields and HTTP JSON `data` arrays.
 *
 * Encoding accepts, per datatype:
 * - BOOL: booleans only.
 * - Integer types: integral numbers, bigints, decimal strings (`-?[0-9]+`) and Long-like objects
 *   `{ low, high, unsigned }`, since protobuf loaders hand 64-bit fields over in any of those forms.
 * - FP32/FP64: numbers, NaN and ±Infinity included. FP32 rounds to nearest float32; a finite value
 *   beyond float32's range becomes ±Infinity as IEEE conversion does (not an error).
 * - BYTES: Uint8Array (Buffer included) or string (written as UTF-8).
 * - FP16/BF16: nothing; neither protocol has a typed form for them, they travel as raw bytes only.
 * Anything else throws ValueError naming the element. Deliberate difference from Triton: Triton
 * narrows INT8/INT16 values in `int_contents` (and UINT8/UINT16 in `uint_contents`) to their low
 * bytes silently; we reject every value outside the datatype's range instead, because a silently
 * wrapped input produces a plausible but wrong inference result.
 *
 * Decoding (for the JSON front-end) widens: FP32 values print as their exact double (0.1f →
 * 0.10000000149011612, as Triton does); INT64/UINT64 come back as numbers when every value is a safe
 * integer (|v| ≤ 2^53 − 1) and otherwise all as bigints; BYTES as strings decoded from UTF-8 with
 * invalid sequences replaced by U+FFFD (a leading BOM is kept, not stripped).
 */

import type { DataType } from './datatype.js';
import { elementByteSize } from './datatype.js';
import { bytesElementStrings, encodeBytesElements } from './bytes-tensor.js';
import { bfloat16BitsToNumber, float16BitsToNumber } from './float16.js';

export { bfloat16BitsToNumber, float16BitsToNumber, numberToBfloat16Bits, numberToFloat16Bits } from './float16.js';

// Typed arrays use the host's byte order while the wire is little-endian. Every platform Node
// supports in production is little-endian; refusing to load on the others is cheaper than paying for
// a DataView (or a byte swap) on every element of every request.
if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
  throw new Error('tensor-codec requires a little-endian host');
}

/** A value could not be converted to (or from) the requested datatype. */
export class ValueError extends Error {
  /** Index of the offending element, or -1 when the error is not about one element. */
  readonly index: number;

  constructor(message: string, index = -1) {
    super(message);
    this.name = 'ValueError';
    this.index = index;
  }
}

export type FixedSizeDataType = Exclude<DataType, 'BYTES'>;

/** The typed array `typedView` returns for each fixed-size datatype. FP16/BF16 give their bit patterns. */
export interface TypedArrayByDataType {
  BOOL: Uint8Array; UINT8: Uint8Array; INT8: Int8Array;
  UINT16: Uint16Array; INT16: Int16Array; FP16: Uint16Array; BF16: Uint16Array;
  UINT32: Uint32Array; INT32: Int32Array; FP32: Float32Array;
  UINT64: BigUint64Array; INT64: BigInt64Array; FP64: Float64Array;
}

export type TypedView = TypedArrayByDataType[FixedSizeDataType];

export type DecodedValues = boolean[] | number[] | bigint[] | string[];

export type ViewConstructor = new (buffer: ArrayBufferLike, byteOffset?: number, length?: number) => TypedView;

export const VIEW_CONSTRUCTORS: Readonly<Record<FixedSizeDataType, ViewConstructor>> = {
  BOOL: Uint8Array, UINT8: Uint8Array, INT8: Int8Array,
  UINT16: Uint16Array, INT16: Int16Array, FP16: Uint16Array, BF16: Uint16Array,
  UINT32: Uint32Array, INT32: Int32Array, FP32: Float32Array,
  UINT64: BigUint64Array, INT64: BigInt64Array, FP64: Float64Array,
};

/**
 * A typed array over the raw bytes of a fixed-size tensor. Shares memory with `data` when its
 * byteOffset is a multiple of the element size; otherwise the bytes are copied into a fresh, aligned
 * buffer (typed arrays cannot be unaligned). Either way treat the result as read-only.
 * Throws ValueError for BYTES or when the length is not a whole number of elements.
 */
export function typedView<D extends FixedSizeDataType>(datatype: D, data: Uint8Array): TypedArrayByDataType[D] {
  const size = fixedElementSize(datatype);
  checkWholeElements(datatype, data);
  const Ctor = VIEW_CONSTRUCTORS[datatype];
  const n = data.byteLength / size;
  // Not data.slice(): on a Node Buffer (gRPC hands those over) slice() returns a view, not a copy.
  const aligned = data.byteOffset % size === 0 ? data : new Uint8Array(data);
  return new Ctor(aligned.buffer, aligned.byteOffset, n) as TypedArrayByDataType[D];
}

function fixedElementSize(datatype: DataType): number {
  const size = elementByteSize(datatype);
  if (size === 0) throw new ValueError(`${datatype} has variable-size elements and no typed view`);
  return size;
}

function checkWholeElements(datatype: DataType, data: Uint8Array): void {
  const size = elementByteSize(datatype);
  if (size > 1 && data.byteLength % size !== 0) {
    throw new ValueError(`${data.byteLength} bytes is not a whole number of ${datatype} elements (${size} bytes each)`);
  }
}

// ---------------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------------

/**
 * Inclusive bigint bounds, plus the same range as doubles with an exclusive upper end: max + 1 is a
 * power of two (2^7 … 2^64), hence an exact double, while max itself may not be (2^63 − 1).
 */
interface IntRange {
  readonly minBig: bigint;
  readonly maxBig: bigint;
  readonly min: number;
  readonly end: number;
}

function range(min: bigint, max: bigint): IntRange {
  return { minBig: min, maxBig: max, min: Number(min), end: Number(max + 1n) };
}

const INT_RANGES: Readonly<Partial<Record<DataType, IntRange>>> = {
  INT8: range(-128n, 127n), INT16: range(-32768n, 32767n), INT32: range(-(2n ** 31n), 2n ** 31n - 1n),
  UINT8: range(0n, 255n), UINT16: range(0n, 65535n), UINT32: range(0n, 2n ** 32n - 1n),
  INT64: range(-(2n ** 63n), 2n ** 63n - 1n), UINT64: range(0n, 2n ** 64n - 1n),
};

function inRange(n: number | bigint, r: IntRange): boolean {
  return typeof n === 'number' ? n >= r.min && n < r.end : n >= r.minBig && n <= r.maxBig;
}

/**
 * Typed values (gRPC `*_contents`, JSON `data`) → raw little-endian bytes in one fresh buffer.
 * Throws ValueError on a wrong JS kind, a non-integer for an integer type, an out-of-range value,
 * or a datatype with no typed representation (FP16, BF16).
 */
export function encodeTypedValues(datatype: DataType, values: ArrayLike<unknown>): Uint8Array {
  switch (datatype) {
    case 'BOOL': return encodeBool(values);
    case 'FP32': return encodeFloat(datatype, values, Float32Array);
    case 'FP64': return encodeFloat(datatype, values, Float64Array);
    case 'BYTES': return encodeBytes(values);
    case 'INT64': case 'UINT64': return encodeInt64(datatype, values);
    case 'FP16': case 'BF16': throw new ValueError(`${datatype} data must be sent as raw bytes`);
    default: return encodeSmallInt(datatype, values);
  }
}

function encodeBool(values: ArrayLike<unknown>): Uint8Array {
  const out = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v !== 'boolean') throw wrongKind(i, v, 'a boolean', 'BOOL');
    out[i] = v ? 1 : 0;
  }
  return out;
}

function encodeFloat(
  datatype: 'FP32' | 'FP64', values: ArrayLike<unknown>, Ctor: Float32ArrayConstructor | Float64ArrayConstructor,
): Uint8Array {
  const out = new Ctor(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v !== 'number') throw wrongKind(i, v, 'a number', datatype);
    out[i] = v;
  }
  return new Uint8Array(out.buffer);
}

function encodeBytes(values: ArrayLike<unknown>): Uint8Array {
  const elements: (Uint8Array | string)[] = new Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v !== 'string' && !(v instanceof Uint8Array)) throw wrongKind(i, v, 'a string or bytes', 'BYTES');
    elements[i] = v;
  }
  return encodeBytesElements(elements);
}

type SmallIntType = 'INT8' | 'INT16' | 'INT32' | 'UINT8' | 'UINT16' | 'UINT32';

const SMALL_INT_ARRAYS: Readonly<Record<SmallIntType, new (length: number) => TypedView>> = {
  INT8: Int8Array, INT16: Int16Array, INT32: Int32Array, UINT8: Uint8Array, UINT16: Uint16Array, UINT32: Uint32Array,
};

function encodeSmallInt(datatype: DataType, values: ArrayLike<unknown>): Uint8Array {
  const r = INT_RANGES[datatype]!;
  const out = new SMALL_INT_ARRAYS[datatype as SmallIntType](values.length) as Int32Array;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    // Fast path: the common case, a plain in-range integer (-0 included; it stores as 0).
    if (typeof v === 'number' && Number.isInteger(v) && v >= r.min && v < r.end) {
      out[i] = v;
      continue;
    }
    const n = toInteger(v, i, datatype);
    if (!inRange(n, r)) throw outOfRange(i, n, datatype);
    out[i] = Number(n);
  }
  return new Uint8Array(out.buffer);
}

const TWO_32 = 2 ** 32;

function encodeInt64(datatype: 'INT64' | 'UINT64', values: ArrayLike<unknown>): Uint8Array {
  const r = INT_RANGES[datatype]!;
  const buffer = new ArrayBuffer(values.length * 8);
  // Numbers and Long-likes are written as two 32-bit words, avoiding a bigint per element.
  const words = new Uint32Array(buffer);
  const big = datatype === 'INT64' ? new BigInt64Array(buffer) : new BigUint64Array(buffer);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (isLongLike(v)) {
      if (!longInRange(v, datatype)) throw outOfRange(i, longToBigInt(v), datatype);
      words[2 * i] = v.low >>> 0;
      words[2 * i + 1] = v.high >>> 0;
      continue;
    }
    const n = toInteger(v, i, datatype);
    if (!inRange(n, r)) throw outOfRange(i, n, datatype);
    if (typeof n === 'number') {
      // Exact for any integral double: ToUint32 is arithmetic modulo 2^32 and floor(n / 2^32) is
      // exact, so negative values come out in two's complement.
      words[2 * i] = n >>> 0;
      words[2 * i + 1] = Math.floor(n / TWO_32) >>> 0;
    } else {
      big[i] = n;
    }
  }
  return new Uint8Array(buffer);
}

/** The shape of a protobufjs `Long` (what proto-loader yields for 64-bit fields by default). */
interface LongLike {
  low: number;
  high: number;
  unsigned: boolean;
}

function isLongLike(v: unknown): v is LongLike {
  return typeof v === 'object' && v !== null && isWord((v as LongLike).low) && isWord((v as LongLike).high);
}

/** A 32-bit word, written signed (as Long stores it) or unsigned. */
function isWord(x: unknown): boolean {
  return typeof x === 'number' && ((x | 0) === x || x >>> 0 === x);
}

/** A signed Long is in UINT64 range, and an unsigned one in INT64 range, iff its top bit is clear. */
function longInRange(v: LongLike, datatype: DataType): boolean {
  const topBitSet = (v.high & 0x8000_0000) !== 0;
  return datatype === 'INT64' ? !(v.unsigned && topBitSet) : v.unsigned || !topBitSet;
}

function longToBigInt(v: LongLike): bigint {
  const raw = (BigInt(v.high >>> 0) << 32n) | BigInt(v.low >>> 0);
  return v.unsigned ? raw : BigInt.asIntN(64, raw);
}

const DECIMAL = /^-?[0-9]+$/;
/** Longer decimal strings are not parsed at all (bounds BigInt's work on hostile input). */
const MAX_DECIMAL_CHARS = 100;

/** Any accepted integer form → an integral number or a bigint, not yet range-checked. */
function toInteger(v: unknown, index: number, datatype: DataType): number | bigint {
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw new ValueError(`element ${index}: ${v} is not an integer (${datatype})`, index);
    return v;
  }
  if (typeof v === 'bigint') return v;
  if (typeof v === 'string') {
    if (v.length > MAX_DECIMAL_CHARS || !DECIMAL.test(v)) {
      throw new ValueError(`element ${index}: ${describe(v)} is not a decimal integer (${datatype})`, index);
    }
    return v.length <= 15 ? Number(v) : BigInt(v);
  }
  if (isLongLike(v)) return longToBigInt(v);
  throw wrongKind(index, v, 'an integer', datatype);
}

function outOfRange(index: number, v: number | bigint, datatype: DataType): ValueError {
  // Print large integral doubles exactly (2^63, not 9223372036854776000).
  const exact = typeof v === 'number' && !Number.isSafeInteger(v) ? BigInt(v) : v;
  return new ValueError(`element ${index}: ${exact} is out of range for ${datatype}`, index);
}

function wrongKind(index: number, v: unknown, expected: string, datatype: DataType): ValueError {
  return new ValueError(`element ${index}: expected ${expected} for ${datatype}, got ${describe(v)}`, index);
}

function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  if (typeof v === 'bigint') return `${v}n`;
  if (v === null) return 'null';
  if (v instanceof Uint8Array) return 'bytes';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `${typeof v} ${String(v)}`;
}

// ---------------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------------

/**
 * Raw bytes → plain JS values, for the JSON front-end and debugging. See the module comment for
 * the widening rules. Throws FramingError (BYTES) or ValueError (length not a whole number of elements).
 */
export function decodeToValues(datatype: DataType, data: Uint8Array): DecodedValues {
  checkWholeElements(datatype, data);
  switch (datatype) {
    case 'BYTES': return bytesElementStrings(data);
    case 'BOOL': return toBooleans(data);
    case 'FP16': return toNumbers(typedView(datatype, data), float16BitsToNumber);
    case 'BF16': return toNumbers(typedView(datatype, data), bfloat16BitsToNumber);
    case 'INT64': case 'UINT64': return decodeInt64(datatype, data);
    default: return toNumbers(typedView(datatype, data) as ArrayLike<number>);
  }
}

function toBooleans(data: Uint8Array): boolean[] {
  const out: boolean[] = new Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = data[i] !== 0;
  return out;
}

/** A plain loop into a pre-sized array: several times faster than Array.from on typed arrays. */
function toNumbers(view: ArrayLike<number>, convert?: (v: number) => number): number[] {
  const out: number[] = new Array(view.length);
  if (convert === undefined) for (let i = 0; i < view.length; i++) out[i] = view[i]!;
  else for (let i = 0; i < view.length; i++) out[i] = convert(view[i]!);
  return out;
}

/** Safe integers as numbers in one pass over 32-bit words; falls back to bigints for the whole tensor. */
function decodeInt64(datatype: 'INT64' | 'UINT64', data: Uint8Array): number[] | bigint[] {
  const signed = datatype === 'INT64';
  const big = typedView(datatype, data);
  const words = new Uint32Array(big.buffer, big.byteOffset, big.length * 2);
  const out: number[] = new Array(big.length);
  for (let i = 0; i < big.length; i++) {
    const hi = signed ? words[2 * i + 1]! | 0 : words[2 * i + 1]!;
    // |hi| < 2^21 keeps hi * 2^32 + lo within ±2^53, so the sum is exact and the test meaningful.
    const v = hi * TWO_32 + words[2 * i]!;
    if (hi >= 2 ** 21 || hi < -(2 ** 21) || !Number.isSafeInteger(v)) return Array.from(big);
    out[i] = v;
  }
  return out;
}
