/**
 * One traced request: Triton's trace record (id, model, version, request id, parent id for an
 * ensemble step) and the timestamps of its phases, taken from the clocks the core and the
 * scheduler read anyway (REQUEST_START is the core's arrival time, COMPUTE_* come from the
 * scheduler's execution start and the instance's measured compute durations), so tracing adds no
 * measurement of its own. Times are process.hrtime nanoseconds (monotonic, as Triton's steady clock).
 * Only the request's own path writes to it; a sink reads it once, at finish.
 */
import type { TraceLevel } from './trace-settings.js';

export interface TraceTimestamp {
  readonly name: string;
  readonly ns: number;
}

/** A tensor as a TENSORS-level trace shows it: values comma-joined, shape comma-joined. */
export interface TraceTensor {
  readonly activity: 'TENSOR_QUEUE_INPUT' | 'TENSOR_BACKEND_OUTPUT';
  readonly name: string;
  readonly datatype: string;
  readonly shape: string;
  readonly data: string;
}

/** W3C trace context headers a client sent (HTTP headers or gRPC metadata). */
export interface TraceContextHeaders {
  traceparent: string;
  tracestate?: string;
}

/** Durations an instance measured for one execution (ExecuteTimings). */
export interface ComputeDurations {
  computeInputNs: number;
  computeInferNs: number;
  computeOutputNs: number;
}

export class RequestTrace {
  readonly id: number;
  readonly parent: RequestTrace | undefined;
  readonly model: string;
  version = '';
  readonly requestId: string;
  readonly levels: readonly TraceLevel[];
  readonly context: TraceContextHeaders | undefined;
  readonly timestamps: TraceTimestamp[] = [];
  readonly tensors: TraceTensor[] = [];
  /** Set when the request failed: the error's message. */
  error: string | undefined;
  /** The sink's own handle (an OpenTelemetry span); opaque here. */
  handle: unknown;

  constructor(id: number, model: string, requestId: string, levels: readonly TraceLevel[], parent?: RequestTrace, context?: TraceContextHeaders) {
    this.id = id;
    this.model = model;
    this.requestId = requestId;
    this.levels = levels;
    this.parent = parent;
    this.context = context;
  }

  get wantsTensors(): boolean {
    return this.levels.includes('TENSORS');
  }

  stamp(name: string, ns: number): void {
    this.timestamps.push({ name, ns });
  }

  /** COMPUTE_START … COMPUTE_END of the execution this request ran in. */
  compute(startNs: number, d: ComputeDurations, endNs: number): void {
    const inputEnd = startNs + d.computeInputNs;
    this.stamp('COMPUTE_START', startNs);
    this.stamp('COMPUTE_INPUT_END', inputEnd);
    this.stamp('COMPUTE_OUTPUT_START', Math.min(endNs, inputEnd + d.computeInferNs));
    this.stamp('COMPUTE_END', endNs);
  }

  time(name: string): number | undefined {
    return this.timestamps.find((t) => t.name === name)?.ns;
  }
}
