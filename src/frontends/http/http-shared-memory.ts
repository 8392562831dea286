/**
 * The shared-memory routes (PROTOCOL.md §6.1): `/v2/systemsharedmemory[/region/{r}]/{status,register,
 * unregister}` and the `/v2/cudasharedmemory` twins, translated onto the core's registries. Status
 * answers a JSON array; register takes `{"key": str, "offset": n, "byte_size": n}` (system) or
 * `{"raw_handle": {"b64": str}, "device_id": n, "byte_size": n}` (CUDA; always UNSUPPORTED here).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { InferenceService } from '../../core/inference-service.js';
import { errors } from '../../errors/catalogue.js';
import { optionalJsonBody, route, sendJson } from './routes.js';

type Params = Record<string, string | undefined>;

function region(req: FastifyRequest): string {
  return (req.params as Params)['region'] ?? '';
}

function uintField(body: Record<string, unknown>, key: string, what: string, fallback?: number): number {
  const v = body[key] ?? fallback;
  const n = typeof v === 'bigint' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) throw errors.invalidArg(`'${key}' of ${what} must be an unsigned integer`);
  return n;
}

export function registerSharedMemoryRoutes(app: FastifyInstance, svc: InferenceService): void {
  const systemStatus = (req: FastifyRequest, reply: FastifyReply) =>
    void sendJson(reply, svc.systemShm.status(region(req)).map((r) => ({ name: r.name, key: r.key, offset: r.offset, byte_size: r.byteSize })));
  route(app, '/v2/systemsharedmemory/status', { GET: systemStatus });
  route(app, '/v2/systemsharedmemory/region/:region/status', { GET: systemStatus });
  route(app, '/v2/systemsharedmemory/region/:region/register', {
    POST: (req, reply) => {
      const name = region(req);
      const what = `the register request for shared memory region '${name}'`;
      const body = optionalJsonBody(req, what);
      const key = body['key'];
      if (typeof key !== 'string') throw errors.invalidArg(`'key' of ${what} must be a string`);
      svc.systemShm.register(name, key, uintField(body, 'offset', what, 0), uintField(body, 'byte_size', what));
      reply.code(200).send();
    },
  });
  const systemUnregister = (req: FastifyRequest, reply: FastifyReply) => {
    svc.systemShm.unregister(region(req));
    reply.code(200).send();
  };
  route(app, '/v2/systemsharedmemory/unregister', { POST: systemUnregister });
  route(app, '/v2/systemsharedmemory/region/:region/unregister', { POST: systemUnregister });

  const cudaStatus = (req: FastifyRequest, reply: FastifyReply) =>
    void sendJson(reply, svc.cudaShm.status(region(req)).map((r) => ({ name: r.name, device_id: r.deviceId, byte_size: r.byteSize })));
  route(app, '/v2/cudasharedmemory/status', { GET: cudaStatus });
  route(app, '/v2/cudasharedmemory/region/:region/status', { GET: cudaStatus });
  route(app, '/v2/cudasharedmemory/region/:region/register', { POST: (req) => svc.cudaShm.register(region(req)) });
  const cudaUnregister = (req: FastifyRequest, reply: FastifyReply) => {
    svc.cudaShm.unregister(region(req));
    reply.code(200).send();
  };
  route(app, '/v2/cudasharedmemory/unregister', { POST: cudaUnregister });
  route(app, '/v2/cudasharedmemory/region/:region/unregister', { POST: cudaUnregister });
}
