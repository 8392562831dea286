/**
 * Byte-level handling of /infer bodies: Accept-Encoding (response) with gzip and deflate, and the
 * binary tensor data framing (PROTOCOL.md §6.4):
 *
 *   body = <JSON header: Inference-Header-Content-Length bytes> <binary tensors, concatenated>
 *
 * The request's Content-Encoding is undone while the body is read (body-reader.ts).
 */
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { errors } from '../../errors/catalogue.js';

export const HEADER_LENGTH_HEADER = 'inference-header-content-length';

const gzip = promisify(zlib.gzip);
const deflate = promisify(zlib.deflate);

export type Encoding = 'gzip' | 'deflate';

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

/** `parts` in order as a stream, compressed when `encoding` says so (no copy of the parts is made). */
export function encodeStream(parts: readonly Uint8Array[], encoding: Encoding | undefined): Readable {
  const plain = Readable.from(parts, { objectMode: false });
  if (encoding === undefined) return plain;
  return plain.pipe(encoding === 'gzip' ? zlib.createGzip() : zlib.createDeflate());
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
