/**
 * The KServe v2 / Triton route table (PROTOCOL.md §6.1): one handler per route, convert →
 * InferenceService → convert, no business logic. Paths match exactly (no trailing slash); a
 * version segment must be digits or a version label of that model (version-routing.ts), else the
 * path does not exist (404), as Triton's regexes. Every
 * path answers every method: the ones it does not serve get 405.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, HTTPMethods } from 'fastify';
import type { Logger } from 'pino';
import type { InferenceService, ModelStatistics } from '../../core/inference-service.js';
import { modelConfigToJson } from '../../config/model-config-json.js';
import { stringifyLosslessJson } from '../../util/lossless-json.js';
import { errors } from '../../errors/catalogue.js';
import { refusedBody, type BodyKind, type BodyReadOptions } from './body-reader.js';
import { methodNotAllowed, notFound } from './http-status.js';
import { parseRequestJson } from './http-convert.js';
import { handleInfer, inferHeaderWhat } from './infer-handler.js';
import { generateWhat, handleGenerate } from './generate-handler.js';
import { loadParameters, unloadDependents } from './http-repository.js';
import { registerSharedMemoryRoutes } from './http-shared-memory.js';
import { registerSettingsRoutes } from './http-settings.js';

type Handler = (req: FastifyRequest, reply: FastifyReply) => Promise<void> | void;
type Params = Record<string, string | undefined>;

export const ALL_METHODS: HTTPMethods[] = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'];

export interface RouteOptions {
  /** For errors that happen after a streamed response has begun (no error handler can answer them). */
  log: Logger;
}

/** Whether `label` is a version label of `model` (labels may stand where a version goes). */
type LabelCheck = (model: string, label: string) => boolean;

/** What body-reader.ts needs of a route: how its body is read (route config `body`, default 'raw'). */
export function bodyOptions(req: FastifyRequest, maxBytes: number): BodyReadOptions {
  const kind = (req.routeOptions.config as { body?: BodyKind } | undefined)?.body ?? 'raw';
  if (kind === 'raw') return { kind, maxBytes, what: 'the request body' };
  const { model, version } = nameVersion(req);
  return { kind, maxBytes, what: kind === 'infer' ? inferHeaderWhat(model, version) : generateWhat(model, version) };
}

export function route(
  app: FastifyInstance, url: string, handlers: Partial<Record<'GET' | 'POST', Handler>>, isLabel?: LabelCheck, body: BodyKind = 'raw',
): void {
  app.route({
    method: ALL_METHODS,
    url,
    config: { body },
    handler: async (req, reply) => {
      const p = req.params as Params;
      const version = p['version'];
      if (version !== undefined && !/^[0-9]+$/.test(version) && isLabel?.(p['model'] ?? '', version) !== true) throw notFound();
      const h = handlers[req.method as 'GET' | 'POST'];
      if (h === undefined) throw methodNotAllowed();
      const refused = refusedBody(req.body);
      if (refused !== undefined) throw refused;
      await h(req, reply);
      return reply;
    },
  });
}

/** `/v2/models/{m}{suffix}` and `/v2/models/{m}/versions/{v}{suffix}`. */
function modelRoute(
  app: FastifyInstance, suffix: string, handlers: Partial<Record<'GET' | 'POST', Handler>>, isLabel: LabelCheck, body: BodyKind = 'raw',
): void {
  route(app, `/v2/models/:model${suffix}`, handlers, undefined, body);
  route(app, `/v2/models/:model/versions/:version${suffix}`, handlers, isLabel, body);
}

export function sendJson(reply: FastifyReply, body: unknown, status = 200): FastifyReply {
  return reply.code(status).header('content-type', 'application/json').send(JSON.stringify(body));
}

function nameVersion(req: FastifyRequest): { model: string; version: string } {
  const p = req.params as Params;
  return { model: p['model'] ?? '', version: p['version'] ?? '' };
}

function bodyOf(req: FastifyRequest): Buffer {
  return Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
}

/** An optional JSON object body (repository routes): empty → {}. */
export function optionalJsonBody(req: FastifyRequest, what: string): Record<string, unknown> {
  const body = bodyOf(req);
  if (body.byteLength === 0) return {};
  const v = parseRequestJson(body, what);
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw errors.invalidArg(`${what} must be a JSON object`);
  return v as Record<string, unknown>;
}

