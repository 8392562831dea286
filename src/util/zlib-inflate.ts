/**
 * Compressed request data, shared by the gRPC and HTTP request inflaters: what its framing says
 * before it is inflated (RFC 1950 zlib, RFC 1952 gzip), and inflating it chunk by chunk with a
 * check on each chunk that may stop it.
 */
import zlib from 'node:zlib';

const MIN_CHUNK = 16 * 1024;
const MAX_CHUNK = 1024 * 1024;

export type InflateFormat = 'gzip' | 'zlib' | 'raw';

export interface InflateSteps<T> {
  /** Each output chunk in order: undefined to go on, a value to stop inflating and resolve with; a throw rejects. */
  take(chunk: Buffer): T | undefined;
  /** The data ended: what to resolve with. */
  end(): T;
  /** zlib failed (corrupt or truncated data): what to reject with. */
  failed(e: NodeJS.ErrnoException): unknown;
}

/**
 * Inflates `compressed` on libuv's thread pool, each output chunk (up to 1 MiB, sized from the
 * compressed length so a small message does not hold a 1 MiB buffer) one main-thread callback:
 * a 1 GiB bomb in zlib's default 16 KiB chunks was 65,536 callbacks. Settles once; stopping
 * destroys the stream, so nothing more is inflated.
 */
export function inflateInChunks<T>(compressed: Buffer, format: InflateFormat, steps: InflateSteps<T>): Promise<T> {
  const chunkSize = Math.min(MAX_CHUNK, Math.max(MIN_CHUNK, compressed.length * 8));
  const z = format === 'gzip' ? zlib.createGunzip({ chunkSize }) : format === 'zlib' ? zlib.createInflate({ chunkSize }) : zlib.createInflateRaw({ chunkSize });
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const settle = (f: () => void): void => {
      if (settled) return;
      settled = true;
      z.destroy();
      f();
    };
    z.on('error', (e: NodeJS.ErrnoException) => settle(() => reject(steps.failed(e))));
    z.on('data', (chunk: Buffer) => {
      if (settled) return;
      let stop: T | undefined;
      try {
        stop = steps.take(chunk);
      } catch (e) {
        settle(() => reject(e));
        return;
      }
      if (stop !== undefined) settle(() => resolve(stop));
    });
    z.on('end', () => settle(() => {
      try {
        resolve(steps.end());
      } catch (e) {
        reject(e);
      }
    }));
    z.end(compressed);
  });
}

/** Deflate's best ratio is about 1032:1; a gzip ISIZE beyond that is a lie, not a size. */
const MAX_RATIO = 1032;

/**
 * The gzip trailer's ISIZE (the inflated size mod 2^32) when it is a plausible size for this
 * data within `maxBytes`, else undefined. Several gzip members make it wrong: use it as a hint.
 */
export function gzipSizeHint(compressed: Uint8Array, maxBytes: number): number | undefined {
  if (compressed.length < 18) return undefined;
  const at = compressed.length - 4;
  const isize = (compressed[at]! | (compressed[at + 1]! << 8) | (compressed[at + 2]! << 16)) + compressed[at + 3]! * 2 ** 24;
  return isize > 0 && isize <= maxBytes && isize <= compressed.length * MAX_RATIO ? isize : undefined;
}

/** RFC 1950: CM = 8 (deflate), CINFO ≤ 7, and the two header bytes a multiple of 31. */
export function hasZlibHeader(b: Uint8Array): boolean {
  return b.length >= 2 && (b[0]! & 0x0f) === 8 && b[0]! >> 4 <= 7 && (b[0]! * 256 + b[1]!) % 31 === 0;
}
