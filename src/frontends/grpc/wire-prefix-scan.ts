/**
 * The top level of a message's wire bytes checked as they arrive, chunk by chunk, so a compressed
 * message can be refused while it inflates (bounded-inflate.ts) instead of after all of it is
 * in memory. It refuses what wire-scan.ts would refuse at the top level, from the bytes seen so far:
 * - field number 0, an invalid wire type, a known field with the wrong wire type → INVALID_ARG
 *   (a gzip bomb of zeros is field 0 in its first byte);
 * - more top-level entries or fields than REQUEST_LIMITS allows → RESOURCE_EXHAUSTED
 *   (30 M empty raw_input_contents stop after the first 4,097);
 * - a length-delimited field declaring more bytes than the message may hold in all
 *   (`maxBytes`, the inflated-size limit) → RESOURCE_EXHAUSTED, from its declared length, before
 *   those bytes are inflated.
 *
 * An observer (raw-size-precheck.ts) may be told of each known length-delimited field as its length
 * is read; whatever it throws is the refusal.
 *
 * Invariants: it never looks inside a top-level field's payload (sub-messages, tensors); the
 * full scan (wire-scan.ts) of the assembled message still runs before decoding, so this check
 * only has to be a sound prefix of it: whatever it refuses, the full scan would refuse too (or
 * the size limit would). It keeps O(1) state across chunks (a varint split between two chunks is
 * carried as its partial value), costs O(top-level tags) in all, and copies nothing except the
 * model name, when that lies within one chunk, for error messages.
 */
import type protobuf from 'protobufjs';
import {
  checkFieldWire, checkTag, REQUEST_LIMITS, typeName, WIRE_FIXED64, WIRE_LEN, WIRE_VARINT, WireScanError, type WireLimits,
} from './wire-scan.js';

/** What the varint being read is: a tag, a field's length, or a varint field's value. */
const Phase = { Tag: 0, Length: 1, Varint: 2 } as const;
type Phase = (typeof Phase)[keyof typeof Phase];

/** Told of each top-level length-delimited field as its length is read, before its payload. */
export type FieldObserver = (id: number, tagAt: number, length: number) => void;

export class WirePrefixScan {
  /** Bytes seen so far. */
  #offset = 0;
  /** Where the tag being read (or last read) starts. */
  #tagAt = 0;
  /** Payload bytes of the current field still to pass over. */
  #skip = 0;
  #phase: Phase = Phase.Tag;
  /** A varint being read, possibly across chunks. */
  #value = 0;
  #scale = 1;
  #varintBytes = 0;
  #field: protobuf.Field | undefined;
  #fields = 0;
  readonly #counts = new Map<number, number>();
  #name: string | undefined;

  constructor(
    readonly type: protobuf.Type, readonly maxBytes: number, readonly limits: WireLimits = REQUEST_LIMITS, readonly observe?: FieldObserver,
  ) {}

  /** The top-level `model_name` / `name`, when it has been seen whole in one chunk. */
  get modelName(): string | undefined {
    return this.#name;
  }

  /** Takes the next bytes of the message; throws WireScanError (with modelName set) on a refusal. */
  push(chunk: Uint8Array): void {
    try {
      this.#walk(chunk);
    } catch (e) {
      if (e instanceof WireScanError) e.modelName = this.#name;
      throw e;
    }
  }

  #walk(chunk: Uint8Array): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.#skip > 0) {
        const n = Math.min(this.#skip, chunk.length - i);
        i += n;
        this.#skip -= n;
        continue;
      }
      if (this.#varintBytes === 0 && this.#phase === Phase.Tag) this.#tagAt = this.#offset + i;
      const b = chunk[i++]!;
      if (this.#varintBytes === 10) throw new WireScanError(false, 'varint longer than 10 bytes');
      this.#value += (b & 0x7f) * this.#scale;
      this.#scale *= 128;
      this.#varintBytes++;
      if (b >= 0x80) continue;
      const v = this.#value;
      this.#value = 0;
      this.#scale = 1;
      this.#varintBytes = 0;
      if (this.#phase === Phase.Tag) this.#tag(v);
      else if (this.#phase === Phase.Length) i = this.#length(v, chunk, i);
      else this.#phase = Phase.Tag;
    }
    this.#offset += chunk.length;
  }

  #tag(tag: number): void {
    const type = this.type;
    if (++this.#fields > this.limits.fields) throw new WireScanError(true, `more than ${this.limits.fields} fields in one message`);
    const id = Math.floor(tag / 8);
    const wire = tag % 8;
    checkTag(type, id, wire);
    const f = type.fieldsById[id];
    this.#field = f;
    if (f !== undefined) {
      const scalarWire = checkFieldWire(type, f, wire);
      if (f.map || (f.repeated && scalarWire === WIRE_LEN)) {
        const n = (this.#counts.get(id) ?? 0) + 1;
        this.#counts.set(id, n);
        const limit = f.map ? this.limits.mapEntries : this.limits.entries;
        if (n > limit) throw new WireScanError(true, `'${f.name}' of ${typeName(type)} has more than ${limit} entries`);
      }
    }
    if (wire === WIRE_LEN) this.#phase = Phase.Length;
    else if (wire === WIRE_VARINT) this.#phase = Phase.Varint;
    else this.#skip = wire === WIRE_FIXED64 ? 8 : 4;
  }

  /** A field's declared length has been read, ending at chunk[i]; returns where to go on. */
  #length(n: number, chunk: Uint8Array, i: number): number {
    this.#phase = Phase.Tag;
    const at = this.#offset + i;
    if (n > this.maxBytes - at) {
      const what = this.#field === undefined ? 'an unknown field' : `'${this.#field.name}'`;
      throw new WireScanError(true, `${what} of ${n} bytes at byte ${at} ends past the ${this.maxBytes}-byte message limit`);
    }
    const f = this.#field;
    if (f !== undefined && f.type === 'string' && (f.name === 'model_name' || f.name === 'name') && i + n <= chunk.length) {
      this.#name = Buffer.from(chunk.buffer, chunk.byteOffset + i, n).toString('utf8');
    }
    this.#skip = n;
    if (f !== undefined && this.observe !== undefined) this.observe(f.id, this.#tagAt, n);
    return i;
  }
}
