/**
 * Byte-level handling of /infer bodies: Content-Encoding (request) and Accept-Encoding (response)
 * with gzip and deflate, and the binary tensor data framing (PROTOCOL.md §6.4):
 *
 *   body = <JSON header: Inference-Header-Content-Length bytes> <binary tensors, concatenated>
 *
 * Decompression is bounded: zlib stops at `maxBytes` of output (maxOutputLength), so a small
 * "gzip bomb" costs at most the configured input size, never the process.
 */
import { constants } from 'node:buffer';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { errors } from '../../errors/catalogue.js';
import { unsupportedMediaType } from './http-status.js';

const INFLATE_CHUNK_BYTES = 1 << 20;

export const HEADER_LENGTH_HEADER = 'inference-header-content-length';

const gunzip = promisify(zlib.gunzip);
const inflate = promisify(zlib.inflate);
const inflateRaw = promisify(zlib.inflateRaw);
const gzip = promisify(zlib.gzip);
const deflate = promisify(zlib.deflate);

export type Encoding = 'gzip' | 'deflate';

/**
 * Undoes the request's Content-Encoding. `identity` or none → the body as is. Unknown encodings
 * → 415; corrupt data or output beyond `maxBytes` → 400.
 */
export async function decodeBody(body: Buffer, contentEncoding: string | undefined, maxBytes: number): Promise<Buffer> {
  const enc = (contentEncoding ?? '').trim().toLowerCase();
  if (enc === '' || enc === 'identity') return body;
  // zlib refuses a maxOutputLength beyond the largest Buffer; no body can be larger anyway.
  // Output in 1 MiB chunks, not zlib's 16 KiB: each chunk is one callback on the main thread, and
  // a 64 MiB bomb in 16 KiB chunks was 4,096 of them (the event loop stalled ~0.4 s for others).
  const opts = { maxOutputLength: Math.min(maxBytes, constants.MAX_LENGTH), chunkSize: INFLATE_CHUNK_BYTES };
  try {
    if (enc === 'gzip' || enc === 'x-gzip') return await gunzip(body, opts);
    if (enc === 'deflate') {
      // RFC 9110 "deflate" is zlib-wrapped; some clients send raw deflate. Told apart by the zlib
      // header (zlib's own error for raw data is not always "incorrect header check": 1 in 31
      // raw streams pass the checksum and fail as "unknown compression method").
      if (!hasZlibHeader(body)) return await inflateRaw(body, opts);
      return await inflate(body, opts).catch((e: NodeJS.ErrnoException) => {
        if (e.code === 'Z_DATA_ERROR') return inflateRaw(body, opts).catch(() => Promise.reject(e));
        throw e;
      });
    }
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError) {
      throw errors.invalidArg(`decompressed request body is larger than the maximum input size of ${maxBytes} bytes (--http-max-input-size)`);
    }
    throw errors.invalidArg(`failed to decompress the request body (Content-Encoding: ${enc}): ${err.message}`);
  }
  throw unsupportedMediaType(`unsupported Content-Encoding '${contentEncoding}': supported are gzip, deflate and identity`);
}

/** RFC 1950: CM = 8 (deflate), CINFO ≤ 7, and the two header bytes a multiple of 31. */
function hasZlibHeader(b: Buffer): boolean {
  return b.length >= 2 && (b[0]! & 0x0f) === 8 && b[0]! >> 4 <= 7 && (b[0]! * 256 + b[1]!) % 31 === 0;
}

/**
 * The response encoding the client accepts: gzip or deflate with the highest q > 0, the first
 * listed on a tie; undefined for identity. `*` counts as gzip.
 */
export function pickEncoding(acceptEncoding: string | undefined): Encoding | undefined {
  if (acceptEncoding === undefined) return undefined;
  let best: Encoding | undefined;
  let bestQ = 0;
  for (const part of acceptEncoding.split(',')) {
    const [token = '', ...params] = part.trim().toLowerCase().split(';');
    const name = token.trim() === '*' ? 'gzip' : token.trim();
    if (name !== 'gzip' && name !== 'deflate') continue;
    const qParam = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const q = qParam === undefined ? 1 : Number(qParam.slice(2));
    if (Number.isFinite(q) && q > bestQ) {
      best = name;
      bestQ = q;
    }
  }
  return best;
}

export function encodeBody(body: Buffer, encoding: Encoding): Promise<Buffer> {
  return encoding === 'gzip' ? gzip(body) : deflate(body);
}

export interface SplitBody {
  /** The JSON header bytes; undefined for a raw binary request (Inference-Header-Content-Length: 0). */
  header: Buffer | undefined;
  /** Everything after the header: the binary tensors, or the whole raw tensor. */
  binary: Buffer;
}

/** Splits a decoded body per the Inference-Header-Content-Length value (absent = all JSON). */
export function splitInferBody(body: Buffer, headerLength: string | undefined, where: string): SplitBody {
  if (headerLength === undefined) return { header: body, binary: body.subarray(body.length) };
  const text = headerLength.trim();
  if (!/^[0-9]{1,15}$/.test(text)) {
    throw errors.invalidArg(`Inference-Header-Content-Length must be a non-negative integer, got '${headerLength}' (request to ${where})`);
  }
  const n = Number(text);
  if (n === 0) return { header: undefined, binary: body };
  if (n > body.length) {
    throw errors.invalidArg(
      `inference header size should be in range (0, ${body.length}]: Inference-Header-Content-Length is ${n} but the body has ${body.length} bytes (request to ${where})`,
    );
  }
  return { header: body.subarray(0, n), binary: body.subarray(n) };
}
