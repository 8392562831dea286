/**
 * Merges requests along dim 0 and splits batch outputs back. Pure: no timers, no state.
 *
 * Copies: merging N > 1 requests costs exactly one copy of each input into a fresh buffer (the
 * batch tensor); a single request's input is passed through untouched. Splitting never copies:
 * each request gets subarray views of the batch output buffers.
 */
import type { BatchRequest, ExecuteResult } from '../backends/backend.js';
import type { Parameters, Tensor } from '../core/tensor.js';
import type { RequestResponses } from '../core/response-stream.js';
import type { ValidatedRequest } from '../core/request-validator.js';
import { elementByteSize, elementCount } from '../core/datatype.js';
import { bytesElementViews } from '../core/bytes-tensor.js';
import { errors } from '../errors/catalogue.js';
import type { InferenceError } from '../errors/inference-error.js';
import type { RequestTrace } from '../observability/trace/request-trace.js';

/** Batched inputs, in config order. All requests share shapeKey (same inputs, same non-batch dims). */
export function mergeInputs(batch: readonly ValidatedRequest[], batching: boolean): Tensor[] {
  const first = batch[0]!;
  if (batch.length === 1) return first.inputs.map((t) => ({ name: t.name, datatype: t.datatype, shape: t.shape, data: t.data }));
  if (!batching) throw errors.internal('several requests merged for a model that does not batch');
  return first.inputs.map((t, i) => {
    let bytes = 0;
    let rows = 0;
    for (const r of batch) {
      bytes += r.inputs[i]!.data.byteLength;
      rows += r.batchSize;
    }
    const data = new Uint8Array(bytes);
    let off = 0;
    for (const r of batch) {
      const src = r.inputs[i]!.data;
      data.set(src, off);
      off += src.byteLength;
    }
    return { name: t.name, datatype: t.datatype, shape: [rows, ...t.shape.slice(1)], data };
  });
}

/** Union of the requested outputs, in the order first seen. */
export function unionOutputs(batch: readonly ValidatedRequest[]): string[] {
  if (batch.length === 1) return [...batch[0]!.outputNames];
  const seen = new Set<string>();
  for (const r of batch) for (const n of r.outputNames) seen.add(n);
  return [...seen];
}

/**
 * Splits one batch output into per-request views. `sizes[i]` is request i's batch size. For a
 * model that does not batch, the single request gets the tensor as it is.
 */
export function splitOutput(out: Tensor, sizes: readonly number[], batching: boolean, model: string): Tensor[] {
  if (!batching || sizes.length === 1) {
    if (batching && out.shape[0] !== sizes[0]) throw badBatchOutput(out, sizes, model);
    return [out];
  }
  const total = sizes.reduce((a, b) => a + b, 0);
  if (out.shape.length === 0 || out.shape[0] !== total) throw badBatchOutput(out, sizes, model);
  const rowShape = out.shape.slice(1);
  const perRow = elementCount(rowShape);
  const parts: Tensor[] = [];
  if (out.datatype === 'BYTES') {
    const views = bytesElementViews(out.data);
    let elem = 0;
    for (const n of sizes) {
      const startElem = elem;
      elem += n * perRow;
      const start = views[startElem] ? views[startElem]!.byteOffset - 4 - out.data.byteOffset : out.data.byteLength;
      const last = views[elem - 1];
      const end = elem === startElem || last === undefined ? start : last.byteOffset + last.byteLength - out.data.byteOffset;
      parts.push({ name: out.name, datatype: out.datatype, shape: [n, ...rowShape], data: out.data.subarray(start, end) });
    }
    return parts;
  }
  const rowBytes = perRow * elementByteSize(out.datatype);
  let off = 0;
  for (const n of sizes) {
    const len = n * rowBytes;
    parts.push({ name: out.name, datatype: out.datatype, shape: [n, ...rowShape], data: out.data.subarray(off, off + len) });
    off += len;
  }
  return parts;
}

function badBatchOutput(out: Tensor, sizes: readonly number[], model: string) {
  return errors.internal(
    `model '${model}' returned output '${out.name}' with shape [${out.shape.join(',')}], ` +
      `which does not match the batch of ${sizes.reduce((a, b) => a + b, 0)} it was given`,
  );
}

/** Every output of a batch split per request (see splitOutput), by output name. */
export function splitOutputs(outputs: readonly Tensor[], sizes: readonly number[], batching: boolean, model: string): Map<string, Tensor[]> {
  const parts = new Map<string, Tensor[]>();
  for (const out of outputs) parts.set(out.name, splitOutput(out, sizes, batching, model));
  return parts;
}

/**
 * Request i's share of a split batch: its requested outputs in the order it named them, or an
 * INTERNAL error when the model did not produce one of them.
 */
export function requestOutputs(parts: ReadonlyMap<string, Tensor[]>, names: readonly string[], i: number, model: string): Tensor[] | InferenceError {
  const mine: Tensor[] = [];
  for (const name of names) {
    const t = parts.get(name)?.[i];
    if (t === undefined) return errors.internal(`model '${model}' did not produce every requested output`);
    mine.push(t);
  }
  return mine;
}

/** A request's boundaries in a batch (backend.ts BatchRequest), read through to the request. */
class RequestPart implements BatchRequest {
  readonly #vr: ValidatedRequest;
  constructor(vr: ValidatedRequest) {
    this.#vr = vr;
  }
  get rows(): number {
    return this.#vr.batchSize;
  }
  get outputNames(): readonly string[] {
    return this.#vr.outputNames;
  }
  get parameters(): Readonly<Parameters> {
    return this.#vr.request.parameters;
  }
  get signal(): AbortSignal | undefined {
    return this.#vr.request.cancellation?.signal; // made here, on first read: only backends that watch signals pay for one
  }
  get trace(): RequestTrace | undefined {
    return this.#vr.request.trace;
  }
  get callers(): readonly string[] | undefined {
    return this.#vr.request.blsCallers;
  }
  get responses(): RequestResponses | undefined {
    return this.#vr.request.responses;
  }
}

/** The batch's request boundaries, in batch order (ExecuteBatch.requests). */
export function batchRequests(batch: readonly ValidatedRequest[]): BatchRequest[] {
  return batch.map((vr) => new RequestPart(vr));
}

/**
 * A batch result as per-request parts by output name (the shape requestOutputs reads), whether
 * the instance answered the batch as a whole (split here, no copies) or per request
 * (ExecuteResult.perRequest). `failed[i]` is request i's own error when it has one.
 */
export function resultParts(
  result: ExecuteResult, sizes: readonly number[], batching: boolean, model: string,
): { parts: Map<string, Tensor[]>; failed: readonly (InferenceError | undefined)[] | undefined } {
  const per = result.perRequest;
  if (per === undefined) return { parts: splitOutputs(result.outputs, sizes, batching, model), failed: undefined };
  if (per.length !== sizes.length) {
    throw errors.internal(`model '${model}' answered ${per.length} requests of a batch of ${sizes.length}`);
  }
  const parts = new Map<string, Tensor[]>();
  const failed: (InferenceError | undefined)[] = [];
  per.forEach((entry, i) => {
    if (!Array.isArray(entry)) {
      failed[i] = entry;
      return;
    }
    for (const t of entry) {
      let list = parts.get(t.name);
      if (list === undefined) parts.set(t.name, (list = []));
      list[i] = t;
    }
  });
  return { parts, failed };
}
