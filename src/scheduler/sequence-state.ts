/**
 * Implicit state (`sequence_batching.state`): each sequence's last value of every state output is
 * fed back as the matching state input of its next request. A sequence starts from the initial
 * state (zeros, or `<model>/initial_state/<data_file>`), again at every `sequence_start`, and its
 * values are dropped when it ends or is released. Resolved once per model load.
 *
 * Ownership: initial values are shared read-only by every sequence; a stored value is a private
 * copy of the sequence's row of the batch output (a row is small; keeping a view would pin the
 * whole batch buffer for as long as the sequence lives). Batch inputs are always fresh buffers,
 * since an instance may transfer what it is given.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { ModelConfig, SequenceState } from '../config/model-config.js';
import type { Tensor } from '../core/tensor.js';
import { configTypeToWire, elementByteSize, elementCount, type DataType } from '../core/datatype.js';
import { errors } from '../errors/catalogue.js';

/** One state value of one sequence: shape without the batch dim. */
export interface StateValue {
  readonly shape: readonly number[];
  readonly data: Uint8Array;
}

/** A sequence's state: input name → value. */
export type StateValues = Map<string, StateValue>;

interface StateSpec {
  readonly input: string;
  readonly output: string;
  readonly datatype: DataType;
  readonly initial: StateValue;
}

export class ImplicitState {
  readonly #specs: readonly StateSpec[];
  readonly #batching: boolean;

  private constructor(specs: StateSpec[], batching: boolean) {
    this.#specs = specs;
    this.#batching = batching;
  }

  /** undefined when the model declares no state. Throws INVALID_ARG for a state it cannot serve. */
  static async load(config: Readonly<ModelConfig>, modelDir: string): Promise<ImplicitState | undefined> {
    const states = config.sequence_batching?.state ?? [];
    if (states.length === 0) return undefined;
    const model = config.name ?? '';
    const specs = await Promise.all(states.map((s) => loadSpec(s, model, modelDir)));
    return new ImplicitState(specs, (config.max_batch_size ?? 0) > 0);
  }

  /** State outputs the batch must produce. */
  get outputNames(): string[] {
    return this.#specs.map((s) => s.output);
  }

  /** A fresh sequence's values (shared initial buffers). */
  initial(): StateValues {
    return new Map(this.#specs.map((s) => [s.input, s.initial]));
  }

  /** Sequences may share a batch only when their state shapes agree. */
  shapeKey(values: StateValues): string {
    let k = '';
    for (const s of this.#specs) k += `${values.get(s.input)!.shape.join('x')};`;
    return k;
  }

  /** The state input tensors of a batch whose rows hold `rows`, in batch order. */
  inputs(rows: readonly StateValues[]): Tensor[] {
    return this.#specs.map((s) => {
      const values = rows.map((r) => r.get(s.input)!);
      const first = values[0]!;
      // Always a fresh buffer: execute() may transfer (detach) its inputs, and stored values are reused.
      if (!this.#batching) return { name: s.input, datatype: s.datatype, shape: [...first.shape], data: first.data.slice() };
      let bytes = 0;
      for (const v of values) bytes += v.data.byteLength;
      const data = new Uint8Array(bytes);
      let off = 0;
      for (const v of values) {
        data.set(v.data, off);
        off += v.data.byteLength;
      }
      return { name: s.input, datatype: s.datatype, shape: [rows.length, ...first.shape], data };
    });
  }

  /** Row `i`'s new values, copied out of the batch's state outputs (split per row). */
  next(parts: ReadonlyMap<string, readonly Tensor[]>, i: number, model: string): StateValues {
    const out: StateValues = new Map();
    for (const s of this.#specs) {
      const t = parts.get(s.output)?.[i];
      if (t === undefined) throw errors.internal(`model '${model}' did not produce its state output '${s.output}'`);
      out.set(s.input, { shape: this.#batching ? t.shape.slice(1) : [...t.shape], data: t.data.slice() });
    }
    return out;
  }
}

async function loadSpec(s: SequenceState, model: string, modelDir: string): Promise<StateSpec> {
  const where = `state '${s.input_name ?? ''}' of model '${model}'`;
  const datatype = configTypeToWire(s.data_type);
  if (!s.input_name || !s.output_name || datatype === undefined) {
    throw errors.invalidArg(`${where} must give input_name, output_name and a valid data_type`);
  }
  const init = s.initial_state?.[0];
  const shape = init?.dims ?? s.dims ?? [];
  if (shape.some((d) => !Number.isSafeInteger(d) || d < 0)) {
    throw errors.invalidArg(`${where} has variable dims [${(s.dims ?? []).join(',')}]: give an initial_state with concrete dims`);
  }
  const count = elementCount(shape);
  const size = datatype === 'BYTES' ? 4 : elementByteSize(datatype);
  let data = new Uint8Array(count * size);
  if (init?.data_file !== undefined && init.data_file !== '') {
    const dir = path.resolve(modelDir, 'initial_state');
    const file = path.resolve(dir, init.data_file);
    if (!file.startsWith(dir + path.sep)) throw errors.invalidArg(`${where}: initial_state data_file '${init.data_file}' is outside ${dir}`);
    try {
      data = new Uint8Array(await readFile(file));
    } catch (e) {
      throw errors.invalidArg(`${where}: cannot read initial_state data_file '${init.data_file}': ${(e as Error).message}`);
    }
    if (datatype !== 'BYTES' && data.byteLength !== count * size) {
      throw errors.invalidArg(`${where}: initial_state data_file '${init.data_file}' holds ${data.byteLength} bytes, expected ${count * size} for dims [${shape.join(',')}]`);
    }
  }
  return { input: s.input_name, output: s.output_name, datatype, initial: { shape: Object.freeze([...shape]), data } };
}
