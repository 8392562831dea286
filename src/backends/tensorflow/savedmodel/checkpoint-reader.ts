/**
 * Reads variable values from a TensorFlow checkpoint (`<dir>/variables.index` plus its data
 * shards `variables.data-SSSSS-of-NNNNN`): each requested key's bytes are located through the
 * index, bounds- and CRC-checked, and converted to TensorFlow.js values (tf-values.ts).
 *
 * String tensors in a bundle are stored as one varint64 length per element, a 4-byte masked
 * CRC-32C of those lengths, then the element bytes back to back.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { elementCount } from '../../../core/datatype.js';
import { readCheckpointIndex, type CheckpointIndex } from './checkpoint-index.js';
import { crc32c, maskCrc } from './crc32c.js';
import { shapeDims, TfFormatError, type BundleEntry } from './tf-proto.js';
import { tfjsDtypeOfTf, valuesFromRaw, type TfjsConstant } from './tf-values.js';

/** The index file of the checkpoint in a SavedModel's `variables/` folder. */
export const INDEX_FILE = 'variables.index';

function shardFile(dir: string, shard: number, numShards: number): string {
  const pad = (n: number): string => String(n).padStart(5, '0');
  return join(dir, `variables.data-${pad(shard)}-of-${pad(numShards)}`);
}

function readStrings(bytes: Uint8Array, count: number, what: string): Uint8Array[] {
  const lengths: number[] = [];
  let pos = 0;
  for (let i = 0; i < count; i++) {
    let len = 0;
    let scale = 1;
    for (;;) {
      if (pos >= bytes.byteLength) throw new TfFormatError(`${what}: truncated string length ${i}`);
      const b = bytes[pos++]!;
      len += (b & 0x7f) * scale;
      if (b < 0x80) break;
      scale *= 128;
      if (scale > 2 ** 49) throw new TfFormatError(`${what}: string length ${i} is too large`);
    }
    lengths.push(len);
  }
  pos += 4; // masked CRC of the lengths; the whole entry's CRC was checked already
  const out: Uint8Array[] = [];
  for (const len of lengths) {
    if (pos + len > bytes.byteLength) throw new TfFormatError(`${what}: string element runs past the entry`);
    out.push(bytes.slice(pos, pos + len));
    pos += len;
  }
  return out;
}

/** Reads checkpoint tensors by key. Shard files are read lazily, each at most once. */
export class CheckpointReader {
  readonly #dir: string;
  readonly #index: CheckpointIndex;
  readonly #shards = new Map<number, Uint8Array>();

  private constructor(dir: string, index: CheckpointIndex) {
    this.#dir = dir;
    this.#index = index;
  }

  /** Opens `<dir>/variables.index`. Throws TfFormatError (malformed) or the fs error (missing). */
  static async open(dir: string): Promise<CheckpointReader> {
    const bytes = await readFile(join(dir, INDEX_FILE));
    return new CheckpointReader(dir, readCheckpointIndex(bytes));
  }

  get keys(): string[] {
    return [...this.#index.entries.keys()];
  }

  async #shard(id: number): Promise<Uint8Array> {
    const numShards = this.#index.header.numShards ?? 1;
    if (!Number.isInteger(id) || id < 0 || id >= numShards) {
      throw new TfFormatError(`an entry names shard ${id} but the checkpoint has ${numShards}`);
    }
    let data = this.#shards.get(id);
    if (data === undefined) {
      data = await readFile(shardFile(this.#dir, id, numShards));
      this.#shards.set(id, data);
    }
    return data;
  }

  async #bytes(e: BundleEntry, key: string): Promise<Uint8Array> {
    const data = await this.#shard(e.shardId ?? 0);
    const offset = Number(e.offset ?? '0');
    const size = Number(e.size ?? '0');
    if (!(offset >= 0 && size >= 0 && offset + size <= data.byteLength)) {
      throw new TfFormatError(`variable '${key}' lies at [${offset}, +${size}], past the end of its data shard (${data.byteLength} bytes)`);
    }
    const bytes = data.subarray(offset, offset + size);
    if (e.crc32c !== undefined && maskCrc(crc32c(bytes)) !== e.crc32c >>> 0) {
      throw new TfFormatError(`variable '${key}' fails its CRC-32C check (the data shard is corrupt)`);
    }
    return bytes;
  }

  /** The tensor stored under `key` as a tfjs constant. Throws TfFormatError when absent or bad. */
  async read(key: string): Promise<TfjsConstant> {
    const e = this.#index.entries.get(key);
    if (e === undefined) throw new TfFormatError(`the checkpoint has no variable '${key}'`);
    if (e.slices.length > 0) throw new TfFormatError(`variable '${key}' is partitioned (sliced), which is not supported`);
    const what = `variable '${key}'`;
    const shape = shapeDims(e.shape);
    if (shape === undefined || shape.some((d) => d < 0)) throw new TfFormatError(`${what} has no fully known shape`);
    const tfType = e.dtype ?? 'DT_INVALID';
    const dtype = tfjsDtypeOfTf(tfType);
    if (dtype === undefined) throw new TfFormatError(`${what} has dtype ${tfType}, which TensorFlow.js cannot hold`);
    const bytes = await this.#bytes(e, key);
    const count = elementCount(shape);
    const values = dtype === 'string' ? readStrings(bytes, count, what) : valuesFromRaw(tfType, bytes, count, what);
    return { dtype, shape, values };
  }
}
