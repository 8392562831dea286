/**
 * A single-producer, single-consumer ring of byte frames in a SharedArrayBuffer: one thread
 * writes frames, one other thread reads them, with no lock and no message object in between.
 *
 * Layout: a 64-byte header of Int32 slots (HEAD, TAIL, SIGNAL) and a data region whose size is a
 * power of two. HEAD and TAIL are byte counters that only grow (mod 2^32); a position in the
 * data region is counter & (capacity - 1), so head − tail is the bytes in use. A frame is an
 * Int32 payload length and the payload, padded to 8 bytes; a frame never wraps: when it does not
 * fit before the end, the producer writes a WRAP marker (length −1) and the frame starts at 0.
 *
 * Invariants:
 * - Only the producer writes HEAD and the data past it; only the consumer writes TAIL. Frame
 *   bytes are plain writes made visible by the Atomics.store of HEAD (Atomics are sequentially
 *   consistent), and freed space by the Atomics.store of TAIL.
 * - The producer never waits: reserve() returns −1 when the frame does not fit now, and the
 *   caller sends the message another way (see session-channel.ts).
 * - SIGNAL is incremented after every commit and on close(); the consumer reads it before
 *   draining and waits on that value, so a commit racing with the wait wakes it at once.
 * - A commit calls Atomics.notify only when the consumer has set WAITING (a notify that wakes an
 *   async waiter posts a task to the other thread and costs microseconds). The consumer sets
 *   WAITING before waitAsync on the SIGNAL value it read before draining: a commit that saw
 *   WAITING = 0 has already changed SIGNAL, so that waitAsync returns at once.
 * - The notify is issued from a microtask, once for all the commits of the current job (a burst
 *   of batches or results costs one wake-up); microtasks run before the thread can block or go
 *   back to its event loop, so no wake-up waits for anything but the end of the current job.
 */
const HEAD = 0;
const TAIL = 1;
const SIGNAL = 2;
const CLOSED = 3;
/** 1 while the consumer is (about to be) parked in waitAsync: only then does a commit notify. */
const WAITING = 4;
const HEADER_BYTES = 64;
const WRAP = -1;
const LENGTH_BYTES = 4;

/** Atomics.waitAsync (Node ≥ 16; not in this TypeScript lib's Atomics type). */
const waitAsync = (Atomics as unknown as {
  waitAsync(a: Int32Array, index: number, value: number): { async: boolean; value: Promise<unknown> | string };
}).waitAsync;

function align8(n: number): number {
  return (n + 7) & ~7;
}

export class SharedRing {
  readonly sab: SharedArrayBuffer;
  readonly capacity: number;
  /** The data region as a Buffer (utf8 helpers) and a DataView (numbers); same bytes. */
  readonly buf: Buffer;
  readonly view: DataView;
  readonly #ctl: Int32Array;
  readonly #mask: number;
  /** Producer: bytes skipped by a WRAP marker in the frame being reserved. */
  #skip = 0;
  #reserved = 0;
  /** Consumer: its own copy of TAIL, published by release(). */
  #tail: number;
  #frameBytes = 0;
  #notifyQueued = false;
  readonly #flush = (): void => {
    this.#notifyQueued = false;
    Atomics.notify(this.#ctl, SIGNAL);
  };

  constructor(sab: SharedArrayBuffer) {
    const capacity = sab.byteLength - HEADER_BYTES;
    if (capacity < 64 || (capacity & (capacity - 1)) !== 0) throw new RangeError(`ring data size must be a power of two >= 64, got ${capacity}`);
    this.sab = sab;
    this.capacity = capacity;
    this.#mask = capacity - 1;
    this.#ctl = new Int32Array(sab, 0, HEADER_BYTES / 4);
    this.buf = Buffer.from(sab, HEADER_BYTES, capacity);
    this.view = new DataView(sab, HEADER_BYTES, capacity);
    this.#tail = Atomics.load(this.#ctl, TAIL) >>> 0;
  }

