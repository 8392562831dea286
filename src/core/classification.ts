/**
 * Triton's classification extension (PROTOCOL.md §5.4): replaces an output tensor by its top-k
 * entries as BYTES strings `"<value>:<index>"` or `"<value>:<index>:<label>"`.
 *
 * Ordering: by value descending, compared in the output's own type (int64/uint64 exactly); equal
 * values keep index order (Triton's std::sort leaves ties unspecified; we make them deterministic,
 * and -0 equals +0). NaN ranks below every number, -Infinity included (Triton's `>` comparator gives
 * NaN no defined place at all).
 *
 * Formatting follows C++ std::to_string, which Triton uses: integers plainly; floats as printf "%f"
 * of the value (float32 widened exactly to double), i.e. exactly six decimals rounded from the exact
 * binary value with ties to even, "inf"/"-inf", "nan"/"-nan" (glibc prints the NaN's sign bit), "-0.000000".
 *
 * A label is appended when `labels` has a non-empty entry for the index (Triton treats an empty
 * label line as no label).
 */

import type { DataType } from './datatype.js';
import { elementByteSize, elementCount } from './datatype.js';
import { encodeBytesElements } from './bytes-tensor.js';
import { typedView, ValueError } from './tensor-codec.js';

/** Triton rejects classification of larger outputs. */
export const MAX_CLASSIFICATION_ELEMENTS = 1_000_000;

export interface ClassificationSource {
  datatype: DataType;
  shape: readonly number[];
  data: Uint8Array;
}

export interface ClassificationResult {
  datatype: 'BYTES';
  shape: number[];
  data: Uint8Array;
}

type ClassifiableType = 'INT8' | 'INT16' | 'INT32' | 'INT64' | 'UINT8' | 'UINT16' | 'UINT32' | 'UINT64' | 'FP32' | 'FP64';

const CLASSIFIABLE: ReadonlySet<DataType> = new Set<ClassifiableType>([
  'INT8', 'INT16', 'INT32', 'INT64', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'FP32', 'FP64',
]);

/**
 * Top-`k` classification of `output`. With `batched`, dim 0 is the batch and each batch item is
 * classified over its remaining elements (result shape `[batch, min(k, n)]`); otherwise the whole
 * tensor is one item (result shape `[min(k, n)]`). Indexes count from 0 within each item.
 * Throws ValueError for k not a positive integer, an unsupported datatype, more than
 * MAX_CLASSIFICATION_ELEMENTS elements, a batched rank-0 output, or data that does not match the shape.
 */
export function classify(
  output: ClassificationSource, k: number, batched: boolean, labels?: readonly string[],
): ClassificationResult {
  const { datatype, shape, data } = output;
  const count = checkClassifiable(output, k);
  if (batched && shape.length === 0) {
    throw new ValueError('classification of a batched output needs a batch dimension, but the output has shape []');
  }
  const batch = batched ? shape[0]! : 1;
  const perItem = batched ? elementCount(shape.slice(1)) : count;
  const kept = Math.min(k, perItem);
  const ranker = makeRanker(datatype as ClassifiableType, data);
  const strings: string[] = [];
  for (let b = 0; b < batch; b++) {
    const base = b * perItem;
    for (const i of topK(perItem, kept, (x, y) => ranker.before(base + x, base + y))) {
      const label = labels?.[i];
      const text = `${ranker.format(base + i)}:${i}`;
      strings.push(label ? `${text}:${label}` : text);
    }
  }
  return { datatype: 'BYTES', shape: batched ? [batch, kept] : [kept], data: encodeBytesElements(strings) };
}

/** Validates k, datatype, size and byte length; returns the element count. */
function checkClassifiable(output: ClassificationSource, k: number): number {
  const { datatype, shape, data } = output;
  if (!Number.isInteger(k) || k <= 0) {
    throw new ValueError(`classification count must be a positive integer, got ${k}`);
  }
  if (!CLASSIFIABLE.has(datatype)) throw new ValueError(`classification is not supported for ${datatype} outputs`);
  const count = elementCount(shape);
  if (count > MAX_CLASSIFICATION_ELEMENTS) {
    throw new ValueError(
      `classification is not supported for outputs with more than ${MAX_CLASSIFICATION_ELEMENTS} elements (this one has ${count})`,
    );
  }
  const expected = count * elementByteSize(datatype);
  if (data.byteLength !== expected) {
    throw new ValueError(
      `output data has ${data.byteLength} bytes but shape [${shape.join(',')}] of ${datatype} needs ${expected}`,
    );
  }
  return count;
}

/** Compares and prints elements by absolute index; `before` is a strict total order. */
interface Ranker {
  before(a: number, b: number): boolean;
  format(a: number): string;
}

