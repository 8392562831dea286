/**
 * POST /v2/models/{m}[/versions/{v}]/infer: the body as body-reader.ts decoded it (Content-Encoding, the JSON header scanned), split the JSON
 * header from the binary tensors, convert, run, and answer JSON or JSON + binary outputs,
 * compressed per Accept-Encoding. A client that disconnects before the answer cancels the
 * request (queued work leaves the queue).
 *
 * With `Accept: text/event-stream` the request's responses (0..N, decoupled models) stream as
 * server-sent events instead (event-stream.ts): each event is one v2 response JSON whose
 * `parameters.triton_final_response` is false except on the last; when the model ends without a
 * last response, an empty one (no outputs) carries the flag, so a successful stream always ends
 * with exactly one event marked final. Events are text: every output is JSON `data` (or written
 * to its shared-memory region); asking for binary outputs is INVALID_ARG.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { InferenceService } from '../../core/inference-service.js';
import type { InferenceRequest } from '../../core/inference-request.js';
import { FINAL_RESPONSE_PARAM } from '../../core/response-stream.js';
import { clip, errors, modelRef } from '../../errors/catalogue.js';
import { encodeBody, encodeStream, HEADER_LENGTH_HEADER, pickEncoding, splitInferBody } from './http-body.js';
import {
  binarySelector, inferResponseText, parseRequestJson, toHttpInferResponse, toInferenceRequest,
  type HttpInferRequest, type OutputBinarySelection,
} from './http-convert.js';
import { cancelOnDisconnect } from './client-disconnect.js';
import { acceptsEventStream, streamResponses, type EventFormat } from './event-stream.js';
import { rawBinaryRequest } from './raw-binary-request.js';
import { traceContextOf } from './http-settings.js';

export function header(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}

/** What an /infer JSON header is called in errors (the body reader's scan and the parser use the same words). */
export function inferHeaderWhat(model: string, version: string): string {
  return `the inference request header for ${modelRef(model, version)}`;
}

/** `req.body` is the decoded body, its JSON header already scanned (body-reader.ts, kind 'infer'). */
export async function handleInfer(svc: InferenceService, req: FastifyRequest, reply: FastifyReply, log: Logger): Promise<void> {
  const p = req.params as Record<string, string | undefined>;
  const model = p['model'] ?? '';
  const version = p['version'] ?? '';
  const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
  const split = splitInferBody(body, header(req, HEADER_LENGTH_HEADER), modelRef(model, version));
  let parsed: HttpInferRequest;
  if (split.header === undefined) {
    const batching = (svc.modelConfig(model, version).max_batch_size ?? 0) > 0;
    parsed = rawBinaryRequest(svc.modelMetadata(model, version), batching, split.binary, version);
  } else {
    const json = parseRequestJson(split.header, inferHeaderWhat(model, version), true);
    parsed = toInferenceRequest(json, split.binary, model, version);
  }
  const tc = traceContextOf(req);
  if (tc !== undefined) parsed.request.traceContext = tc;
  if (acceptsEventStream(header(req, 'accept'))) {
    refuseBinaryOutputs(parsed.binary, split.header === undefined, modelRef(model, version));
    await streamResponses(svc, parsed.request, reply, inferEvents(parsed.request), log, 'POST /infer (text/event-stream)');
    return;
  }
  parsed.request.cancellation = cancelOnDisconnect(reply, model, version);
  const res = toHttpInferResponse(await svc.infer(parsed.request, 'HTTP end point'), binarySelector(parsed.binary));
  if (res.binary.length > 0) {
    reply.header('content-type', 'application/octet-stream').header('Inference-Header-Content-Length', String(res.json.byteLength));
  } else {
    reply.header('content-type', 'application/json');
  }
  await sendAnswer(req, reply, res.binary.length === 0 ? [res.json] : [res.json, ...res.binary]);
}

/** Answers of at least this many bytes are written part by part (a stream), not joined first. */
const STREAM_MIN_BYTES = 1 << 20;

/**
 * Answers 200 with the concatenation of `parts`, compressed as the request's Accept-Encoding asks
 * (the caller set content-type). A big answer (binary outputs) is never joined into one buffer:
 * its parts are written in turn, or through a zlib stream, since one copy of tens of MiB into
 * fresh memory held the event loop ~200 ms.
 */
export async function sendAnswer(req: FastifyRequest, reply: FastifyReply, parts: readonly Uint8Array[]): Promise<void> {
  const encoding = pickEncoding(header(req, 'accept-encoding'));
  if (encoding !== undefined) reply.header('content-encoding', encoding);
  let bytes = 0;
  for (const p of parts) bytes += p.length;
  if (bytes >= STREAM_MIN_BYTES) {
    if (encoding === undefined) reply.header('content-length', String(bytes));
    reply.code(200).send(encodeStream(parts, encoding));
    return;
  }
  const first = parts[0];
  const body = parts.length === 1 && Buffer.isBuffer(first) ? first : Buffer.concat(parts, bytes);
  reply.code(200).send(encoding === undefined ? body : await encodeBody(body, encoding));
}

/** A raw binary request's outputs default to binary only for lack of a JSON header to say otherwise: events carry them as JSON. */
function refuseBinaryOutputs(sel: OutputBinarySelection, rawRequest: boolean, where: string): void {
  if (sel.byDefault && !rawRequest) {
    throw errors.invalidArg(`'binary_data_output' cannot be used with Accept: text/event-stream, whose events carry JSON only (request to ${where})`);
  }
  for (const [name, binary] of sel.explicit) {
    if (binary) throw errors.invalidArg(`output '${clip(name)}' asks for binary_data, which Accept: text/event-stream cannot carry (request to ${where})`);
  }
}

const JSON_ONLY = (): boolean => false;

/** Each response as its v2 JSON with the final flag; an empty final (no response) as an output-less response. */
function inferEvents(req: InferenceRequest): EventFormat {
  let version = req.modelVersion;
  return (r, final) => {
    if (r === undefined) {
      if (!final) return undefined;
      return inferResponseText({ id: req.id, modelName: req.modelName, modelVersion: version, parameters: { [FINAL_RESPONSE_PARAM]: true }, outputs: [] }, JSON_ONLY, []);
    }
    version = r.modelVersion;
    return inferResponseText({ ...r, parameters: { ...r.parameters, [FINAL_RESPONSE_PARAM]: final } }, JSON_ONLY, []);
  };
}
