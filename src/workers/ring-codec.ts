/**
 * The compact binary form of a worker message inside a ring frame (shared-ring.ts). It encodes any
 * JSON-like value plus bigint, Uint8Array and wire tensors, so that the fields other parts of the
 * code add to a message travel without this file knowing them.
 *
 *   value   := tag:u8 body
 *   tags    : undefined, null, false, true, int32 (i32), float64 (f64), string (u32 len, utf8),
 *             string-def (u32 id, u32 len, utf8), string-ref (u32 id),
 *             bigint (i64; a bigint outside int64 is sent as its decimal string), array (u32 n, values),
 *             object (u32 n, n × (string key, value)), bytes (byte run → a Uint8Array copy),
 *             tensor (object of the other fields, byte run)
 *   byte run := u32 len · u8 pad · pad bytes · len bytes
 *
 * The pad puts a byte run at the same offset mod 8 in the ring as in the sender's buffer: V8
 * copies to and from shared memory a word at a time only between mutually aligned addresses, byte
 * by byte otherwise (about ten times slower at 4 KiB on the development machine). The reader
 * always places a run at a 64-byte boundary of its own memory (what the port path's fresh buffers
 * give, at least), whatever the sender's offset: ONNX Runtime's kernels can round differently for
 * data at other alignments, and a result must not depend on where a tensor sat in its request.
 *
 * Strings (keys and values) of up to INTERN_MAX_CHARS are interned per ring: the first time as a
 * definition, then as a 5-byte reference, so the field names, tensor names and datatypes of every
 * message after the first cost no text at all. A ring has one writer and one reader that see its
 * frames in the same order, so their tables agree; every frame is decoded, whoever it is for. The
 * table stops growing at INTERN_MAX_ENTRIES (later strings are sent as text).
 *
 * A wire tensor is an object whose `buffer` is an ArrayBuffer or SharedArrayBuffer: only its
 * byteOffset..byteOffset+byteLength range is written (once, straight from the sender's view). The
 * receiver copies the bytes out so that the ring space is free as soon as the frame is decoded:
 * inputs then belong to the runner and outputs to the response, as the Runner contract says.
 * A byte run of up to SLAB_PIECE_MAX bytes is copied into a slice of a reader-owned slab (like
 * Buffer's pool: allocating an ArrayBuffer per small tensor costs more than the copy), a longer one
 * into an ArrayBuffer of its own; the WireTensor's byteOffset says where.
 *
 * RingWriter.measure() returns −1 for anything else (a function, a Map, a class instance, a MessagePort, a
 * cycle deeper than MAX_DEPTH): the caller sends that message through its MessagePort instead.
 */
const T_UNDEFINED = 0;
const T_NULL = 1;
const T_FALSE = 2;
const T_TRUE = 3;
const T_INT32 = 4;
const T_FLOAT64 = 5;
const T_STRING = 6;
const T_BIGINT = 7;
const T_ARRAY = 8;
const T_OBJECT = 9;
const T_BYTES = 10;
const T_TENSOR = 11;
const T_STRING_DEF = 12;
const T_STRING_REF = 13;
const T_BIGINT_TEXT = 14;
const MAX_DEPTH = 32;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
export const INTERN_MAX_CHARS = 32;
export const INTERN_MAX_ENTRIES = 4096;
export const SLAB_PIECE_MAX = 4096;
const SLAB_BYTES = 64 * 1024;
const PIECE_ALIGN = 64;
/** A byte run's length, pad length and at most 7 pad bytes. */
const RUN_OVERHEAD = 4 + 1 + 7;

type Rec = Record<string, unknown>;

function isTensorBuffer(b: unknown): b is ArrayBuffer | SharedArrayBuffer {
  return b instanceof ArrayBuffer || b instanceof SharedArrayBuffer;
}