function makeRanker(datatype: ClassifiableType, data: Uint8Array): Ranker {
  if (datatype === 'INT64' || datatype === 'UINT64') return int64Ranker(datatype, data);
  const values = typedView(datatype, data) as ArrayLike<number>;
  const before = (a: number, b: number): boolean => {
    const va = values[a]!;
    const vb = values[b]!;
    if (va > vb) return true;
    if (va < vb) return false;
    if (va === vb) return a < b;
    const aNaN = Number.isNaN(va);
    return aNaN === Number.isNaN(vb) ? a < b : !aNaN;
  };
  if (datatype !== 'FP32' && datatype !== 'FP64') return { before, format: (a) => String(values[a]) };
  // The sign of a NaN is only visible in the raw bytes: the top bit of the last (little-endian) byte.
  const size = elementByteSize(datatype);
  return { before, format: (a) => formatFixed6(values[a]!, (data[a * size + size - 1]! & 0x80) !== 0) };
}

/** Compares 64-bit integers as (high word, low word) pairs, allocating no bigint per comparison. */
function int64Ranker(datatype: 'INT64' | 'UINT64', data: Uint8Array): Ranker {
  const big = typedView(datatype, data);
  const words = new Uint32Array(big.buffer, big.byteOffset, big.length * 2);
  const signed = datatype === 'INT64';
  const before = (a: number, b: number): boolean => {
    const ha = signed ? words[2 * a + 1]! | 0 : words[2 * a + 1]!;
    const hb = signed ? words[2 * b + 1]! | 0 : words[2 * b + 1]!;
    if (ha !== hb) return ha > hb;
    const la = words[2 * a]!;
    const lb = words[2 * b]!;
    return la !== lb ? la > lb : a < b;
  };
  return { before, format: (a) => String(big[a]) };
}

/**
 * Indexes 0..n-1 of the `k` best elements (per `before`), best first. Small k against n uses a
 * bounded heap, O(n log k); otherwise a full sort.
 */
function topK(n: number, k: number, before: (a: number, b: number) => boolean): number[] {
  if (k * 4 >= n) {
    const all = Array.from({ length: n }, (_, i) => i);
    all.sort((a, b) => (a === b ? 0 : before(a, b) ? -1 : 1));
    return all.slice(0, k);
  }
  // heap[0] is the worst element kept so far; a child is never worse than its parent.
  const heap: number[] = [];
  const worse = (a: number, b: number): boolean => before(b, a);
  for (let i = 0; i < n; i++) {
    if (heap.length < k) {
      heap.push(i);
      siftUp(heap, heap.length - 1, worse);
    } else if (before(i, heap[0]!)) {
      heap[0] = i;
      siftDown(heap, worse);
    }
  }
  return heap.sort((a, b) => (a === b ? 0 : before(a, b) ? -1 : 1));
}

function siftUp(heap: number[], at: number, worse: (a: number, b: number) => boolean): void {
  let c = at;
  while (c > 0) {
    const p = (c - 1) >> 1;
    if (!worse(heap[c]!, heap[p]!)) return;
    [heap[c], heap[p]] = [heap[p]!, heap[c]!];
    c = p;
  }
}

function siftDown(heap: number[], worse: (a: number, b: number) => boolean): void {
  let p = 0;
  for (;;) {
    const l = 2 * p + 1;
    if (l >= heap.length) return;
    const r = l + 1;
    const c = r < heap.length && worse(heap[r]!, heap[l]!) ? r : l;
    if (!worse(heap[c]!, heap[p]!)) return;
    [heap[c], heap[p]] = [heap[p]!, heap[c]!];
    p = c;
  }
}

/**
 * printf("%f", x): exactly six decimals of the exact binary value, ties to even.
 * toFixed is exact too but breaks ties away from zero and switches to exponent notation from 1e21.
 */
export function formatFixed6(x: number, negativeNaN = false): string {
  if (Number.isNaN(x)) return negativeNaN ? '-nan' : 'nan';
  const sign = x < 0 || Object.is(x, -0) ? '-' : '';
  const a = Math.abs(x);
  if (a === Infinity) return `${sign}inf`;
  // Every double ≥ 2^53 is an integer, so BigInt(a) is its exact value.
  if (a >= 1e21) return `${sign}${BigInt(a)}.000000`;
  const s = a.toFixed(6);
  // a·10^6 lies exactly halfway between two integers iff a = c / 2^7 with c odd (a is dyadic, and
  // (2m+1) / (2·10^6) is dyadic only when 5^6 divides 2m+1). toFixed then took the upper neighbour;
  // if that one is odd, printf takes the lower, even one. An odd last digit is ≥ 1: no borrow.
  const t = a * 128;
  if (Number.isInteger(t) && t % 2 === 1 && (s.charCodeAt(s.length - 1) & 1) === 1) {
    return `${sign}${s.slice(0, -1)}${String.fromCharCode(s.charCodeAt(s.length - 1) - 1)}`;
  }
  return sign + s;
}
