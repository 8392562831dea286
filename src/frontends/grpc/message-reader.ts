/**
 * Splits a gRPC call's request byte stream into framed messages (flag, length, message), as
 * grpc-js's StreamDecoder does, without holding every HTTP/2 DATA frame of a big message.
 *
 * grpc-js (1.14) keeps each frame of a message (16 KiB views of node's read buffers) in a list,
 * copies them all into one buffer when the last arrives, and keeps the list until the next message
 * starts: a 256 MiB request cost 512 MiB, and for a unary call the frames stay referenced until
 * the call ends. Here, once a message's received bytes reach an eighth of its declared length
 * (or all of it), the message buffer is allocated at its final size and every later frame is
 * copied in as it arrives and dropped, the frames received before it a few at a time with later
 * ones (util/chunk-assembly.ts: copying them all at once paused the event loop 150 ms for a
 * 256 MiB message, first touch of fresh memory being that slow); the frames list is released with the message. The eighth
 * bounds what a client gains by declaring more than it sends: it must send 1/8 of a buffer before
 * the server allocates it (and nothing is allocated beyond --grpc-max-input-size, checked
 * from the declared length as grpc-js does, with grpc-js's message).
 *
 * A big uncompressed message (1 MiB or more) also goes through its deserializer's inflate checks
 * (bounded-deserialize.ts: the top-level wire form, a ModelInferRequest's raw entries against its
 * inputs) as its frames arrive: once one refuses it, its remaining bytes are dropped instead of
 * assembled, and the message is handed on as a 5-byte stand-in (refusedFrame) that the
 * decompress step turns back into the refusal. A 1 GiB tensor for `simple` costs the time to
 * receive it, but no memory and no copy.
 *
 * installMessageReader() gives each call of an Infera service (a handler whose deserializer
 * carries an INFLATE_CHECK, bounded-deserialize.ts) a MessageReader in place of its StreamDecoder,
 * on the call's first data frame (grpc-js-internals.ts finds the prototype); other calls keep
 * grpc-js's decoder. The output is the same buffers, byte for byte (unit-tested).
 */
import { ChunkAssembly } from '../../util/chunk-assembly.js';
import { INFLATE_CHECK, refusedFrame, type InflateCheck, type InflateScan, type Refused } from './bounded-deserialize.js';
import { serverCallPrototype } from './grpc-js-internals.js';

const PREFIX_BYTES = 5;
/** A message buffer is allocated once this fraction of its declared length has arrived. */
const ALLOCATE_AT = 1 / 8;

/** Uncompressed messages at least this big are scanned as they arrive (smaller ones cost no extra pass). */
const SCAN_MIN_BYTES = 1 << 20;

export class MessageReader {
  /** Prefix bytes of the message being read (flag and big-endian length). */
  #prefix = Buffer.alloc(PREFIX_BYTES);
  #prefixRead = 0;
  #size = 0;
  /** Payload bytes of the message received so far. */
  #received = 0;
  /** The message being read, prefix included; undefined between messages and once it is refused. */
  #message: ChunkAssembly | undefined;
  /** The scan of a big uncompressed message, while it has refused nothing. */
  #scan: InflateScan | undefined;
  #refused: Refused | undefined;

  /** `check`: the call's deserializer's checks, run on big uncompressed messages as they arrive. */
  constructor(readonly maxMessageBytes: number, readonly check?: InflateCheck) {}

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

  #begin(): void {
    this.#size = this.#prefix.readUInt32BE(1);
    if (this.maxMessageBytes !== -1 && this.#size > this.maxMessageBytes) {
      throw new Error(`Received message larger than max (${this.#size} vs ${this.maxMessageBytes})`);
    }
    this.#message = new ChunkAssembly(PREFIX_BYTES + this.#size, ALLOCATE_AT);
    this.#message.push(this.#prefix);
    if (this.check !== undefined && this.#prefix[0] === 0 && this.#size >= SCAN_MIN_BYTES) {
      this.#scan = this.check.scan(this.maxMessageBytes === -1 ? 2 ** 31 - 1 : this.maxMessageBytes);
    }
  }

  #take(part: Buffer): void {
    this.#received += part.length;
    if (this.#scan !== undefined) {
      try {
        this.#scan.push(part);
      } catch (e) {
        // Refused from what it declares: the rest of its bytes are counted and dropped, never assembled.
        this.#refused = this.check!.refuse(e);
        this.#scan = undefined;
        this.#message = undefined;
      }
    }
    this.#message?.push(part);
  }

  #finish(): Buffer {
    const message = this.#refused !== undefined ? refusedFrame(this.#refused) : this.#message!.finish();
    this.#message = undefined;
    this.#scan = undefined;
    this.#refused = undefined;
    this.#received = 0;
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
      if (typeof d === 'function' && INFLATE_CHECK in d) {
        this.decoder = new MessageReader(this.maxReceiveMessageSize, (d as { [INFLATE_CHECK]: InflateCheck })[INFLATE_CHECK]);
      }
    }
    handleDataFrame.call(this, data);
  };
  installed = true;
}
