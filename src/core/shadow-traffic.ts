/**
 * Shadow traffic: a sampled copy of a request runs on the model's shadow version, its response is
 * compared with the primary's and recorded, and it is never returned to the client.
 *
 * Invariants:
 * - The copy is made before the primary runs: inputs cross to workers as transferable buffers,
 *   so the primary's may be detached once it is queued. Only sampled requests pay for the copy.
 * - A shadow never fails, slows or changes the primary response: it carries no client signal, its
 *   errors are counted here, and at most MAX_SHADOW_IN_FLIGHT run per shadow version (more are
 *   skipped and counted), so a slow shadow cannot hold unbounded memory.
 * - Outputs are compared per name where datatype and shape agree (numbers: element-wise, the
 *   largest absolute difference kept; other types: bytes). A request whose outputs all agree
 *   counts as `matched`, one with any difference as `differed`, one with nothing comparable as
 *   `incomparable`.
 */
import type { InferenceRequest, OutputTensor } from './inference-request.js';
import { float16BitsToNumber, bfloat16BitsToNumber } from './float16.js';

export const MAX_SHADOW_IN_FLIGHT = 64;

export interface ShadowSnapshot {
  /** Copies started on the shadow version. */
  mirrored: number;
  /** Not started because MAX_SHADOW_IN_FLIGHT were already running. */
  skipped: number;
  failed: number;
  matched: number;
  differed: number;
  incomparable: number;
  /** Sum of the shadow requests' end-to-end durations (successful ones), for a mean. */
  success_ns: number;
  /** Largest absolute element difference seen against the primary. */
  max_abs_diff: number;
}

export class ShadowStats {
  #s: ShadowSnapshot = { mirrored: 0, skipped: 0, failed: 0, matched: 0, differed: 0, incomparable: 0, success_ns: 0, max_abs_diff: 0 };
  inFlight = 0;

  /** Whether another shadow may start now; counts the skip when not. */
  admit(): boolean {
    if (this.inFlight >= MAX_SHADOW_IN_FLIGHT) {
      this.#s.skipped += 1;
      return false;
    }
    this.inFlight += 1;
    this.#s.mirrored += 1;
    return true;
  }

  recordFailure(): void {
    this.inFlight -= 1;
    this.#s.failed += 1;
  }

  /** A successful shadow; `primary` undefined when the primary failed (nothing to compare). */
  recordSuccess(ns: number, primary: readonly OutputTensor[] | undefined, shadow: readonly OutputTensor[]): void {
    this.inFlight -= 1;
    this.#s.success_ns += Math.max(0, Math.round(ns));
    const d = primary === undefined ? undefined : compareOutputs(primary, shadow);
    if (d === undefined) this.#s.incomparable += 1;
    else {
      if (d.differs) this.#s.differed += 1;
      else this.#s.matched += 1;
      if (d.maxAbsDiff > this.#s.max_abs_diff) this.#s.max_abs_diff = d.maxAbsDiff;
    }
  }

  snapshot(): ShadowSnapshot {
    return { ...this.#s };
  }
}

/** The shadow's request: same inputs (copied), no client signal, no trace parent. */
export function shadowRequest(req: InferenceRequest, version: number): InferenceRequest {
  return {
    id: req.id,
    modelName: req.modelName,
    modelVersion: String(version),
    parameters: req.parameters,
    inputs: req.inputs.map((t) => ({ ...t, data: t.data.slice() })),
    outputs: req.outputs,
  };
}

/** Undefined when no output pair has the same name, datatype and shape. */
export function compareOutputs(a: readonly OutputTensor[], b: readonly OutputTensor[]): { differs: boolean; maxAbsDiff: number } | undefined {
  let compared = 0;
  let differs = false;
  let maxAbsDiff = 0;
  for (const x of a) {
    const y = b.find((t) => t.name === x.name);
    if (y === undefined || y.datatype !== x.datatype || y.shape.length !== x.shape.length || y.shape.some((d, i) => d !== x.shape[i])) {
      differs ||= y !== undefined; // same name, different shape or type: a difference
      continue;
    }
    compared += 1;
    const read = reader(x.datatype);
    if (read === undefined) {
      if (!bytesEqual(x.data, y.data)) differs = true;
      continue;
    }
    const n = Math.min(x.data.byteLength, y.data.byteLength) / read.size;
    if (x.data.byteLength !== y.data.byteLength) differs = true;
    const dx = new DataView(x.data.buffer, x.data.byteOffset, x.data.byteLength);
    const dy = new DataView(y.data.buffer, y.data.byteOffset, y.data.byteLength);
    for (let i = 0; i < n; i++) {
      const p = read.get(dx, i * read.size);
      const q = read.get(dy, i * read.size);
      if (p === q || (Number.isNaN(p) && Number.isNaN(q))) continue;
      differs = true;
      const diff = Math.abs(p - q);
      if (diff > maxAbsDiff || Number.isNaN(diff)) maxAbsDiff = Number.isNaN(diff) ? Infinity : diff;
    }
  }
  return compared === 0 && !differs ? undefined : { differs, maxAbsDiff };
}

interface Reader {
  size: number;
  get(v: DataView, at: number): number;
}

const READERS: Record<string, Reader> = {
  FP32: { size: 4, get: (v, at) => v.getFloat32(at, true) },
  FP64: { size: 8, get: (v, at) => v.getFloat64(at, true) },
  FP16: { size: 2, get: (v, at) => float16BitsToNumber(v.getUint16(at, true)) },
  BF16: { size: 2, get: (v, at) => bfloat16BitsToNumber(v.getUint16(at, true)) },
  INT8: { size: 1, get: (v, at) => v.getInt8(at) },
  INT16: { size: 2, get: (v, at) => v.getInt16(at, true) },
  INT32: { size: 4, get: (v, at) => v.getInt32(at, true) },
  INT64: { size: 8, get: (v, at) => Number(v.getBigInt64(at, true)) },
  UINT8: { size: 1, get: (v, at) => v.getUint8(at) },
  UINT16: { size: 2, get: (v, at) => v.getUint16(at, true) },
  UINT32: { size: 4, get: (v, at) => v.getUint32(at, true) },
  UINT64: { size: 8, get: (v, at) => Number(v.getBigUint64(at, true)) },
};

function reader(datatype: string): Reader | undefined {
  return READERS[datatype];
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}
