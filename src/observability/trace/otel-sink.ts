/**
 * OpenTelemetry-mode traces: one span per traced request, exported over OTLP/HTTP (JSON) by the
 * @opentelemetry SDK's BatchSpanProcessor to `--trace-config opentelemetry,url=…`.
 *
 *   client traceparent ──▶ [span "<model>"  REQUEST_START … REQUEST_END events]
 *                              ├─ [span "compute"  COMPUTE_START … COMPUTE_END]
 *                              └─ [span "<step model>"] … one per ensemble step, same shape
 *
 * The span opens when the trace is created (begin), so ensemble steps can name it as their
 * parent; events and the compute child are added at the end with the recorded timestamps. The
 * client's W3C `traceparent`/`tracestate` (gRPC metadata or HTTP headers) become the root's
 * parent. Sampling is Infera's (trace_rate/trace_count), so the SDK samples everything it is
 * given. No global OpenTelemetry state is registered: the provider lives and dies with the server.
 * A collector that is down only loses spans: exports fail inside the SDK, requests never wait on
 * them, and stop() gives up after SHUTDOWN_TIMEOUT_MS.
 */
import { ROOT_CONTEXT, SpanStatusCode, trace, type Context, type HrTime, type Span, type Tracer } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AlwaysOnSampler, BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import type { Logger } from 'pino';
import type { OtelConfig } from './trace-config.js';
import type { RequestTrace } from './request-trace.js';
import type { TraceSink } from './tracer.js';

/** hrtime ns + this = Unix epoch ns (fixed at load, as the monotonic clock and the wall clock drift apart slowly). */
const EPOCH_OFFSET_NS = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();

function hr(ns: number): HrTime {
  const epoch = BigInt(Math.round(ns)) + EPOCH_OFFSET_NS;
  return [Number(epoch / 1_000_000_000n), Number(epoch % 1_000_000_000n)];
}

const COMPUTE = ['COMPUTE_START', 'COMPUTE_INPUT_END', 'COMPUTE_OUTPUT_START', 'COMPUTE_END'];
const propagator = new W3CTraceContextPropagator();
const headerGetter = {
  get: (c: Record<string, string | undefined>, k: string) => c[k],
  keys: (c: Record<string, string | undefined>) => Object.keys(c),
};

/** How long stop() waits for the last spans to reach the collector. */
const SHUTDOWN_TIMEOUT_MS = 3000;

export class OtelSink implements TraceSink {
  readonly #provider: BasicTracerProvider;
  readonly #tracer: Tracer;
  readonly #log: Logger;

  constructor(o: OtelConfig, log: Logger) {
    this.#log = log;
    const exporter = new OTLPTraceExporter({ url: o.url, timeoutMillis: SHUTDOWN_TIMEOUT_MS });
    this.#provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': 'infera', ...o.resource }),
      sampler: new AlwaysOnSampler(),
      spanProcessors: [new BatchSpanProcessor(exporter, {
        maxQueueSize: o.maxQueueSize, scheduledDelayMillis: o.scheduleDelayMs, maxExportBatchSize: Math.min(o.maxExportBatchSize, o.maxQueueSize),
      })],
    });
    this.#tracer = this.#provider.getTracer('infera');
  }

  begin(t: RequestTrace, startNs: number): void {
    const span = this.#tracer.startSpan(t.model, { startTime: hr(startNs), attributes: { 'triton.model_name': t.model, 'triton.trace_id': t.id } }, this.#parentContext(t));
    if (t.parent !== undefined) span.setAttribute('triton.trace_parent_id', t.parent.id);
    if (t.requestId !== '') span.setAttribute('triton.request_id', t.requestId);
    t.handle = span;
  }

  end(t: RequestTrace): void {
    const span = t.handle as Span | undefined;
    if (span === undefined) return;
    span.setAttribute('triton.model_version', t.version);
    for (const s of t.timestamps) if (!COMPUTE.includes(s.name)) span.addEvent(s.name, hr(s.ns));
    const start = t.time('COMPUTE_START');
    if (start !== undefined) {
      const compute = this.#tracer.startSpan('compute', { startTime: hr(start) }, trace.setSpan(ROOT_CONTEXT, span));
      for (const s of t.timestamps) if (COMPUTE.includes(s.name)) compute.addEvent(s.name, hr(s.ns));
      compute.end(hr(t.time('COMPUTE_END') ?? start));
    }
    if (t.error !== undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: t.error });
    const end = t.time('REQUEST_END');
    span.end(end === undefined ? undefined : hr(end));
  }

  /** Flushes what is queued; a collector that is down or slow costs at most SHUTDOWN_TIMEOUT_MS and a warning. */
  async close(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${SHUTDOWN_TIMEOUT_MS} ms`)), SHUTDOWN_TIMEOUT_MS);
    });
    try {
      await Promise.race([this.#provider.shutdown(), timeout]);
    } catch (e) {
      this.#log.warn({ err: (e as Error).message }, 'OpenTelemetry: could not export the last spans');
    } finally {
      clearTimeout(timer);
    }
  }

  #parentContext(t: RequestTrace): Context {
    const parentSpan = t.parent?.handle as Span | undefined;
    if (parentSpan !== undefined) return trace.setSpan(ROOT_CONTEXT, parentSpan);
    if (t.context === undefined) return ROOT_CONTEXT;
    return propagator.extract(ROOT_CONTEXT, { traceparent: t.context.traceparent, tracestate: t.context.tracestate }, headerGetter);
  }
}