export function registerRoutes(app: FastifyInstance, svc: InferenceService, o: RouteOptions): void {
  route(app, '/v2/health/live', { GET: (_q, reply) => void reply.code(svc.serverLive() ? 200 : 400).send() });
  route(app, '/v2/health/ready', { GET: (_q, reply) => void reply.code(svc.serverReady() ? 200 : 400).send() });
  route(app, '/v2', { GET: (_q, reply) => void sendJson(reply, svc.serverMetadata()) });
  registerModelRoutes(app, svc, o);
  registerRepositoryRoutes(app, svc);
  registerSharedMemoryRoutes(app, svc);
  registerSettingsRoutes(app, svc);
}

function registerModelRoutes(app: FastifyInstance, svc: InferenceService, o: RouteOptions): void {
  const isLabel: LabelCheck = (model, label) => svc.hasVersionLabel(model, label);
  modelRoute(app, '', {
    GET: (req, reply) => {
      const { model, version } = nameVersion(req);
      sendJson(reply, svc.modelMetadata(model, version));
    },
  }, isLabel);
  modelRoute(app, '/ready', {
    GET: (req, reply) => {
      const { model, version } = nameVersion(req);
      if (svc.modelReady(model, version)) reply.code(200).send();
      else sendJson(reply, { error: 'Model version not ready' }, 400);
    },
  }, isLabel);
  modelRoute(app, '/config', {
    GET: (req, reply) => {
      const { model, version } = nameVersion(req);
      // Lossless: uint64 fields beyond 2^53 (bigints) are written as exact JSON integers.
      reply.code(200).header('content-type', 'application/json').send(stringifyLosslessJson(modelConfigToJson(svc.modelConfig(model, version))));
    },
  }, isLabel);
  const stats: Handler = (req, reply) => {
    const { model, version } = nameVersion(req);
    sendJson(reply, { model_stats: svc.modelStatistics(model, version).map(statsJson) });
  };
  route(app, '/v2/models/stats', { GET: stats });
  modelRoute(app, '/stats', { GET: stats }, isLabel);
  modelRoute(app, '/infer', { POST: (req, reply) => handleInfer(svc, req, reply, o.log) }, isLabel, 'infer');
  modelRoute(app, '/generate', { POST: (req, reply) => handleGenerate(svc, req, reply, o, false) }, isLabel, 'json');
  modelRoute(app, '/generate_stream', { POST: (req, reply) => handleGenerate(svc, req, reply, o, true) }, isLabel, 'json');
}

/** Field order of the gRPC ModelStatistics message, with its always-empty response_stats (and Infera's `shadow` and `on_demand_wait`, when present). */
function statsJson(s: ModelStatistics): Record<string, unknown> {
  return {
    name: s.name, version: s.version, last_inference: s.last_inference, inference_count: s.inference_count,
    execution_count: s.execution_count, inference_stats: s.inference_stats, batch_stats: s.batch_stats,
    memory_usage: s.memory_usage, response_stats: {}, ...(s.shadow === undefined ? {} : { shadow: s.shadow }),
    ...(s.on_demand_wait === undefined ? {} : { on_demand_wait: s.on_demand_wait }),
  };
}

function registerRepositoryRoutes(app: FastifyInstance, svc: InferenceService): void {
  const index: Handler = (req, reply) => {
    const body = optionalJsonBody(req, 'the repository index request');
    const ready = body['ready'] ?? false;
    if (typeof ready !== 'boolean') throw errors.invalidArg(`'ready' of the repository index request must be a boolean`);
    const entries = svc.repositoryIndex(ready).map((e) => ({
      name: e.name,
      ...(e.version === '' ? {} : { version: e.version }),
      state: e.state,
      ...(e.reason === '' ? {} : { reason: e.reason }),
    }));
    sendJson(reply, entries);
  };
  route(app, '/v2/repository/index', { POST: index });
  route(app, '/v2/repository/:repo/index', { POST: index });
  const control = (action: 'load' | 'unload'): Handler => async (req, reply) => {
    const body = optionalJsonBody(req, `the repository ${action} request`);
    const repo = (req.params as Params)['repo'];
    if (repo !== undefined) throw errors.unsupported(`repository '${repo}' in the path is not supported: Infera serves one merged repository namespace`);
    const { model } = nameVersion(req);
    if (action === 'load') await svc.loadModel(model, loadParameters(body));
    else await svc.unloadModel(model, unloadDependents(body));
    reply.code(200).send();
  };
  for (const action of ['load', 'unload'] as const) {
    route(app, `/v2/repository/models/:model/${action}`, { POST: control(action) });
    route(app, `/v2/repository/:repo/models/:model/${action}`, { POST: control(action) });
  }
}
