/**
 * What the framing of compressed data says before it is inflated (RFC 1950 zlib, RFC 1952 gzip),
 * shared by the gRPC and HTTP request inflaters.
 */

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