  /** A ring with `capacity` data bytes (rounded up to a power of two). */
  static create(capacity: number): SharedRing {
    let size = 64;
    while (size < capacity) size *= 2;
    return new SharedRing(new SharedArrayBuffer(HEADER_BYTES + size));
  }

  /** The largest payload a frame may carry: a quarter of the ring, so that a few fit at once. */
  get maxPayload(): number {
    return this.capacity / 4 - LENGTH_BYTES;
  }

  get closed(): boolean {
    return Atomics.load(this.#ctl, CLOSED) !== 0;
  }

  // ── producer ──────────────────────────────────────────────────────────────────────────────
  /** Offset where `payload` bytes may be written now, or −1 (too big, ring full, or closed). */
  reserve(payload: number): number {
    if (payload > this.maxPayload || this.closed) return -1;
    const total = align8(LENGTH_BYTES + payload);
    const head = Atomics.load(this.#ctl, HEAD) >>> 0;
    const free = this.capacity - ((head - (Atomics.load(this.#ctl, TAIL) >>> 0)) >>> 0);
    const pos = head & this.#mask;
    const toEnd = this.capacity - pos;
    let start = pos;
    this.#skip = 0;
    if (total > toEnd) {
      if (toEnd + total > free) return -1;
      this.view.setInt32(pos, WRAP);
      this.#skip = toEnd;
      start = 0;
    } else if (total > free) {
      return -1;
    }
    this.view.setInt32(start, payload);
    this.#reserved = total;
    return start + LENGTH_BYTES;
  }

  /** Publishes the frame reserved last and wakes the consumer. */
  commit(): void {
    const head = Atomics.load(this.#ctl, HEAD) >>> 0;
    Atomics.store(this.#ctl, HEAD, (head + this.#skip + this.#reserved) | 0);
    Atomics.add(this.#ctl, SIGNAL, 1);
    if (!this.#notifyQueued && Atomics.load(this.#ctl, WAITING) !== 0) {
      this.#notifyQueued = true;
      queueMicrotask(this.#flush);
    }
  }

  // ── consumer ──────────────────────────────────────────────────────────────────────────────
  /** The value to wait on: read it before draining (see waitAsync). */
  signal(): number {
    return Atomics.load(this.#ctl, SIGNAL);
  }

  /** Offset of the next frame's payload (its length is `frameLength`), or −1 when empty. */
  next(): number {
    const head = Atomics.load(this.#ctl, HEAD) >>> 0;
    if (head === this.#tail) return -1;
    let pos = this.#tail & this.#mask;
    let len = this.view.getInt32(pos);
    if (len === WRAP) {
      this.#tail = (this.#tail + this.capacity - pos) >>> 0;
      pos = 0;
      len = this.view.getInt32(0);
    }
    this.frameLength = len;
    this.#frameBytes = align8(LENGTH_BYTES + len);
    return pos + LENGTH_BYTES;
  }

  /** Payload bytes of the frame next() returned. */
  frameLength = 0;

  /** Frees the frame next() returned; its bytes must not be read afterwards. */
  release(): void {
    this.#tail = (this.#tail + this.#frameBytes) >>> 0;
    Atomics.store(this.#ctl, TAIL, this.#tail | 0);
  }

  /**
   * Resolves once SIGNAL differs from `seen` (undefined when it already does). Call woke() when
   * it has resolved, before draining.
   */
  waitAsync(seen: number): Promise<unknown> | undefined {
    Atomics.store(this.#ctl, WAITING, 1);
    const r = waitAsync(this.#ctl, SIGNAL, seen);
    if (r.async) return r.value as Promise<unknown>;
    Atomics.store(this.#ctl, WAITING, 0);
    return undefined;
  }

  woke(): void {
    Atomics.store(this.#ctl, WAITING, 0);
  }

  /** Either side: no more frames are accepted; a waiting consumer wakes. */
  close(): void {
    Atomics.store(this.#ctl, CLOSED, 1);
    Atomics.add(this.#ctl, SIGNAL, 1);
    Atomics.notify(this.#ctl, SIGNAL);
  }
}
