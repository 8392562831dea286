/**
 * The core's side of tracing: starts a request's trace (sampled, or as a child of its ensemble's),
 * stamps the core's phases and, at the TENSORS level, records tensor contents, then hands the trace
 * to the Tracer. Called from InferenceService only for requests that are traced, so untraced
 * requests never reach this module.
 */
import type { InferenceRequest, OutputTensor } from './inference-request.js';
import type { Tensor } from './tensor.js';
import type { InferenceError } from '../errors/inference-error.js';
import type { Tracer, TraceSink } from '../observability/trace/tracer.js';
import type { RequestTrace, TraceTensor } from '../observability/trace/request-trace.js';
import { decodeToValues } from './tensor-codec.js';
import { elementByteSize } from './datatype.js';
import { nowNs } from '../util/clock.js';

/** The sink of a service built without one (tests, embedding): traces go nowhere. */
export const NO_TRACE_SINK: TraceSink = { begin: () => undefined, end: () => undefined, close: () => Promise.resolve() };

/** TENSORS-level traces show at most this many elements of a tensor. */
const TRACE_TENSOR_MAX_ELEMENTS = 4096;

/** The request's trace, or undefined when the sampler passes it over; sets `req.trace` for the scheduler. */
export function beginTrace(tracer: Tracer, req: InferenceRequest, version: string, start: number): RequestTrace | undefined {
  const t = req.parentTrace !== undefined
    ? tracer.child(req.parentTrace, req.modelName, req.id, start)
    : tracer.start(req.modelName, req.id, start, req.traceContext);
  if (t === undefined) return undefined;
  t.version = version;
  req.trace = t;
  return t;
}

/** After validation: QUEUE_START, and the inputs at the TENSORS level. */
export function traceQueued(t: RequestTrace, inputs: readonly Tensor[]): void {
  t.stamp('QUEUE_START', nowNs());
  if (t.wantsTensors) for (const i of inputs) t.tensors.push(traceTensor('TENSOR_QUEUE_INPUT', i));
}

export function endTrace(tracer: Tracer, t: RequestTrace, end: number, outputs: readonly OutputTensor[], err: InferenceError | undefined): void {
  if (t.wantsTensors) for (const o of outputs) t.tensors.push(traceTensor('TENSOR_BACKEND_OUTPUT', o));
  if (err !== undefined) t.error = err.message;
  t.stamp('REQUEST_END', end);
  tracer.finish(t);
}

function traceTensor(activity: TraceTensor['activity'], x: Tensor): TraceTensor {
  let data: string;
  try {
    // Fixed-size types decode only the elements shown; BYTES elements must be walked anyway.
    const size = elementByteSize(x.datatype);
    const bytes = size > 0 ? x.data.subarray(0, (TRACE_TENSOR_MAX_ELEMENTS + 1) * size) : x.data;
    const values = decodeToValues(x.datatype, bytes);
    data = (values as unknown[]).slice(0, TRACE_TENSOR_MAX_ELEMENTS).join(',') + (values.length > TRACE_TENSOR_MAX_ELEMENTS ? ',…' : '');
  } catch {
    data = '';
  }
  return { activity, name: x.name, datatype: x.datatype, shape: x.shape.join(','), data };
}
