/**
 * POST /v2/models/{m}[/versions/{v}]/infer: decode the body (Content-Encoding), split the JSON
 * header from the binary tensors, convert, run, and answer JSON or JSON + binary outputs,
 * compressed per Accept-Encoding. A client that disconnects before the answer cancels the
 * request (queued work leaves the queue).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { InferenceService } from '../../core/inference-service.js';
import { errors, modelRef } from '../../errors/catalogue.js';
import { decodeBody, encodeBody, HEADER_LENGTH_HEADER, pickEncoding, splitInferBody } from './http-body.js';
import { binarySelector, parseRequestJson, toHttpInferResponse, toInferenceRequest, type HttpInferRequest } from './http-convert.js';
import { rawBinaryRequest } from './raw-binary-request.js';
import { traceContextOf } from './http-settings.js';
import { Cancellation } from '../../core/cancellation.js';

function header(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}

/** Cancelled with CANCELLED when the connection closes before the response was written. */
function disconnectCancellation(reply: FastifyReply, model: string, version: string): Cancellation {
  const c = new Cancellation();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) c.cancel(errors.cancelled(model, version));
  });
  return c;
}

export async function handleInfer(svc: InferenceService, req: FastifyRequest, reply: FastifyReply, maxInputBytes: number): Promise<void> {
  const p = req.params as Record<string, string | undefined>;
  const model = p['model'] ?? '';
  const version = p['version'] ?? '';
  const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
  const body = await decodeBody(raw, header(req, 'content-encoding'), maxInputBytes);
  const split = splitInferBody(body, header(req, HEADER_LENGTH_HEADER), modelRef(model, version));
  let parsed: HttpInferRequest;
  if (split.header === undefined) {
    const batching = (svc.modelConfig(model, version).max_batch_size ?? 0) > 0;
    parsed = rawBinaryRequest(svc.modelMetadata(model, version), batching, split.binary, version);
  } else {
    const json = parseRequestJson(split.header, `the inference request header for ${modelRef(model, version)}`);
    parsed = toInferenceRequest(json, split.binary, model, version);
  }
  parsed.request.cancellation = disconnectCancellation(reply, model, version);
  const tc = traceContextOf(req);
  if (tc !== undefined) parsed.request.traceContext = tc;
  const res = toHttpInferResponse(await svc.infer(parsed.request), binarySelector(parsed.binary));
  let out = res.binary.length === 0 ? res.json : Buffer.concat([res.json, ...res.binary]);
  if (res.binary.length > 0) {
    reply.header('content-type', 'application/octet-stream').header('Inference-Header-Content-Length', String(res.json.byteLength));
  } else {
    reply.header('content-type', 'application/json');
  }
  const encoding = pickEncoding(header(req, 'accept-encoding'));
  if (encoding !== undefined) {
    out = await encodeBody(out, encoding);
    reply.header('content-encoding', encoding);
  }
  reply.code(200).send(out);
}
