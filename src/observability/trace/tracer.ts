/**
 * Decides which requests are traced (TraceSettings' samplers), creates their RequestTrace and
 * hands finished ones to the sink of the configured mode: a Triton trace file, or an
 * OpenTelemetry exporter. A traced ensemble's steps are always traced, as children of the
 * ensemble's trace.
 *
 * Cost while tracing is OFF everywhere: the core reads `tracing` (a boolean) per request.
 */
import type { TraceSettings } from './trace-settings.js';
import { RequestTrace, type TraceContextHeaders } from './request-trace.js';

/** Where finished traces go. begin() runs when a trace is created, end() once when it finished. */
export interface TraceSink {
  begin(t: RequestTrace, startNs: number): void;
  end(t: RequestTrace): void;
  /** Flushes what is buffered; called once, at server stop. */
  close(): Promise<void>;
}

export class Tracer {
  readonly settings: TraceSettings;
  readonly #sink: TraceSink;
  #nextId = 1;

  constructor(settings: TraceSettings, sink: TraceSink) {
    this.settings = settings;
    this.#sink = sink;
  }

  get tracing(): boolean {
    return this.settings.tracing;
  }

  /** A trace for a request arriving at `startNs`, if the sampler of `model` picks it. */
  start(model: string, requestId: string, startNs: number, context?: TraceContextHeaders): RequestTrace | undefined {
    if (!this.settings.sample(model)) return undefined;
    return this.#begin(new RequestTrace(this.#nextId++, model, requestId, this.settings.values(model).trace_level, undefined, context), startNs);
  }

  /** The trace of an ensemble step whose ensemble request is traced. */
  child(parent: RequestTrace, model: string, requestId: string, startNs: number): RequestTrace {
    return this.#begin(new RequestTrace(this.#nextId++, model, requestId, parent.levels, parent), startNs);
  }

  finish(t: RequestTrace): void {
    this.#sink.end(t);
  }

  close(): Promise<void> {
    return this.#sink.close();
  }

  #begin(t: RequestTrace, startNs: number): RequestTrace {
    t.stamp('REQUEST_START', startNs);
    this.#sink.begin(t, startNs);
    return t;
  }
}