function isPlainObject(v: object): v is Rec {
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

function isViewOf(buffer: ArrayBuffer | SharedArrayBuffer, offset: unknown, length: unknown): boolean {
  return Number.isSafeInteger(offset) && Number.isSafeInteger(length) && (offset as number) >= 0 && (length as number) >= 0
    && (offset as number) + (length as number) <= buffer.byteLength;
}

function isTensorField(key: string): boolean {
  return key === 'buffer' || key === 'byteOffset' || key === 'byteLength';
}

/** Writes values into one ring's frames; holds that ring's writer-side string table. */
export class RingWriter {
  readonly #ids = new Map<string, number>();

  constructor(readonly buf: Buffer, readonly view: DataView) {}

  /** Encoded size of `v` in bytes (never less than encode() writes), or −1 when `v` holds something this codec does not carry. */
  measure(v: unknown, depth = 0): number {
    switch (typeof v) {
      case 'undefined': return 1;
      case 'boolean': return 1;
      case 'number': return (v | 0) === v && !Object.is(v, -0) ? 5 : 9;
      case 'string': return this.#measureString(v);
      case 'bigint': return v >= INT64_MIN && v <= INT64_MAX ? 9 : 5 + v.toString().length;
      case 'object': break;
      default: return -1;
    }
    if (v === null) return 1;
    if (depth > MAX_DEPTH) return -1;
    if (Array.isArray(v)) {
      let n = 5;
      for (const item of v) {
        const m = this.measure(item, depth + 1);
        if (m < 0) return -1;
        n += m;
      }
      return n;
    }
    if (v instanceof Uint8Array) return 1 + RUN_OVERHEAD + v.byteLength;
    if (!isPlainObject(v)) return -1;
    const tensor = isTensorBuffer(v['buffer']);
    // encode() must not throw once it has started (it may define interned strings): check the view here.
    if (tensor && !isViewOf(v['buffer'] as ArrayBuffer, v['byteOffset'], v['byteLength'])) return -1;
    let n = tensor ? 1 + 5 + RUN_OVERHEAD + (v['byteLength'] as number) : 5;
    for (const key in v) {
      if (tensor && isTensorField(key)) continue;
      const m = this.measure(v[key], depth + 1);
      if (m < 0) return -1;
      n += this.#measureString(key) + m;
    }
    return n;
  }

  /** Writes `v` (measured first) at `pos`; returns the end offset. */
  encode(pos: number, v: unknown): number {
    const { buf, view } = this;
    switch (typeof v) {
      case 'undefined': buf[pos] = T_UNDEFINED; return pos + 1;
      case 'boolean': buf[pos] = v ? T_TRUE : T_FALSE; return pos + 1;
      case 'number':
        if ((v | 0) === v && !Object.is(v, -0)) {
          buf[pos] = T_INT32;
          view.setInt32(pos + 1, v, true);
          return pos + 5;
        }
        buf[pos] = T_FLOAT64;
        view.setFloat64(pos + 1, v, true);
        return pos + 9;
      case 'string': return this.#string(pos, v);
      case 'bigint':
        if (v >= INT64_MIN && v <= INT64_MAX) {
          buf[pos] = T_BIGINT;
          view.setBigInt64(pos + 1, v, true);
          return pos + 9;
        }
        buf[pos] = T_BIGINT_TEXT;
        return this.#text(pos + 1, v.toString());
      default: break;
    }
    if (v === null) {
      buf[pos] = T_NULL;
      return pos + 1;
    }
    if (Array.isArray(v)) {
      buf[pos] = T_ARRAY;
      view.setUint32(pos + 1, v.length, true);
      let p = pos + 5;
      for (const item of v) p = this.encode(p, item);
      return p;
    }
    if (v instanceof Uint8Array) {
      buf[pos] = T_BYTES;
      return this.#bytes(pos + 1, v);
    }
    const o = v as Rec;
    const tensor = isTensorBuffer(o['buffer']);
    let p = pos;
    if (tensor) buf[p++] = T_TENSOR;
    buf[p] = T_OBJECT;
    const countAt = p + 1;
    p += 5;
    let count = 0;
    for (const key in o) {
      if (tensor && isTensorField(key)) continue;
      p = this.#string(p, key);
      p = this.encode(p, o[key]);
      count++;
    }
    view.setUint32(countAt, count, true);
    if (!tensor) return p;
    return this.#bytes(p, new Uint8Array(o['buffer'] as ArrayBuffer, o['byteOffset'] as number, o['byteLength'] as number));
  }

  #measureString(s: string): number {
    if (s.length > INTERN_MAX_CHARS) return 5 + Buffer.byteLength(s, 'utf8');
    if (this.#ids.has(s)) return 5;
    // A short string: at most 3 UTF-8 bytes per UTF-16 unit, plus the id when it is defined.
    return 9 + 3 * s.length;
  }

  #string(pos: number, s: string): number {
    const { buf, view } = this;
    if (s.length > INTERN_MAX_CHARS) {
      buf[pos] = T_STRING;
      return this.#text(pos + 1, s);
    }
    const id = this.#ids.get(s);
    if (id !== undefined) {
      buf[pos] = T_STRING_REF;
      view.setUint32(pos + 1, id, true);
      return pos + 5;
    }
    if (this.#ids.size >= INTERN_MAX_ENTRIES) {
      buf[pos] = T_STRING;
      return this.#text(pos + 1, s);
    }
    const next = this.#ids.size;
    this.#ids.set(s, next);
    buf[pos] = T_STRING_DEF;
    view.setUint32(pos + 1, next, true);
    return this.#text(pos + 5, s);
  }

  #text(pos: number, s: string): number {
    const n = this.buf.write(s, pos + 4, 'utf8');
    this.view.setUint32(pos, n, true);
    return pos + 4 + n;
  }

  #bytes(pos: number, bytes: Uint8Array): number {
    this.view.setUint32(pos, bytes.byteLength, true);
    const pad = (bytes.byteOffset - (pos + 5)) & 7;
    this.buf[pos + 4] = pad;
    const start = pos + 5 + pad;
    this.buf.set(bytes, start);
    return start + bytes.byteLength;
  }
}

