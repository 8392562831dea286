/**
 * A pre-scan of protobuf wire bytes against the message's schema, run before protobufjs builds a
 * single object for them. It reads tags and lengths only (never copies a payload) and refuses:
 * - what the request declares beyond REQUEST_LIMITS (entries of a repeated field or map, dims of a
 *   shape, typed tensor values, fields in all, nesting) → RESOURCE_EXHAUSTED;
 * - malformed wire data protobufjs would decode anyway: field number 0, the group and invalid wire
 *   types (3, 4, 6, 7), a known field sent with the wrong wire type, truncated varints or lengths,
 *   a packed fixed-width block whose length is not a multiple of its width → INVALID_ARG.
 *
 * Why a pre-scan (and not a custom decoder or decoding off the main thread): protobufjs decodes
 * fast and is the well-kept decoder every handler's types come from; what it lacks is a bound on
 * what a message may declare. Counting costs one pass over the tags and no allocation per field,
 * so a 57 MB message of 30 M empty entries is refused after the first 4,097 of them, in well
 * under a millisecond, where decoding it took ~50 s and 5 GB and ended the process. Decoding off
 * the main thread would move that cost instead of refusing it, and would copy every tensor.
 * The decompressed size is bounded before this runs: bounded-inflate.ts counts inflated bytes
 * against grpc.max_receive_message_length while inflating (on the libuv thread pool), and checks
 * each inflated chunk's top level (wire-prefix-scan.ts) before keeping it.
 *
 * Invariants: the scan is O(number of tags), bounded by REQUEST_LIMITS.fields; it recurses only
 * into schema sub-messages, at most REQUEST_LIMITS.depth deep; unknown fields (of a well-formed
 * wire type) are skipped, as protobuf requires, but count against the field budget.
 */
import protobuf from 'protobufjs';
import { REQUEST_LIMITS as CORE_LIMITS } from '../../core/request-limits.js';

export interface WireLimits {
  /** Entries of one repeated message, string or bytes field (inputs, outputs, raw_input_contents). */
  readonly entries: number;
  /** Entries of one map (parameters). */
  readonly mapEntries: number;
  /** Elements of a repeated scalar outside tensor contents (a shape's dims). */
  readonly dims: number;
  /** Typed tensor values (InferTensorContents elements) of the whole message. */
  readonly values: number;
  /** Tags of the whole message, known or not; packed elements count as values or dims instead. */
  readonly fields: number;
  /** Message nesting. */
  readonly depth: number;
}

/**
 * The core's REQUEST_LIMITS on the wire: 4,096 empty inputs decode in about a millisecond.
 * Typed contents are bounded at 2^23 values (32 MiB of FP32); larger tensors belong in
 * raw_input_contents, which decodes as views without a per-element cost.
 */
export const REQUEST_LIMITS: WireLimits = Object.freeze({
  entries: CORE_LIMITS.entries,
  mapEntries: CORE_LIMITS.parameters,
  dims: CORE_LIMITS.dims,
  values: 1 << 23,
  fields: 1 << 20,
  depth: CORE_LIMITS.depth,
});

/** Why a message was refused; `exhausted` → RESOURCE_EXHAUSTED, else INVALID_ARG. */
export class WireScanError extends Error {
  /** The message's model name when the scan had read it before the refusal. */
  modelName: string | undefined;

  constructor(readonly exhausted: boolean, message: string) {
    super(message);
    this.name = 'WireScanError';
  }
}

/** What the scan learned along the way, for error messages. */
export interface ScanResult {
  /** The top-level `model_name` or `name` string field, when the message has one (decoded on read). */
  readonly name: string | undefined;
}

export const WIRE_VARINT = 0;
export const WIRE_FIXED64 = 1;
export const WIRE_LEN = 2;
export const WIRE_FIXED32 = 5;

/** Wire type of each protobuf scalar type (string and bytes are length-delimited). */
const SCALAR_WIRE: Readonly<Record<string, number>> = {
  double: WIRE_FIXED64, fixed64: WIRE_FIXED64, sfixed64: WIRE_FIXED64,
  float: WIRE_FIXED32, fixed32: WIRE_FIXED32, sfixed32: WIRE_FIXED32,
  int32: WIRE_VARINT, int64: WIRE_VARINT, uint32: WIRE_VARINT, uint64: WIRE_VARINT,
  sint32: WIRE_VARINT, sint64: WIRE_VARINT, bool: WIRE_VARINT,
  string: WIRE_LEN, bytes: WIRE_LEN,
};

