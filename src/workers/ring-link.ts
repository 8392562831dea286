/**
 * One thread's end of a host worker's pair of shared rings (shared-ring.ts): it sends frames on
 * `tx` and serves the frames arriving on `rx` to the session they name. There is one link per
 * host worker on each side (not one per session), so a worker hosting a thousand sessions still
 * has two rings and one waiter.
 *
 *   frame payload := session id (u32) · channel seq (u32) · message (ring-codec.ts)
 *
 * The receive loop waits with Atomics.waitAsync on both threads: the host worker thread also
 * serves its sessions' MessagePorts (open, dispose, log, and whatever else the session protocol
 * adds) and runs their runners' promises, and a blocking Atomics.wait would starve all of those.
 * Each wake drains every frame present, so under load one wake serves many messages.
 *
 * A frame for a session that is not registered (closed, or from before a restart) is dropped.
 */
import { RingReader, RingWriter } from './ring-codec.js';
import { SharedRing } from './shared-ring.js';

const FRAME_HEADER = 8;
/**
 * Default limit of one frame. Above it a message goes by the port, its buffers transferred: the
 * receiver of a long byte run must allocate memory for it (about 0.3 µs per KiB on the
 * development machine) and both copies touch shared memory, while a transfer moves the sender's
 * buffer as it is (bench/channel-bench.ts prints both).
 */
export const DEFAULT_MAX_FRAME_BYTES = 4 * 1024;

/** The two rings of one host worker, as posted to it in workerData. */
export interface RingPair {
  toWorker: SharedArrayBuffer;
  fromWorker: SharedArrayBuffer;
  /** A message whose frame would be longer goes by the port (both directions). */
  maxFrameBytes: number;
}

/** As a throwing 'message' listener would: an uncaught exception, but the receive loop goes on. */
function throwLater(err: unknown): void {
  queueMicrotask(() => {
    throw err;
  });
}

export type FrameHandler = (seq: number, msg: unknown) => void;

export class RingLink {
  readonly #tx: SharedRing;
  readonly #rx: SharedRing;
  readonly #writer: RingWriter;
  readonly #reader: RingReader;
  readonly #sessions = new Map<number, FrameHandler>();
  readonly #maxPayload: number;
  #closed = false;

  constructor(tx: SharedArrayBuffer, rx: SharedArrayBuffer, maxFrameBytes: number) {
    this.#tx = new SharedRing(tx);
    this.#maxPayload = Math.min(maxFrameBytes, this.#tx.maxPayload);
    this.#rx = new SharedRing(rx);
    this.#writer = new RingWriter(this.#tx.buf, this.#tx.view);
    this.#reader = new RingReader(this.#rx.buf, this.#rx.view);
    void this.#receive();
  }

  /** A new pair of rings of `bytes` each; the main thread's link and what the worker needs. */
  static createPair(bytes: number, maxFrameBytes = DEFAULT_MAX_FRAME_BYTES): { link: RingLink; pair: RingPair } {
    const toWorker = SharedRing.create(bytes).sab;
    const fromWorker = SharedRing.create(bytes).sab;
    return { link: new RingLink(toWorker, fromWorker, maxFrameBytes), pair: { toWorker, fromWorker, maxFrameBytes } };
  }

  /** The worker's link for the pair the main thread made. */
  static forWorker(pair: RingPair): RingLink {
    return new RingLink(pair.fromWorker, pair.toWorker, pair.maxFrameBytes);
  }

  register(session: number, onFrame: FrameHandler): void {
    this.#sessions.set(session, onFrame);
  }

  unregister(session: number): void {
    this.#sessions.delete(session);
  }

  /**
   * Writes `msg` as one frame; false when it cannot go by the ring now (a value the codec does
   * not carry, bigger than a frame may be, the ring full, or closed): send it by the port then.
   */
  send(session: number, seq: number, msg: unknown): boolean {
    if (this.#closed) return false;
    const size = this.#writer.measure(msg);
    if (size < 0 || FRAME_HEADER + size > this.#maxPayload) return false;
    const tx = this.#tx;
    const at = tx.reserve(FRAME_HEADER + size);
    if (at < 0) return false;
    tx.view.setUint32(at, session, true);
    tx.view.setUint32(at + 4, seq, true);
    this.#writer.encode(at + FRAME_HEADER, msg);
    tx.commit();
    return true;
  }

  /** Stops the receive loop and refuses further sends (the worker is gone or stopping). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#sessions.clear();
    this.#tx.close();
    this.#rx.close();
  }

  async #receive(): Promise<void> {
    const rx = this.#rx;
    while (!this.#closed) {
      const seen = rx.signal();
      this.#drain();
      if (this.#closed || rx.closed) return;
      const wake = rx.waitAsync(seen);
      if (wake === undefined) continue;
      await wake;
      rx.woke();
    }
  }

  #drain(): void {
    const rx = this.#rx;
    const reader = this.#reader;
    for (let at = rx.next(); at >= 0; at = rx.next()) {
      const session = rx.view.getUint32(at, true);
      const seq = rx.view.getUint32(at + 4, true);
      reader.pos = at + FRAME_HEADER;
      let msg: unknown;
      try {
        msg = reader.value();
      } catch (err) {
        rx.release();
        throwLater(err);
        continue;
      }
      rx.release();
      try {
        this.#sessions.get(session)?.(seq, msg);
      } catch (err) {
        throwLater(err);
      }
    }
  }
}
