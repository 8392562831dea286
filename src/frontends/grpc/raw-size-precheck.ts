/**
 * A compressed ModelInferRequest's raw_input_contents checked against its own inputs while it
 * inflates (bounded-inflate.ts), so a small gzip message that declares `simple`'s [1,16] INT32
 * input and then a 1 GiB raw entry of zeros is refused when that entry's length is read, not
 * after inflating the gigabyte (7.8 s off the event loop, 1 GiB of memory, before this check).
 *
 * What it knows: the raw entries are used in order by the inputs that name no shared-memory
 * region (grpc-convert.ts), and a fixed-size datatype's entry must hold elementCount(shape) ×
 * element size bytes, whatever the model (the core's validator refuses any other length with the
 * same message). So when the first raw entry's tag is reached, the message's head (every field
 * before it: model name, inputs, outputs, parameters; tritonclient writes fields in number order)
 * is decoded, and each raw entry's declared length is compared with its input's size.
 *
 * Soundness (it may only refuse what the full path refuses): inputs that come after the first raw
 * entry only append to the list, so an entry is checked only when the head already named its
 * input; BYTES inputs, malformed shapes and datatypes are left to the full path; a head beyond
 * HEAD_MAX bytes is not decoded (the check is skipped). A request with two faults may name the
 * size rather than, say, an unknown model: both are the client's errors, and this one is true.
 */
import type protobuf from 'protobufjs';
import { elementByteSize, isDataType } from '../../core/datatype.js';
import { SHM_REGION } from '../../core/shared-memory/request-shm.js';
import { clip, errors, modelRef } from '../../errors/catalogue.js';
import { scanMessage, type WireLimits } from './wire-scan.js';

/** Heads longer than this are not decoded early (a real one is a few hundred bytes). */
const HEAD_MAX = 64 * 1024;
const RAW_INPUT_CONTENTS = 7;

interface Expected {
  readonly name: string;
  /** Bytes its raw entry must hold; undefined when only the full path can tell (BYTES, odd shapes). */
  readonly bytes: number | undefined;
}

interface HeadInput {
  name?: string;
  datatype?: string;
  shape?: number[];
  parameters?: Record<string, unknown>;
}

export class RawSizePrecheck {
  #kept: Buffer[] = [];
  #keptBytes = 0;
  /** Per raw-taking input of the head, in order; set at the first raw entry. */
  #expected: Expected[] | undefined;
  #where = '';
  #entries = 0;
  #off = false;

  constructor(readonly type: protobuf.Type, readonly limits: WireLimits) {}

  /** Takes each inflated chunk before the prefix scan reads it: keeps (copies) the head's bytes. */
  keep(chunk: Buffer): void {
    if (this.#expected !== undefined || this.#off || this.#keptBytes >= HEAD_MAX) return;
    const part = Buffer.from(chunk.subarray(0, HEAD_MAX - this.#keptBytes));
    this.#kept.push(part);
    this.#keptBytes += part.length;
  }

  /** The prefix scan's observer (wire-prefix-scan.ts): throws the refusal for a raw entry of the wrong size. */
  readonly observe = (id: number, tagAt: number, length: number): void => {
    if (id !== RAW_INPUT_CONTENTS || this.#off) return;
    if (this.#expected === undefined) {
      if (tagAt > this.#keptBytes) {
        this.#off = true;
        return;
      }
      this.#expected = this.#decodeHead(Buffer.concat(this.#kept).subarray(0, tagAt));
      this.#kept = [];
    }
    const want = this.#expected[this.#entries++];
    if (want?.bytes !== undefined && want.bytes !== length) {
      throw errors.invalidArg(`input byte size mismatch for input '${clip(want.name)}' for ${this.#where}. Expected ${want.bytes}, got ${length}`);
    }
  };

  /** The raw-taking inputs the head names; throws the wire scan's refusal for a malformed head. */
  #decodeHead(head: Buffer): Expected[] {
    scanMessage(head, this.type, this.limits);
    const m = this.type.toObject(this.type.decode(head), { longs: Number }) as { model_name?: string; model_version?: string; inputs?: HeadInput[] };
    this.#where = modelRef(m.model_name ?? '', m.model_version ?? '');
    const out: Expected[] = [];
    for (const i of m.inputs ?? []) {
      if (i.parameters !== undefined && SHM_REGION in i.parameters) continue;
      out.push({ name: i.name ?? '', bytes: fixedBytes(i.datatype ?? '', i.shape ?? []) });
    }
    return out;
  }
}

function fixedBytes(datatype: string, shape: readonly number[]): number | undefined {
  if (!isDataType(datatype) || datatype === 'BYTES') return undefined;
  let n = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) return undefined;
    n *= d;
  }
  const bytes = n * elementByteSize(datatype);
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}
