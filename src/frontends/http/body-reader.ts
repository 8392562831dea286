/**
 * Every HTTP request body, read as it arrives (the one content-type parser of http-server.ts).
 *
 * Why not fastify's own parser: it collects a body's chunks and joins them with one Buffer.concat
 * when the last arrives, and only then does a route see it. For a 43 MB hostile /infer header
 * that meant receiving, holding and copying all of it (the copy alone paused the event loop
 * 180–550 ms: first writes to fresh memory cost ~4 ms per MiB here) before the JSON scan refused
 * it at its 16,385th object; a 64 KiB gzip bomb was inflated to 64 MiB and joined the same way
 * before the scan refused its first byte. Here:
 * - the size limit (--http-max-input-size) is checked against Content-Length before reading, then
 *   against the bytes received, then against the bytes inflated;
 * - on the routes that take an inference request (`infer`: /infer, whose JSON header is the first
 *   Inference-Header-Content-Length bytes or all of them; `json`: /generate, all JSON) the
 *   Content-Encoding is undone as a stream (zlib output in chunks of up to 1 MiB, each one
 *   main-thread callback) and the JSON header is scanned (json-scan.ts) chunk by chunk as it
 *   arrives or inflates: a hostile header is refused after its first few hundred KB, a bomb of
 *   zeros at its first byte, and inflating stops there;
 * - the bytes are assembled into one buffer of the declared size (Content-Length, or a gzip
 *   trailer's ISIZE) as they come (util/chunk-assembly.ts), so no callback copies the whole body.
 * Other routes get their body as sent (their small JSON is scanned when parsed).
 *
 * A refusal while the body is still arriving is answered at once. When the rest is bounded (a
 * Content-Length), it is read and dropped, copied nowhere, so the client sees the answer and its
 * connection stays usable (closing a socket the client is still writing to resets it, and the
 * client loses the answer); a body beyond the size limit, or of unknown length, is not read on:
 * the answer says `Connection: close`.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import { errors } from '../../errors/catalogue.js';
import { ChunkAssembly } from '../../util/chunk-assembly.js';
import { unsupportedMediaType } from './http-status.js';
import { HEADER_LENGTH_HEADER } from './http-body.js';
import { JsonScan } from './json-scan.js';
import { gzipSizeHint, hasZlibHeader, inflateInChunks, type InflateFormat } from '../../util/zlib-inflate.js';

/** How a route's body is read: see the module comment. */
export type BodyKind = 'infer' | 'json' | 'raw';

export interface BodyReadOptions {
  readonly kind: BodyKind;
  /** Largest body, as sent and after decompression. */
  readonly maxBytes: number;
  /** What the JSON is, for scan errors ("the inference request header for model 'm'"). */
  readonly what: string;
}

/** The received body's buffer is allocated once this share of its Content-Length has arrived. */
const ALLOCATE_AT = 1 / 8;

type Encoding = 'identity' | 'gzip' | 'deflate';

const REFUSED: unique symbol = Symbol('refused body');

/** What the parser hands a route in place of a body refused while it was read (see refusedBody). */
export interface RefusedBody {
  readonly [REFUSED]: Error;
}

/** The refusal to answer when `body` is a RefusedBody, else undefined (routes.ts throws it). */
export function refusedBody(body: unknown): Error | undefined {
  return typeof body === 'object' && body !== null && REFUSED in body ? (body as RefusedBody)[REFUSED] : undefined;
}

/** Refusals after which the rest of the body is not read: fastify answers them with `Connection: close`. */
const CLOSES = new WeakSet<object>();

/**
 * Reads `payload` (the request's body stream) as `o.kind` says; resolves with the decoded body,
 * or with a RefusedBody when it was refused part-way and the rest is bounded (a Content-Length
 * was declared, or all of it has arrived): the route answers at once, the rest of the body flows
 * to nowhere and the connection stays usable. Rejects (the connection closes) for a body beyond
 * the size limit, or a refusal part-way through a chunked body of unknown length.
 */
export async function readBody(headers: IncomingHttpHeaders, payload: Readable, o: BodyReadOptions): Promise<Buffer | RefusedBody> {
  const declared = contentLength(headers);
  try {
    if (declared !== undefined && declared > o.maxBytes) throw tooLarge(o.maxBytes, '');
    return await decodeWhileReading(headers, payload, declared, o);
  } catch (e) {
    if (e instanceof Error && !CLOSES.has(e) && (declared !== undefined || payload.readableEnded)) {
      payload.resume();
      return Object.freeze({ [REFUSED]: e });
    }
    throw e;
  }
}

