/**
 * Splits a gRPC call's request byte stream into framed messages (flag, length, message), as
 * grpc-js's StreamDecoder does, without holding every HTTP/2 DATA frame of a big message.
 *
 * grpc-js (1.14) keeps each frame of a message (16 KiB views of node's read buffers) in a list,
 * copies them all into one buffer when the last arrives, and keeps the list until the next message
 * starts: a 256 MiB request cost 512 MiB, and for a unary call the frames stay referenced until
 * the call ends. Here, once a message's received bytes reach an eighth of its declared length
 * (or all of it), the message buffer is allocated at its final size and every later frame is
 * copied in as it arrives and dropped; the frames list is released with the message. The eighth
 * bounds what a client gains by declaring more than it sends: it must send 1/8 of a buffer before
 * the server allocates it (and nothing is allocated beyond --grpc-max-input-size, checked
 * from the declared length as grpc-js does, with grpc-js's message).
 *
 * installMessageReader() gives each call of an Infera service (a handler whose deserializer
 * carries an INFLATE_CHECK, bounded-deserialize.ts) a MessageReader in place of its StreamDecoder,
 * on the call's first data frame (grpc-js-internals.ts finds the prototype); other calls keep
 * grpc-js's decoder. The output is the same buffers, byte for byte (unit-tested).
 */
import { INFLATE_CHECK } from './bounded-deserialize.js';
import { serverCallPrototype } from './grpc-js-internals.js';

const PREFIX_BYTES = 5;
/** A message buffer is allocated once this fraction of its declared length has arrived. */
const ALLOCATE_AT = 1 / 8;

export class MessageReader {
  /** Prefix bytes of the message being read (flag and big-endian length). */
  #prefix = Buffer.alloc(PREFIX_BYTES);
  #prefixRead = 0;
  #size = 0;
  /** Frames received before the message buffer exists. */
  #parts: Buffer[] = [];
  #partsBytes = 0;
  #message: Buffer | undefined;
  #filled = 0;

  constructor(readonly maxMessageBytes: number) {}

  /** The complete framed messages `data` ends; throws grpc-js's error for a declared length over the limit. */
  write(data: Buffer): Buffer[] {
    const out: Buffer[] = [];
    let at = 0;
    while (at < data.length) {
      if (this.#prefixRead < PREFIX_BYTES) {
        const n = Math.min(PREFIX_BYTES - this.#prefixRead, data.length - at);
        data.copy(this.#prefix, this.#prefixRead, at, at + n);
        this.#prefixRead += n;
        at += n;
        if (this.#prefixRead === PREFIX_BYTES) this.#begin();
        if (this.#prefixRead === PREFIX_BYTES && this.#size === 0) out.push(this.#finish());
        continue;
      }
      const n = Math.min(this.#size - this.#received, data.length - at);
      this.#take(data.subarray(at, at + n));
      at += n;
      if (this.#received === this.#size) out.push(this.#finish());
    }
    return out;
  }

  get #received(): number {
    return this.#message === undefined ? this.#partsBytes : this.#filled - PREFIX_BYTES;
  }

  #begin(): void {
    this.#size = this.#prefix.readUInt32BE(1);
    if (this.maxMessageBytes !== -1 && this.#size > this.maxMessageBytes) {
      throw new Error(`Received message larger than max (${this.#size} vs ${this.maxMessageBytes})`);
    }
  }

  #take(chunk: Buffer): void {
    if (this.#message !== undefined) {
      chunk.copy(this.#message, this.#filled);
      this.#filled += chunk.length;
      return;
    }
    this.#parts.push(chunk);
    this.#partsBytes += chunk.length;
    if (this.#partsBytes >= this.#size * ALLOCATE_AT && this.#partsBytes < this.#size) {
      this.#message = Buffer.allocUnsafe(PREFIX_BYTES + this.#size);
      this.#prefix.copy(this.#message, 0);
      this.#filled = PREFIX_BYTES;
      for (const p of this.#parts) {
        p.copy(this.#message, this.#filled);
        this.#filled += p.length;
      }
      this.#parts = [];
    }
  }

  #finish(): Buffer {
    const message = this.#message ?? Buffer.concat([this.#prefix, ...this.#parts], PREFIX_BYTES + this.#size);
    this.#message = undefined;
    this.#parts = [];
    this.#partsBytes = 0;
    this.#filled = 0;
    this.#prefixRead = 0;
    this.#size = 0;
    this.#prefix = Buffer.alloc(PREFIX_BYTES);
    return message;
  }
}

interface ServerCall {
  decoder: unknown;
  readonly maxReceiveMessageSize: number;
  readonly handler?: { readonly deserialize?: unknown };
}

let installed = false;

/** Gives Infera's calls a MessageReader on their first data frame (once per process). */
export function installMessageReader(): void {
  if (installed) return;
  const proto = serverCallPrototype(['handleDataFrame'], 'src/frontends/grpc/message-reader.ts');
  const handleDataFrame = proto['handleDataFrame'] as (this: ServerCall, data: Buffer) => void;
  proto['handleDataFrame'] = function (this: ServerCall, data: Buffer): void {
    if (!(this.decoder instanceof MessageReader)) {
      const d = this.handler?.deserialize;
      if (typeof d === 'function' && INFLATE_CHECK in d) this.decoder = new MessageReader(this.maxReceiveMessageSize);
    }
    handleDataFrame.call(this, data);
  };
  installed = true;
}