const TENSOR_CONTENTS = '.inference.InferTensorContents';

class Scanner {
  pos = 0;
  fields = 0;
  values = 0;
  /** Where the top-level name string lies (decoded only when an error needs it). */
  nameAt = -1;
  nameLength = 0;
  /** Per-depth counts of repeated fields, reused across sibling messages (no allocation per message). */
  readonly counts: Map<number, number>[] = [];

  constructor(readonly buf: Uint8Array, readonly limits: WireLimits) {}

  /** A varint as a number; exact up to 2^53, which covers every tag and length. */
  varint(end: number): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= end) throw new WireScanError(false, 'truncated varint');
      const b = this.buf[this.pos++]!;
      result += (b & 0x7f) * scale;
      if (b < 0x80) return result;
      scale *= 128;
    }
    throw new WireScanError(false, 'varint longer than 10 bytes');
  }

  length(end: number): number {
    const n = this.varint(end);
    if (n > end - this.pos) throw new WireScanError(false, `length ${n} runs past the end of the message`);
    return n;
  }

  skip(wire: number, end: number): void {
    if (wire === WIRE_VARINT) this.varint(end);
    else if (wire === WIRE_LEN) {
      const n = this.length(end); // read first: `this.pos += this.length()` would add to the old pos
      this.pos += n;
    }
    else {
      const width = wire === WIRE_FIXED64 ? 8 : 4;
      if (end - this.pos < width) throw new WireScanError(false, 'truncated fixed-width field');
      this.pos += width;
    }
  }

  message(type: protobuf.Type, end: number, depth: number): void {
    if (depth > this.limits.depth) throw new WireScanError(true, `messages nested deeper than ${this.limits.depth} levels`);
    const counts = (this.counts[depth] ??= new Map<number, number>());
    counts.clear();
    while (this.pos < end) {
      if (++this.fields > this.limits.fields) throw new WireScanError(true, `more than ${this.limits.fields} fields in one message`);
      const tag = this.varint(end);
      const id = Math.floor(tag / 8);
      const wire = tag % 8;
      checkTag(type, id, wire);
      const field = type.fieldsById[id];
      if (field === undefined) this.skip(wire, end);
      else this.field(type, field, wire, end, depth, counts);
    }
  }

  get name(): string | undefined {
    return this.nameAt < 0 ? undefined : Buffer.from(this.buf.buffer, this.buf.byteOffset + this.nameAt, this.nameLength).toString('utf8');
  }

  field(type: protobuf.Type, f: protobuf.Field, wire: number, end: number, depth: number, counts: Map<number, number>): void {
    const sub = f.resolvedType instanceof protobuf.Type ? f.resolvedType : undefined;
    const scalarWire = checkFieldWire(type, f, wire);
    const packed = f.repeated && wire === WIRE_LEN && scalarWire !== WIRE_LEN;
    const inContents = type.fullName === TENSOR_CONTENTS;
    if (f.map || (f.repeated && scalarWire === WIRE_LEN)) {
      const n = (counts.get(f.id) ?? 0) + 1;
      counts.set(f.id, n);
      const limit = f.map ? this.limits.mapEntries : inContents ? this.limits.values : this.limits.entries;
      if (n > limit) throw new WireScanError(true, `'${f.name}' of ${typeName(type)} has more than ${limit} entries`);
      if (inContents) this.countValues(1);
    } else if (f.repeated) {
      const n = packed ? this.packedCount(scalarWire, end, f) : 1;
      if (inContents) this.countValues(n);
      else {
        const total = (counts.get(f.id) ?? 0) + n;
        counts.set(f.id, total);
        if (total > this.limits.dims) throw new WireScanError(true, `'${f.name}' of ${typeName(type)} has more than ${this.limits.dims} elements`);
      }
      if (packed) return;
    }
    if (f.map) return this.mapEntry(f, end, depth);
    if (sub !== undefined) {
      const len = this.length(end);
      this.message(sub, this.pos + len, depth + 1);
      return;
    }
    if (depth === 0 && f.type === 'string' && (f.name === 'model_name' || f.name === 'name')) {
      this.nameLength = this.length(end);
      this.nameAt = this.pos;
      this.pos += this.nameLength;
      return;
    }
    this.skip(wire, end);
  }

  countValues(n: number): void {
    this.values += n;
    if (this.values > this.limits.values) {
      throw new WireScanError(true, `more than ${this.limits.values} typed tensor values: send large tensors in raw_input_contents`);
    }
  }

  /** Elements of a packed block; leaves `pos` after it. */
  packedCount(wire: number, end: number, f: protobuf.Field): number {
    const len = this.length(end);
    const stop = this.pos + len;
    if (wire !== WIRE_VARINT) {
      const width = wire === WIRE_FIXED64 ? 8 : 4;
      if (len % width !== 0) throw new WireScanError(false, `packed '${f.name}' has ${len} bytes, not a multiple of ${width}`);
      this.pos = stop;
      return len / width;
    }
    let n = 0;
    for (let i = this.pos; i < stop; i++) if (this.buf[i]! < 0x80) n++;
    if (len > 0 && this.buf[stop - 1]! >= 0x80) throw new WireScanError(false, `packed '${f.name}' ends inside a varint`);
    this.pos = stop;
    return n;
  }

  /** A map entry is a message { key = 1; value = 2 }. */
  mapEntry(f: protobuf.Field, end: number, depth: number): void {
    const len = this.length(end);
    const stop = this.pos + len;
    const valueType = f.resolvedType instanceof protobuf.Type ? f.resolvedType : undefined;
    const mf = f as unknown as protobuf.MapField;
    while (this.pos < stop) {
      if (++this.fields > this.limits.fields) throw new WireScanError(true, `more than ${this.limits.fields} fields in one message`);
      const tag = this.varint(stop);
      const id = Math.floor(tag / 8);
      const wire = tag % 8;
      const want = id === 1 ? (SCALAR_WIRE[mf.keyType] ?? WIRE_VARINT) : id === 2 ? (valueType !== undefined ? WIRE_LEN : (SCALAR_WIRE[f.type] ?? WIRE_VARINT)) : -1;
      if (want === -1 || wire !== want) throw new WireScanError(false, `malformed entry of map '${f.name}' (field ${id}, wire type ${wire})`);
      if (id === 2 && valueType !== undefined) {
        const vlen = this.length(stop);
        this.message(valueType, this.pos + vlen, depth + 1);
      } else this.skip(wire, stop);
    }
  }
}