async function decodeWhileReading(headers: IncomingHttpHeaders, payload: Readable, declared: number | undefined, o: BodyReadOptions): Promise<Buffer> {
  const encoding = o.kind === 'raw' ? 'identity' : encodingOf(headers['content-encoding']);
  const scanBytes = o.kind === 'raw' ? 0 : o.kind === 'json' ? Infinity : headerBytes(headers[HEADER_LENGTH_HEADER]);
  const sink = (size: number | undefined, allocateAt: number, hint: boolean): BodySink =>
    new BodySink(new ChunkAssembly(size, allocateAt, hint), scanBytes > 0 ? new JsonScan(o.what) : undefined, scanBytes);
  if (encoding === 'identity') {
    const out = sink(declared, ALLOCATE_AT, false);
    await receive(payload, o.maxBytes, (chunk) => out.push(chunk));
    return out.finish();
  }
  const compressed = new ChunkAssembly(declared, ALLOCATE_AT);
  await receive(payload, o.maxBytes, (chunk) => compressed.push(chunk));
  const body = compressed.finish();
  if (encoding === 'gzip') return inflate(body, 'gzip', o.maxBytes, sink(gzipSizeHint(body, o.maxBytes), 0, true));
  // RFC 9110 "deflate" is zlib-wrapped; some clients send raw deflate. Told apart by the zlib
  // header (zlib's own error for raw data is not always "incorrect header check": 1 in 31 raw
  // streams pass the header checksum and fail as "unknown compression method").
  if (!hasZlibHeader(body)) return inflate(body, 'raw', o.maxBytes, sink(undefined, 0, false));
  try {
    return await inflate(body, 'zlib', o.maxBytes, sink(undefined, 0, false));
  } catch (e) {
    if (ZLIB_CODE.get(e as object) !== 'Z_DATA_ERROR') throw e;
    return inflate(body, 'raw', o.maxBytes, sink(undefined, 0, false)).catch(() => Promise.reject(e));
  }
}

/** The decoded bytes: the JSON header's share is scanned as it passes, everything is assembled. */
class BodySink {
  #scanLeft: number;

  constructor(readonly bytes: ChunkAssembly, readonly scan: JsonScan | undefined, scanBytes: number) {
    this.#scanLeft = scanBytes;
  }

  /** Throws the scan's refusal. */
  push(chunk: Buffer): void {
    if (this.scan !== undefined && this.#scanLeft > 0) {
      const part = this.#scanLeft >= chunk.length ? chunk : chunk.subarray(0, this.#scanLeft);
      this.scan.push(part);
      this.#scanLeft -= part.length;
    }
    this.bytes.push(chunk);
  }

  finish(): Buffer {
    return this.bytes.finish();
  }
}

/** Feeds the body's chunks to `take` until it ends; rejects on a stream error, the size limit or `take`'s throw. */
function receive(payload: Readable, maxBytes: number, take: (chunk: Buffer) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    let received = 0;
    const stop = (): void => {
      payload.removeListener('data', onData);
      payload.removeListener('end', onEnd);
      payload.removeListener('error', onError);
    };
    const onData = (chunk: Buffer | string): void => {
      const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      received += b.length;
      try {
        if (received > maxBytes) throw tooLarge(maxBytes, '');
        take(b);
      } catch (e) {
        stop();
        payload.pause(); // readBody resumes it to drop the rest, or leaves it for the connection to close
        reject(e);
      }
    };
    const onEnd = (): void => {
      stop();
      resolve();
    };
    const onError = (e: Error): void => {
      stop();
      reject(e);
    };
    payload.on('data', onData);
    payload.on('end', onEnd);
    payload.on('error', onError);
    payload.resume();
  });
}

/** zlib's code (Z_DATA_ERROR, Z_BUF_ERROR…) of each refusal that a zlib failure caused. */
const ZLIB_CODE = new WeakMap<object, string | undefined>();

/** Inflates `body` into `out`, stopping at the first refusal (the scan's, or the size limit). */
function inflate(body: Buffer, format: InflateFormat, maxBytes: number, out: BodySink): Promise<Buffer> {
  return inflateInChunks(body, format, {
    take: (chunk) => {
      if (out.bytes.length + chunk.length > maxBytes) throw tooLarge(maxBytes, 'decompressed ');
      out.push(chunk);
      return undefined;
    },
    end: () => out.finish(),
    failed: (e) => {
      const refusal = errors.invalidArg(`failed to decompress the request body (Content-Encoding: ${format === 'gzip' ? 'gzip' : 'deflate'}): ${e.message}`);
      ZLIB_CODE.set(refusal, e.code);
      return refusal;
    },
  });
}

/** Beyond the size limit: the rest of the body is not read (the connection closes). */
function tooLarge(maxBytes: number, what: string): Error {
  const e = errors.invalidArg(`${what}request body is larger than the maximum input size of ${maxBytes} bytes (--http-max-input-size)`);
  CLOSES.add(e);
  return e;
}

function contentLength(headers: IncomingHttpHeaders): number | undefined {
  const v = headers['content-length'];
  if (v === undefined) return undefined;
  const n = Number(v);
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

/** Unknown encodings → 415 before the body is read. */
function encodingOf(header: string | undefined): Encoding {
  const enc = (header ?? '').trim().toLowerCase();
  if (enc === '' || enc === 'identity') return 'identity';
  if (enc === 'gzip' || enc === 'x-gzip') return 'gzip';
  if (enc === 'deflate') return 'deflate';
  throw unsupportedMediaType(`unsupported Content-Encoding '${header}': supported are gzip, deflate and identity`);
}

/** How many leading bytes are the JSON header: all when the header is absent; none when it is 0 or malformed (splitInferBody refuses that). */
function headerBytes(v: string | string[] | undefined): number {
  if (v === undefined) return Infinity;
  const text = (Array.isArray(v) ? v.join(',') : v).trim();
  return /^[0-9]{1,15}$/.test(text) ? Number(text) : 0;
}
