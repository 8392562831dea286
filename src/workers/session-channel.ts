/**
 * One session's channel between the main thread and its host worker, used the same way on both
 * ends: postMessage(msg) and onMessage(fn), whatever the transport underneath.
 *
 * Transports (worker-pool.ts `channel`):
 * - 'ring': a message goes as a frame of the host worker's shared ring (ring-link.ts), its
 *   tensors' bytes written once into shared memory, no structured clone and no MessagePort. A
 *   message the ring cannot take (a value ring-codec.ts does not carry, a frame over a quarter
 *   of the ring, e.g. a big tensor, or a full ring) goes by the session's MessagePort instead,
 *   with its tensors' buffers in the transfer list, as in 'port' mode.
 * - 'port': every message goes by the MessagePort (structured clone plus a transfer list).
 *
 * Ordering: in 'ring' mode every message sent here carries a per-channel sequence number (the
 * frame header, or a `channelSeq` field on the port), and the receiver hands messages on in that
 * order, holding back one that overtook another (a small message on the ring passing a big one on
 * the port). A message posted straight on the port, past the channel, has no sequence number
 * and is handed on as it arrives.
 *
 * Wire tensors may be views over any buffer (a slice of a request, a SharedArrayBuffer): the ring
 * copies only their bytes, and the port path copies a partial view once and transfers whole ones
 * (and claimed views, core/detachable.ts, marked `movable` so the receiver may align them in place).
 */
import type { MessagePort, TransferListItem } from 'node:worker_threads';
import type { RingLink } from './ring-link.js';
import { wholeBuffer } from '../core/detachable.js';
import { transferableBuffer } from './worker-messages.js';

type Listener = (msg: unknown) => void;

const MAX_DEPTH = 8;

/**
 * Makes every wire tensor inside `v` transferable (a partial or shared view is copied once) and
 * adds its buffer to `transfer` once.
 */
export function collectTransfer(v: unknown, transfer: TransferListItem[], depth = 0): void {
  if (typeof v !== 'object' || v === null || depth > MAX_DEPTH || ArrayBuffer.isView(v)) return;
  if (Array.isArray(v)) {
    for (const item of v) collectTransfer(item, transfer, depth + 1);
    return;
  }
  const o = v as Record<string, unknown>;
  const b = o['buffer'];
  if (b instanceof ArrayBuffer || b instanceof SharedArrayBuffer) {
    const view = new Uint8Array(b, o['byteOffset'] as number, o['byteLength'] as number);
    const buffer = transferableBuffer(view);
    if (buffer !== b) {
      o['buffer'] = buffer;
      o['byteOffset'] = 0;
    } else if (!wholeBuffer(view)) {
      o['movable'] = true; // a claimed view (core/detachable.ts): the receiver may align it in place
    }
    if (!transfer.includes(buffer)) transfer.push(buffer);
    return;
  }
  if (Object.getPrototypeOf(o) !== Object.prototype) return;
  for (const key in o) collectTransfer(o[key], transfer, depth + 1);
}

export class SessionChannel {
  /** Host-worker-wide id of the session (its open message's id); names its ring frames. */
  readonly id: number;
  readonly port: MessagePort;
  readonly #link: RingLink | undefined;
  #sendSeq = 0;
  #expected = 0;
  #held: Map<number, unknown> | undefined;
  #listener: Listener | undefined;
  #early: unknown[] | undefined = [];

  constructor(port: MessagePort, id: number, link?: RingLink) {
    this.id = id;
    this.port = port;
    this.#link = link;
    port.on('message', (raw: unknown) => this.#fromPort(raw));
    if (link === undefined) return;
    link.register(id, (seq, msg) => this.#deliver(seq, msg));
    port.once('close', () => link.unregister(id));
  }

  /** True when messages may travel by the shared ring. */
  get ring(): boolean {
    return this.#link !== undefined;
  }

  /** The one listener; messages that arrived before it was set are handed to it first, in order. */
  onMessage(fn: Listener): void {
    this.#listener = fn;
    const early = this.#early;
    this.#early = undefined;
    for (const m of early ?? []) fn(m);
  }

  /**
   * Sends `msg`; `transfer` lists extra transferables for the port path (wire tensors' buffers
   * are found and added here). Throws as MessagePort.postMessage does when the port is closed.
   */
  postMessage(msg: object, transfer: readonly TransferListItem[] = []): void {
    if (this.#link === undefined) {
      const list = [...transfer];
      collectTransfer(msg, list);
      this.port.postMessage(msg, list);
      return;
    }
    // The number is used up only by a message that was sent: one that throws (DataCloneError)
    // must not leave a gap that the receiver would wait on for ever.
    const seq = this.#sendSeq;
    if (!this.#link.send(this.id, seq, msg)) {
      const list = [...transfer];
      collectTransfer(msg, list);
      this.port.postMessage({ ...msg, channelSeq: seq }, list);
    }
    this.#sendSeq = (seq + 1) >>> 0;
  }

  /** Closes the port and stops taking ring frames for the session. */
  close(): void {
    this.#link?.unregister(this.id);
    this.#held = undefined;
    this.port.close();
  }

  #fromPort(raw: unknown): void {
    const seq = (raw as { channelSeq?: unknown } | null)?.channelSeq;
    if (this.#link !== undefined && typeof seq === 'number') this.#deliver(seq, raw);
    else this.#emit(raw);
  }

  #deliver(seq: number, msg: unknown): void {
    if (seq !== this.#expected) {
      (this.#held ??= new Map()).set(seq, msg);
      return;
    }
    this.#emit(msg);
    this.#expected = (seq + 1) >>> 0;
    const held = this.#held;
    if (held === undefined || held.size === 0) return;
    for (let next = held.get(this.#expected); next !== undefined || held.has(this.#expected); next = held.get(this.#expected)) {
      held.delete(this.#expected);
      this.#emit(next);
      this.#expected = (this.#expected + 1) >>> 0;
    }
  }

  #emit(msg: unknown): void {
    if (this.#listener !== undefined) this.#listener(msg);
    else this.#early?.push(msg);
  }
}