/** Reads values back from one ring's frames; `pos` advances past each one. Holds the reader-side string table. */
export class RingReader {
  pos = 0;
  readonly #strings: string[] = [];

  constructor(readonly buf: Buffer, readonly view: DataView) {}

  value(): unknown {
    const { buf, view } = this;
    const tag = buf[this.pos++]!;
    switch (tag) {
      case T_UNDEFINED: return undefined;
      case T_NULL: return null;
      case T_FALSE: return false;
      case T_TRUE: return true;
      case T_INT32: this.pos += 4; return view.getInt32(this.pos - 4, true);
      case T_FLOAT64: this.pos += 8; return view.getFloat64(this.pos - 8, true);
      case T_STRING: case T_STRING_DEF: case T_STRING_REF: this.pos--; return this.string();
      case T_BIGINT_TEXT: return BigInt(this.#text());
      case T_BIGINT: this.pos += 8; return view.getBigInt64(this.pos - 8, true);
      case T_ARRAY: {
        const n = view.getUint32(this.pos, true);
        this.pos += 4;
        const out = new Array<unknown>(n);
        for (let i = 0; i < n; i++) out[i] = this.value();
        return out;
      }
      case T_OBJECT: return this.#object();
      case T_BYTES: return this.#bytes();
      case T_TENSOR: {
        this.pos++; // the T_OBJECT tag of its fields
        const o = this.#object();
        const bytes = this.#bytes();
        o['buffer'] = bytes.buffer;
        o['byteOffset'] = bytes.byteOffset;
        o['byteLength'] = bytes.byteLength;
        return o;
      }
      default: throw new RangeError(`ring frame holds an unknown tag ${tag} at ${this.pos - 1}`);
    }
  }

  string(): string {
    const tag = this.buf[this.pos++];
    if (tag === T_STRING_REF) {
      const id = this.view.getUint32(this.pos, true);
      this.pos += 4;
      const s = this.#strings[id];
      if (s === undefined) throw new RangeError(`ring frame refers to string ${id}, never defined`);
      return s;
    }
    if (tag === T_STRING) return this.#text();
    if (tag !== T_STRING_DEF) throw new RangeError(`ring frame holds tag ${tag} where a string belongs`);
    const id = this.view.getUint32(this.pos, true);
    this.pos += 4;
    const s = this.#text();
    this.#strings[id] = s;
    return s;
  }

  #object(): Rec {
    const n = this.view.getUint32(this.pos, true);
    this.pos += 4;
    const o: Rec = {};
    for (let i = 0; i < n; i++) {
      const key = this.string();
      o[key] = this.value();
    }
    return o;
  }

  #text(): string {
    const n = this.view.getUint32(this.pos, true);
    const start = this.pos + 4;
    this.pos = start + n;
    return this.buf.toString('utf8', start, start + n);
  }

  /** A copy of the next byte run: a slice of the slab, or an ArrayBuffer of its own when long. */
  #bytes(): Uint8Array {
    const n = this.view.getUint32(this.pos, true);
    const start = this.pos + 5 + this.buf[this.pos + 4]!;
    this.pos = start + n;
    let out: Uint8Array;
    if (n > SLAB_PIECE_MAX) {
      out = new Uint8Array(n);
    } else {
      let at = (this.#slabUsed + PIECE_ALIGN - 1) & ~(PIECE_ALIGN - 1);
      if (this.#slab === undefined || at + n > SLAB_BYTES) {
        this.#slab = new ArrayBuffer(SLAB_BYTES);
        at = 0;
      }
      out = new Uint8Array(this.#slab, at, n);
      this.#slabUsed = at + n;
    }
    out.set(this.buf.subarray(start, start + n));
    return out;
  }

  #slab: ArrayBuffer | undefined;
  #slabUsed = 0;
}
