/**
 * Reader for `variables.index`, the index of a TensorFlow checkpoint ("tensor bundle"). Written
 * here because no maintained npm package reads TensorFlow checkpoints, and the format is small:
 *
 * The file is a LevelDB-style sorted table. Its last 48 bytes are a footer: the metaindex and
 * index BlockHandles (two varint64s each), zero padding, then the 8-byte magic 0xdb4775248b80fb57.
 * Each block is followed by a 5-byte trailer (compression type byte, masked CRC-32C of the block
 * and that byte). A block holds prefix-compressed entries (shared, unshared and value lengths as
 * varint32s, the unshared key bytes, the value) and ends with a restart-point array and its
 * uint32 count. The index block maps separator keys to the BlockHandles of the data blocks.
 *
 * In a tensor bundle the "" key holds a BundleHeaderProto and every other key (a checkpoint key
 * such as "v/.ATTRIBUTES/VARIABLE_VALUE") a BundleEntryProto saying where the tensor's bytes are.
 */
import { crc32c, maskCrc } from './crc32c.js';
import {
  decodeBundleEntry, decodeBundleHeader, TfFormatError, type BundleEntry, type BundleHeader,
} from './tf-proto.js';

const FOOTER_BYTES = 48;
const TRAILER_BYTES = 5;
const MAGIC_LO = 0x8b80fb57;
const MAGIC_HI = 0xdb477524;

interface Cursor {
  buf: Uint8Array;
  pos: number;
  end: number;
}

function varint(c: Cursor, what: string): number {
  let result = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    if (c.pos >= c.end) throw new TfFormatError(`truncated varint (${what}) at byte ${c.pos}`);
    const b = c.buf[c.pos++]!;
    result += (b & 0x7f) * scale;
    if (b < 0x80) {
      if (!Number.isSafeInteger(result)) throw new TfFormatError(`${what} at byte ${c.pos} is too large`);
      return result;
    }
    scale *= 128;
  }
  throw new TfFormatError(`varint (${what}) longer than 10 bytes at byte ${c.pos}`);
}

interface BlockHandle {
  offset: number;
  size: number;
}

function blockHandle(c: Cursor, what: string): BlockHandle {
  return { offset: varint(c, `${what} offset`), size: varint(c, `${what} size`) };
}

function readFooter(file: Uint8Array): { metaindex: BlockHandle; index: BlockHandle } {
  if (file.byteLength < FOOTER_BYTES) {
    throw new TfFormatError(`file is ${file.byteLength} bytes, shorter than a table footer (${FOOTER_BYTES})`);
  }
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const at = file.byteLength - 8;
  if (view.getUint32(at, true) !== MAGIC_LO || view.getUint32(at + 4, true) !== MAGIC_HI) {
    throw new TfFormatError('bad table magic number (not a TensorFlow checkpoint index)');
  }
  const c: Cursor = { buf: file, pos: file.byteLength - FOOTER_BYTES, end: at };
  const metaindex = blockHandle(c, 'metaindex handle');
  return { metaindex, index: blockHandle(c, 'index handle') };
}

/** The contents of the block at `h`, after checking its bounds, compression and checksum. */
function readBlock(file: Uint8Array, h: BlockHandle, what: string): Uint8Array {
  if (h.offset + h.size + TRAILER_BYTES > file.byteLength) {
    throw new TfFormatError(`${what} [${h.offset}, +${h.size}] runs past the end of the file (${file.byteLength} bytes)`);
  }
  const body = file.subarray(h.offset, h.offset + h.size + 1);
  const type = file[h.offset + h.size]!;
  if (type !== 0) throw new TfFormatError(`${what} uses compression type ${type}; only uncompressed tables are supported`);
  const stored = new DataView(file.buffer, file.byteOffset + h.offset + h.size + 1, 4).getUint32(0, true);
  if (maskCrc(crc32c(body)) !== stored) throw new TfFormatError(`${what} at byte ${h.offset} fails its CRC-32C check`);
  return file.subarray(h.offset, h.offset + h.size);
}

const keyDecoder = new TextDecoder('utf-8', { fatal: false });

/** Every (key, value) of one block, in order. Keys are decoded as UTF-8 (checkpoint keys are). */
function blockEntries(block: Uint8Array, what: string): [string, Uint8Array][] {
  if (block.byteLength < 4) throw new TfFormatError(`${what} is ${block.byteLength} bytes, too short for a block`);
  const view = new DataView(block.buffer, block.byteOffset, block.byteLength);
  const restarts = view.getUint32(block.byteLength - 4, true);
  const limit = block.byteLength - 4 - restarts * 4;
  if (restarts < 1 || limit < 0) throw new TfFormatError(`${what} has a bad restart count (${restarts})`);
  const c: Cursor = { buf: block, pos: 0, end: limit };
  const out: [string, Uint8Array][] = [];
  let key = new Uint8Array(0);
  while (c.pos < limit) {
    const shared = varint(c, 'shared key length');
    const unshared = varint(c, 'unshared key length');
    const valueLen = varint(c, 'value length');
    if (shared > key.byteLength || c.pos + unshared + valueLen > limit) {
      throw new TfFormatError(`${what}: entry ${out.length} at byte ${c.pos} overruns the block`);
    }
    const next = new Uint8Array(shared + unshared);
    next.set(key.subarray(0, shared));
    next.set(block.subarray(c.pos, c.pos + unshared), shared);
    key = next;
    c.pos += unshared;
    out.push([keyDecoder.decode(key), block.subarray(c.pos, c.pos + valueLen)]);
    c.pos += valueLen;
  }
  return out;
}

/** All (key, value) pairs of a sorted table file, in key order. Throws TfFormatError. */
export function readTable(file: Uint8Array): [string, Uint8Array][] {
  const { metaindex, index } = readFooter(file);
  // Unused (bundles keep no filter), but read so that its corruption is reported too.
  readBlock(file, metaindex, 'metaindex block');
  const out: [string, Uint8Array][] = [];
  for (const [, handleBytes] of blockEntries(readBlock(file, index, 'index block'), 'index block')) {
    const c: Cursor = { buf: handleBytes, pos: 0, end: handleBytes.byteLength };
    const h = blockHandle(c, 'data block handle');
    out.push(...blockEntries(readBlock(file, h, `data block at byte ${h.offset}`), `data block at byte ${h.offset}`));
  }
  return out;
}

export interface CheckpointIndex {
  header: BundleHeader;
  /** Checkpoint key → where its tensor is. */
  entries: Map<string, BundleEntry>;
}

/** Parses a whole `variables.index`. Throws TfFormatError on any malformed part. */
export function readCheckpointIndex(file: Uint8Array): CheckpointIndex {
  let header: BundleHeader | undefined;
  const entries = new Map<string, BundleEntry>();
  for (const [key, value] of readTable(file)) {
    if (key === '') header = decodeBundleHeader(value);
    else entries.set(key, decodeBundleEntry(value, key));
  }
  if (header === undefined) throw new TfFormatError('the table has no header entry (key "")');
  if (header.endianness !== 'LITTLE') throw new TfFormatError('big-endian checkpoints are not supported');
  return { header, entries };
}
