/**
 * GET|POST /v2/trace/setting, /v2/models/{m}/trace/setting and /v2/logging (PROTOCOL.md §6.1):
 * JSON bodies ⇔ the core's trace and log settings. Trace values are a string or a list of
 * strings, `null` clears; log values are JSON booleans, unsigned integers or strings. Also the W3C
 * trace context a client sends in headers.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { InferenceService } from '../../core/inference-service.js';
import type { TraceSettingChange } from '../../observability/trace/trace-settings.js';
import type { LogSettingValue } from '../../observability/log-settings.js';
import type { TraceContextHeaders } from '../../observability/trace/request-trace.js';
import { errors } from '../../errors/catalogue.js';
import { JsonFloat } from '../../util/lossless-json.js';
import { optionalJsonBody, route, sendJson } from './routes.js';

function traceChanges(body: Record<string, unknown>): Record<string, TraceSettingChange> {
  const out: Record<string, TraceSettingChange> = {};
  for (const [k, v] of Object.entries(body)) {
    if (v === null) out[k] = null;
    else if (typeof v === 'string') out[k] = [v];
    else if (Array.isArray(v) && v.every((x) => typeof x === 'string')) out[k] = v as string[];
    else throw errors.invalidArg(`trace setting '${k}' must be a string, a list of strings or null`);
  }
  return out;
}

function logChanges(body: Record<string, unknown>): Record<string, LogSettingValue> {
  const out: Record<string, LogSettingValue> = {};
  for (const [k, v] of Object.entries(body)) {
    const value = v instanceof JsonFloat ? v.value : typeof v === 'bigint' ? Number(v) : v;
    if (typeof value !== 'boolean' && typeof value !== 'number' && typeof value !== 'string') {
      throw errors.invalidArg(`log setting '${k}' must be a boolean, a number or a string`);
    }
    out[k] = value;
  }
  return out;
}

export function registerSettingsRoutes(app: FastifyInstance, svc: InferenceService): void {
  const trace = (req: FastifyRequest, reply: FastifyReply) => {
    const model = (req.params as Record<string, string | undefined>)['model'] ?? '';
    if (req.method === 'GET') return void sendJson(reply, svc.traceSettings(model));
    const changes = traceChanges(optionalJsonBody(req, 'the trace setting request'));
    sendJson(reply, svc.updateTraceSettings(model, changes));
  };
  route(app, '/v2/trace/setting', { GET: trace, POST: trace });
  route(app, '/v2/models/:model/trace/setting', { GET: trace, POST: trace });
  route(app, '/v2/logging', {
    GET: (_req, reply) => void sendJson(reply, svc.logSettings.get()),
    POST: (req, reply) => void sendJson(reply, svc.logSettings.update(logChanges(optionalJsonBody(req, 'the log settings request')))),
  });
}

/** `traceparent` / `tracestate` headers, if the client sent them. */
export function traceContextOf(req: FastifyRequest): TraceContextHeaders | undefined {
  const tp = req.headers['traceparent'];
  if (typeof tp !== 'string') return undefined;
  const ts = req.headers['tracestate'];
  return typeof ts === 'string' ? { traceparent: tp, tracestate: ts } : { traceparent: tp };
}
