/**
 * Bytes that arrive in chunks (a gRPC message's HTTP/2 frames, an HTTP body's socket reads, zlib's
 * output) gathered into one buffer without a long pause of the thread that gathers them.
 *
 * Why this exists: the first write to freshly allocated memory costs a page fault per 4 KiB, and
 * on the VMs Infera is measured on that is about 4 ms per MiB (a 43 MB Buffer.concat held the
 * event loop 180–550 ms; copying a 256 MiB message's first 32 MiB of frames at once, 150 ms).
 * Buffer.concat and "collect, then copy" both touch all of it in one callback. Here, once the final
 * buffer exists, each chunk is copied to its place as it arrives, and chunks received before it
 * existed (the backlog) are copied a few at a time alongside later chunks, at most DRAIN_FACTOR
 * times the new chunk's bytes per push; so no single push touches more than a few chunks' worth
 * of fresh memory, and the cost is spread over the transfer.
 *
 * When the final buffer is allocated: once `allocateAt` of the declared size has arrived (a client
 * that declares a size must send that share before the server reserves it; 0 = with the first
 * chunk). Without a declared size (chunked HTTP, deflate output) the chunks are kept and joined by
 * finish() with one concat: that case keeps the pause, bounded by the caller's size limit.
 *
 * A size may also be a hint (a gzip trailer's ISIZE, which several gzip members make wrong): pushing
 * beyond a hint goes on as if no size had been declared, instead of throwing.
 *
 * Invariants: the bytes of finish() are the pushed chunks in order, byte for byte; nothing is kept
 * from a chunk after push() returns except, before the buffer exists, the chunk itself; pushing more
 * than a declared (not hinted) size is the caller's error (checked, throws RangeError).
 */

/** Backlog bytes copied per push, as a multiple of the pushed chunk's bytes (at least one part). */
const DRAIN_FACTOR = 2;
/** Below this a declared size is allocated with the first chunk: small buffers cost no pause. */
const SMALL_BYTES = 1 << 20;

export class ChunkAssembly {
  /** Bytes pushed so far. */
  length = 0;
  #whole: Buffer | undefined;
  /** Chunks not yet in #whole, in order; `#parts[#drained..]` start at byte offset #drainAt. */
  #parts: Buffer[] = [];
  #drained = 0;
  #drainAt = 0;

  #size: number | undefined;

  /**
   * `size`: the final size, or undefined when unknown. `allocateAt`: the fraction of it that must
   * arrive before the buffer is allocated (0 = at the first chunk). `hint`: the size may be wrong.
   */
  constructor(size: number | undefined, readonly allocateAt = 0, readonly hint = false) {
    this.#size = size;
  }

  /** The size the bytes are assembled for; undefined once none is known. */
  get size(): number | undefined {
    return this.#size;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    const size = this.#size;
    if (size !== undefined && this.length + chunk.length > size) {
      if (!this.hint) throw new RangeError(`${this.length + chunk.length} bytes pushed into an assembly of ${size}`);
      this.#forgetSize();
      this.#parts.push(chunk);
      this.length += chunk.length;
      return;
    }
    if (this.#whole === undefined) {
      this.#parts.push(chunk);
      this.length += chunk.length;
      if (size !== undefined && this.length < size && (size <= SMALL_BYTES || this.length >= size * this.allocateAt)) {
        this.#whole = Buffer.allocUnsafe(size);
        this.#drain(chunk.length);
      }
      return;
    }
    chunk.copy(this.#whole, this.length);
    this.length += chunk.length;
    if (this.#drained < this.#parts.length) this.#drain(chunk.length * DRAIN_FACTOR);
  }

  /** The hint proved wrong: what is assembled so far becomes the first part of a concat. */
  #forgetSize(): void {
    if (this.#whole !== undefined) {
      this.#drain(Infinity);
      this.#parts = [this.#whole.subarray(0, this.length)];
      this.#whole = undefined;
    }
    this.#size = undefined;
  }

  /** Copies backlog parts into #whole until at least `budget` bytes are copied or none are left. */
  #drain(budget: number): void {
    const whole = this.#whole!;
    let copied = 0;
    while (this.#drained < this.#parts.length && copied < budget) {
      const p = this.#parts[this.#drained++]!;
      p.copy(whole, this.#drainAt);
      this.#drainAt += p.length;
      copied += p.length;
    }
    if (this.#drained === this.#parts.length) {
      this.#parts = [];
      this.#drained = 0;
    }
  }

  /** The assembled bytes (a view of length `length`); the assembly must not be pushed to again. */
  finish(): Buffer {
    if (this.#whole !== undefined) {
      this.#drain(Infinity);
      return this.length === this.#whole.length ? this.#whole : this.#whole.subarray(0, this.length);
    }
    const parts = this.#parts;
    this.#parts = [];
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts, this.length);
  }
}
