/**
 * The control tensors the sequence batcher writes into every batch (PROTOCOL.md §3.3
 * ModelSequenceBatching.control_input): START, END and READY as the config's false/true values
 * (int32, fp32 or bool), CORRID as the sequence's correlation id in its declared type. Resolved
 * once per model load; per batch, build() makes one small buffer per control (rows × element).
 *
 * READY is true on every row: Infera's batches hold only sequences that have a request (see
 * sequence-batcher.ts), never padding rows.
 */
import type { ModelConfig } from '../config/model-config.js';
import type { Tensor } from '../core/tensor.js';
import type { CorrelationId } from '../core/request-parameters.js';
import { configTypeToWire, type DataType } from '../core/datatype.js';
import { encodeBytesElements } from '../core/bytes-tensor.js';
import { controlDataType } from '../config/sequence-tensors.js';
import { errors } from '../errors/catalogue.js';

/** One row of a batch as the controls see it. */
export interface ControlRow {
  readonly id: CorrelationId;
  readonly start: boolean;
  readonly end: boolean;
}

type Flag = 'START' | 'END' | 'READY';

interface FlagControl {
  readonly name: string;
  readonly flag: Flag;
  readonly datatype: DataType;
  /** One element each, in the tensor's datatype. */
  readonly falseBytes: Uint8Array;
  readonly trueBytes: Uint8Array;
}

const CORRID_RANGE: Readonly<Partial<Record<DataType, [bigint, bigint]>>> = {
  UINT64: [0n, 2n ** 64n - 1n], INT64: [0n, 2n ** 63n - 1n], UINT32: [0n, 2n ** 32n - 1n], INT32: [0n, 2n ** 31n - 1n],
};

export class SequenceControls {
  readonly #flags: FlagControl[] = [];
  readonly #corrid: { name: string; datatype: DataType } | undefined;
  readonly #batching: boolean;

  constructor(config: Readonly<ModelConfig>) {
    this.#batching = (config.max_batch_size ?? 0) > 0;
    let corrid: { name: string; datatype: DataType } | undefined;
    for (const ci of config.sequence_batching?.control_input ?? []) {
      for (const c of ci.control ?? []) {
        const name = ci.name ?? '';
        const datatype = configTypeToWire(controlDataType(c));
        if (datatype === undefined) throw errors.invalidArg(`sequence control '${name}' of model '${config.name ?? ''}' has an invalid data_type`);
        const kind = c.kind ?? 'CONTROL_SEQUENCE_START';
        if (kind === 'CONTROL_SEQUENCE_CORRID') corrid = { name, datatype };
        else this.#flags.push({ name, flag: FLAG_OF[kind], datatype, ...falseTrue(c.int32_false_true, c.fp32_false_true, c.bool_false_true) });
      }
    }
    this.#corrid = corrid;
  }

  /** Why `id` cannot be fed to this model's CORRID control, or undefined when it can. */
  refuse(id: CorrelationId): string | undefined {
    const c = this.#corrid;
    if (c === undefined) return undefined;
    if (c.datatype === 'BYTES') return typeof id === 'string' ? undefined : `the model's CORRID control '${c.name}' is TYPE_STRING, so sequence_id must be a string`;
    if (typeof id === 'string') return `the model's CORRID control '${c.name}' is ${c.datatype}, so sequence_id must be an integer, not a string`;
    const [lo, hi] = CORRID_RANGE[c.datatype] ?? [0n, 0n];
    return id < lo || id > hi ? `sequence_id ${id} does not fit the model's ${c.datatype} CORRID control '${c.name}'` : undefined;
  }

  /** The control tensors for a batch whose rows are `rows`, in batch order. */
  build(rows: readonly ControlRow[]): Tensor[] {
    const shape = this.#batching ? [rows.length, 1] : [1];
    const out: Tensor[] = [];
    for (const f of this.#flags) {
      const size = f.trueBytes.byteLength;
      const data = new Uint8Array(size * rows.length);
      rows.forEach((r, i) => data.set(isSet(f.flag, r) ? f.trueBytes : f.falseBytes, i * size));
      out.push({ name: f.name, datatype: f.datatype, shape: [...shape], data });
    }
    if (this.#corrid !== undefined) out.push({ name: this.#corrid.name, datatype: this.#corrid.datatype, shape, data: corridBytes(this.#corrid.datatype, rows) });
    return out;
  }
}

const FLAG_OF: Readonly<Record<string, Flag>> = {
  CONTROL_SEQUENCE_START: 'START', CONTROL_SEQUENCE_END: 'END', CONTROL_SEQUENCE_READY: 'READY',
};

function isSet(flag: Flag, r: ControlRow): boolean {
  return flag === 'READY' || (flag === 'START' ? r.start : r.end);
}

function falseTrue(i32: number[] | undefined, f32: number[] | undefined, bools: boolean[] | undefined): { falseBytes: Uint8Array; trueBytes: Uint8Array } {
  const two = (arr: Int32Array | Float32Array | Uint8Array) => ({
    falseBytes: new Uint8Array(arr.buffer, 0, arr.BYTES_PER_ELEMENT),
    trueBytes: new Uint8Array(arr.buffer, arr.BYTES_PER_ELEMENT, arr.BYTES_PER_ELEMENT),
  });
  if ((i32 ?? []).length > 0) return two(Int32Array.from(i32!));
  if ((f32 ?? []).length > 0) return two(Float32Array.from(f32!));
  return two(Uint8Array.from((bools ?? [false, true]).map((b) => (b ? 1 : 0))));
}

function corridBytes(dt: DataType, rows: readonly ControlRow[]): Uint8Array {
  if (dt === 'BYTES') return encodeBytesElements(rows.map((r) => String(r.id)));
  const size = dt === 'UINT64' || dt === 'INT64' ? 8 : 4;
  const data = new Uint8Array(size * rows.length);
  const view = new DataView(data.buffer);
  rows.forEach((r, i) => {
    const id = r.id as bigint;
    if (size === 8) view.setBigUint64(i * 8, id, true);
    else view.setUint32(i * 4, Number(id), true);
  });
  return data;
}
