/**
 * A controllable in-process ModelInstance for scheduler tests: every requested output is a copy of
 * the first input (identity), with a configurable duration, scripted failures, and a log of the
 * batches it executed.
 */
import type { ExecuteBatch, ExecuteResult, ModelInstance } from '../../src/backends/backend.js';
import { InferenceError } from '../../src/errors/inference-error.js';

export interface FakeOptions {
  delayMs?: number;
  /** Called before each execution; throw to fail the batch. */
  hook?: (batch: ExecuteBatch, n: number) => void;
}

export class FakeInstance implements ModelInstance {
  readonly name: string;
  readonly batches: { size: number; firstValue: number }[] = [];
  delayMs: number;
  #busy = false;
  #n = 0;
  readonly #hook: FakeOptions['hook'];

  constructor(name = 'fake_0', o: FakeOptions = {}) {
    this.name = name;
    this.delayMs = o.delayMs ?? 0;
    this.#hook = o.hook;
  }

  async execute(batch: ExecuteBatch): Promise<ExecuteResult> {
    if (this.#busy) throw new InferenceError('INTERNAL', 'execute() overlapped on one instance');
    this.#busy = true;
    try {
      const input = batch.inputs[0]!;
      const view = new Float32Array(input.data.buffer, input.data.byteOffset, input.data.byteLength / 4);
      this.batches.push({ size: batch.batchSize, firstValue: view[0] ?? NaN });
      this.#hook?.(batch, this.#n++);
      await new Promise((r) => setTimeout(r, this.delayMs));
      const copy = new Uint8Array(input.data); // the "framework" output is a fresh buffer
      return {
        outputs: batch.outputNames.map((name) => ({ name, datatype: input.datatype, shape: input.shape, data: copy })),
        timings: { computeInputNs: 1000, computeInferNs: this.delayMs * 1e6, computeOutputNs: 2000 },
      };
    } finally {
      this.#busy = false;
    }
  }

  async finalize(): Promise<void> {}
}
