/**
 * POST /v2/models/{m}[/versions/{v}]/generate and …/generate_stream (Triton's generate extension;
 * the JSON mapping is generate-convert.ts). The body is decoded (Content-Encoding), bounded and
 * pre-scanned like an /infer header as it arrives (body-reader.ts), then run through the core's 0..N response path:
 * - generate answers the one response as JSON (compressed per Accept-Encoding). A model that
 *   answers other than exactly once is INVALID_ARG with Triton's message pointing to
 *   generate_stream; its request is stopped at the second response.
 * - generate_stream answers each response as one server-sent event (event-stream.ts); the stream
 *   ending is the end of the request (Triton adds no final marker here, and neither do we).
 * Errors before the first response are plain `{"error": …}` with the mapped status; after it,
 * an event `data: {"error": …}` ends the stream (Triton's convention for generate_stream).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { InferenceService } from '../../core/inference-service.js';
import type { InferenceResponse } from '../../core/inference-request.js';
import { errors, modelRef } from '../../errors/catalogue.js';
import { parseRequestJson } from './http-convert.js';
import { generateResponseText, toGenerateRequest } from './generate-convert.js';
import { cancelOnDisconnect } from './client-disconnect.js';
import { streamResponses } from './event-stream.js';
import { traceContextOf } from './http-settings.js';
import { sendAnswer } from './infer-handler.js';

/** What a generate body is called in errors (the body reader's scan and the parser use the same words). */
export function generateWhat(model: string, version: string): string {
  return `the generate request for ${modelRef(model, version)}`;
}

export interface GenerateOptions {
  log: Logger;
}

export async function handleGenerate(
  svc: InferenceService, req: FastifyRequest, reply: FastifyReply, o: GenerateOptions, streaming: boolean,
): Promise<void> {
  const p = req.params as Record<string, string | undefined>;
  const model = p['model'] ?? '';
  const version = p['version'] ?? '';
  const where = modelRef(model, version);
  const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0); // decoded and scanned (body-reader.ts, kind 'json')
  const json = parseRequestJson(body, generateWhat(model, version), true);
  const request = toGenerateRequest(json, svc.modelMetadata(model, version), model, version);
  const tc = traceContextOf(req);
  if (tc !== undefined) request.traceContext = tc;
  if (streaming) {
    await streamResponses(svc, request, reply, (r) => (r === undefined ? undefined : generateResponseText(r)), o.log, 'POST /generate_stream');
    return;
  }
  const ac = cancelOnDisconnect(reply, model, version);
  request.cancellation = ac;
  const notOne = () => errors.invalidArg(
    `generate expects ${where} to produce exactly 1 response, use generate_stream for a model that generates a varying number of responses`,
  );
  let first: InferenceResponse | undefined;
  let count = 0;
  try {
    await svc.inferStream(request, {
      accepted: () => {},
      send: (r) => {
        if (r === undefined) return;
        if (++count === 1) first = r;
        else if (count === 2) ac.cancel(notOne());
      },
    });
  } catch (e) {
    if (count < 2) throw e;
  }
  if (count !== 1 || first === undefined) throw notOne();
  reply.header('content-type', 'application/json');
  await sendAnswer(req, reply, [Buffer.from(generateResponseText(first), 'utf8')]);
}
