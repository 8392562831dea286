/**
 * Server-sent events (text/event-stream) for the requests that answer 0..N times over HTTP:
 * `POST …/infer` with `Accept: text/event-stream` and `POST …/generate_stream`. One request's
 * responses go to the client as `data: <JSON>\n\n` events as the core's ResponseSink hands them
 * over (response-stream.ts), in the order it sends them.
 *
 * Invariants:
 * - The status line is decided by the first outcome. An error before any event is answered like
 *   every other failed request (the mapped status, `application/json` `{"error": …}`, through
 *   fastify's error handler): streamResponses rethrows it. Once an event is written the status is
 *   200, and a later error is an event `data: {"error": "…"}` after which the stream ends.
 * - Every event is one `data:` line: the JSON writers of this front-end never emit a raw CR or LF
 *   (JSON.stringify escapes them inside strings), so no event can be split or forged by a value.
 * - A closed connection aborts the request's signal (CANCELLED), so queued work leaves its queue
 *   and a decoupled model stops being asked for more; sends after that are dropped.
 * - Bounded memory: a client that stops reading while the model keeps sending makes the unsent
 *   bytes grow; beyond MAX_UNSENT_BYTES the request is aborted (RESOURCE_EXHAUSTED), an error event
 *   is queued and the stream ends, so a slow reader costs at most that much.
 * - A comment line every HEARTBEAT_MS keeps an open stream from the idle-connection timeout and
 *   lets proxies see it alive while a model takes long between responses.
 * - No Content-Encoding: events are written as they come (compressing would hold them back).
 */
import type { FastifyReply } from 'fastify';
import type { Logger } from 'pino';
import type { InferenceService } from '../../core/inference-service.js';
import type { InferenceRequest, InferenceResponse } from '../../core/inference-request.js';
import type { ResponseSink } from '../../core/response-stream.js';
import { Cancellation } from '../../core/cancellation.js';
import { errors, modelRef } from '../../errors/catalogue.js';
import { InferenceError } from '../../errors/inference-error.js';
import { logOutcome } from '../../observability/log-policy.js';
import { errorBody } from './http-status.js';

export const EVENT_STREAM_TYPE = 'text/event-stream; charset=utf-8';
/** Unsent event bytes one stream may hold before its request is aborted. */
export const MAX_UNSENT_BYTES = 32 * 1024 * 1024;
export const HEARTBEAT_MS = 15_000;

/** Whether the Accept header lists `text/event-stream` with q > 0 (`*` ranges do not count). */
export function acceptsEventStream(accept: string | undefined): boolean {
  if (accept === undefined) return false;
  for (const part of accept.split(',')) {
    const [type = '', ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    if (type !== 'text/event-stream') continue;
    const q = params.find((p) => p.startsWith('q='));
    if (q === undefined || Number(q.slice(2)) > 0) return true;
  }
  return false;
}

/** One response (or the empty final, `r` undefined) → the JSON text of its event; undefined = no event. */
export type EventFormat = (r: InferenceResponse | undefined, final: boolean) => string | undefined;

/**
 * Runs `req` through inferStream and writes its responses to `reply` as events formatted by
 * `format`. Resolves when the stream has ended; rejects only when nothing was written yet (the
 * caller's error handler then answers it). Sets `req.cancellation`.
 */
export async function streamResponses(
  svc: InferenceService, req: InferenceRequest, reply: FastifyReply, format: EventFormat, log: Logger, rpc: string,
): Promise<void> {
  const ac = new Cancellation();
  req.cancellation = ac;
  const events = new EventWriter(reply, (err) => ac.cancel(err), req.modelName, req.modelVersion);
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) ac.cancel(errors.cancelled(req.modelName, req.modelVersion));
    events.close();
  });
  // send() never throws into the producer: a response that cannot be written fails the request.
  let failure: unknown;
  const sink: ResponseSink = {
    accepted: () => {},
    send: (r, final) => {
      if (failure !== undefined) return;
      let text: string | undefined;
      try {
        text = format(r, final);
      } catch (e) {
        failure = e;
        ac.cancel(InferenceError.from(e));
        return;
      }
      if (text !== undefined) events.data(text);
      if (final) events.end();
    },
  };
  try {
    await svc.inferStream(req, sink);
  } catch (e) {
    failure ??= e;
  }
  if (failure !== undefined) {
    if (!events.started) throw failure;
    const err = InferenceError.from(failure);
    logOutcome(log, rpc, err);
    events.data(errorBody(err.message));
  }
  events.end();
}

/** The response side of one event stream: headers on the first write, then events, then the end. */
class EventWriter {
  readonly #reply: FastifyReply;
  readonly #overflow: (err: InferenceError) => void;
  readonly #model: string;
  readonly #version: string;
  #started = false;
  #done = false;
  #heartbeat: NodeJS.Timeout | undefined;

  constructor(reply: FastifyReply, overflow: (err: InferenceError) => void, model: string, version: string) {
    this.#reply = reply;
    this.#overflow = overflow;
    this.#model = model;
    this.#version = version;
  }

  get started(): boolean {
    return this.#started;
  }

  data(json: string): void {
    if (this.#done || this.#reply.raw.destroyed) return;
    this.#start();
    const res = this.#reply.raw;
    res.write(`data: ${json}\n\n`);
    if (res.writableLength > MAX_UNSENT_BYTES) {
      const err = errors.resourceExhausted(
        `the event stream of the request for ${modelRef(this.#model, this.#version)} has more than ${MAX_UNSENT_BYTES} bytes the client has not read; the request was stopped`,
      );
      this.#overflow(err);
      res.write(`data: ${errorBody(err.message)}\n\n`);
      this.end();
    }
  }

  /** Ends the stream (writing the headers first when nothing was written); idempotent. */
  end(): void {
    if (this.#done) return;
    this.#start();
    this.close();
    this.#reply.raw.end();
  }

  /** The connection is gone or the stream ended: no more writes. */
  close(): void {
    this.#done = true;
    clearInterval(this.#heartbeat);
  }

  #start(): void {
    if (this.#started) return;
    this.#started = true;
    this.#reply.hijack();
    const res = this.#reply.raw;
    res.writeHead(200, { 'content-type': EVENT_STREAM_TYPE, 'cache-control': 'no-cache', 'x-accel-buffering': 'no' });
    this.#heartbeat = setInterval(() => {
      if (!res.destroyed) res.write(':\n\n');
    }, HEARTBEAT_MS);
    this.#heartbeat.unref();
  }
}