/** Throws for field number 0 or beyond 2^29 − 1, and for the group and invalid wire types (3, 4, 6, 7). */
export function checkTag(type: protobuf.Type, id: number, wire: number): void {
  if (id === 0 || id > 0x1fffffff) throw new WireScanError(false, `invalid field number ${id} in ${typeName(type)}`);
  if (wire !== WIRE_VARINT && wire !== WIRE_FIXED64 && wire !== WIRE_LEN && wire !== WIRE_FIXED32) {
    throw new WireScanError(false, `invalid wire type ${wire} for field ${id} of ${typeName(type)}`);
  }
}

/**
 * The wire type `f` of `type` is encoded with (length-delimited for messages and maps); throws
 * when `wire` is neither that nor, for a repeated scalar, a packed block.
 */
export function checkFieldWire(type: protobuf.Type, f: protobuf.Field, wire: number): number {
  const sub = f.resolvedType instanceof protobuf.Type;
  const scalarWire = sub ? WIRE_LEN : (SCALAR_WIRE[f.type] ?? WIRE_VARINT); // enums are varints
  const packed = f.repeated && wire === WIRE_LEN && scalarWire !== WIRE_LEN;
  if (f.map || sub ? wire !== WIRE_LEN : wire !== scalarWire && !packed) {
    throw new WireScanError(false, `field '${f.name}' of ${typeName(type)} has wire type ${wire}, expected ${f.map || sub ? WIRE_LEN : scalarWire}`);
  }
  return scalarWire;
}

export function typeName(t: protobuf.Type): string {
  return t.fullName.replace(/^\./, '');
}

/** Throws WireScanError when `buf` is not a well-formed `type` within `limits`. */
export function scanMessage(buf: Uint8Array, type: protobuf.Type, limits: WireLimits = REQUEST_LIMITS): ScanResult {
  const s = new Scanner(buf, limits);
  try {
    s.message(type, buf.length, 0);
  } catch (e) {
    if (e instanceof WireScanError) e.modelName = s.name;
    throw e;
  }
  return { get name() { return s.name; } };
}
