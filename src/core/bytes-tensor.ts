/**
 * The BYTES tensor layout (PROTOCOL.md §4): every element is a 4-byte little-endian unsigned length
 * followed by that many bytes, elements concatenated with no padding or terminator.
 *
 * Parsing walks untrusted bytes, so every read is bounds-checked and the cursor advances by at least
 * 4 bytes per element: any input terminates after at most byteLength / 4 steps. Parsers return views
 * into the caller's buffer, never copies; callers that keep them must not let the buffer be reused.
 */

import { Buffer } from 'node:buffer';

/** Largest element a 4-byte length prefix can describe. */
const MAX_ELEMENT_BYTES = 0xffff_ffff;

/**
 * The framing of a BYTES buffer is malformed. The message says where and why; it does not name a
 * model or tensor, so callers wrap it in an InferenceError that does.
 */
export class FramingError extends Error {
  /** Byte offset in the buffer at which the bad element (or its length prefix) starts. */
  readonly offset: number;

  constructor(message: string, offset: number) {
    super(message);
    this.name = 'FramingError';
    this.offset = offset;
  }
}

/**
 * Serializes elements into the BYTES layout, strings as UTF-8, into one fresh ArrayBuffer.
 * Throws RangeError for an element longer than a length prefix can describe.
 */
export function encodeBytesElements(elements: readonly (Uint8Array | string)[]): Uint8Array {
  let total = 0;
  for (let i = 0; i < elements.length; i++) {
    const el = elements[i]!;
    const size = typeof el === 'string' ? Buffer.byteLength(el, 'utf8') : el.byteLength;
    if (size > MAX_ELEMENT_BYTES) {
      throw new RangeError(`element ${i} is ${size} bytes, more than a BYTES element can hold (${MAX_ELEMENT_BYTES})`);
    }
    total += 4 + size;
  }
  const out = new Uint8Array(total);
  // A Buffer view over the same memory, only for its allocation-free UTF-8 writer.
  const writer = Buffer.from(out.buffer, out.byteOffset, out.byteLength);
  let pos = 0;
  for (let i = 0; i < elements.length; i++) {
    const el = elements[i]!;
    const size = typeof el === 'string' ? writer.write(el, pos + 4, 'utf8') : copyInto(out, el, pos + 4);
    writer.writeUInt32LE(size, pos);
    pos += 4 + size;
  }
  return out;
}

function copyInto(out: Uint8Array, el: Uint8Array, at: number): number {
  out.set(el, at);
  return el.byteLength;
}

/**
 * Validates the element starting at `pos` (its `index`-th) and returns the offset just past its
 * content. Throws FramingError if the prefix or the content runs past the end of `data`.
 */
function elementEnd(data: Uint8Array, pos: number, index: number): number {
  const remaining = data.byteLength - pos;
  if (remaining < 4) {
    throw new FramingError(
      `truncated length prefix at byte ${pos}: element ${index} needs 4 bytes but only ${remaining} remain`,
      pos,
    );
  }
  const size = (data[pos]! | (data[pos + 1]! << 8) | (data[pos + 2]! << 16) | (data[pos + 3]! << 24)) >>> 0;
  if (size > remaining - 4) {
    throw new FramingError(
      `element ${index} at byte ${pos} declares ${size} bytes but only ${remaining - 4} remain`,
      pos,
    );
  }
  return pos + 4 + size;
}

/** Number of elements in a BYTES buffer; throws FramingError if the framing is malformed. */
export function countBytesElements(data: Uint8Array): number {
  let count = 0;
  for (let pos = 0; pos < data.byteLength; count++) pos = elementEnd(data, pos, count);
  return count;
}

/**
 * Views (not copies) of each element's content, in order; throws FramingError if the framing is
 * malformed. The views share memory with `data`.
 */
export function bytesElementViews(data: Uint8Array): Uint8Array[] {
  const views: Uint8Array[] = [];
  for (let pos = 0; pos < data.byteLength; ) {
    const end = elementEnd(data, pos, views.length);
    views.push(data.subarray(pos + 4, end));
    pos = end;
  }
  return views;
}

/**
 * Each element decoded as UTF-8, invalid sequences replaced by U+FFFD and a leading BOM kept (the
 * bytes are data, not a document). Throws FramingError if the framing is malformed.
 */
export function bytesElementStrings(data: Uint8Array): string[] {
  // Buffer#toString over one shared view: no per-element view object, and faster than TextDecoder.
  const reader = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const strings: string[] = [];
  for (let pos = 0; pos < data.byteLength; ) {
    const end = elementEnd(data, pos, strings.length);
    strings.push(reader.toString('utf8', pos + 4, end));
    pos = end;
  }
  return strings;
}
