/**
 * A request's AbortController tied to its HTTP connection: it aborts with CANCELLED when the
 * connection closes before the response was completely written (the client went away), so queued
 * work leaves its queue and a streaming model stops being asked for more. The caller may abort it
 * for its own reasons too (the controller is returned, not only its signal).
 */
import type { FastifyReply } from 'fastify';
import { errors } from '../../errors/catalogue.js';

export function abortOnDisconnect(reply: FastifyReply, model: string, version: string): AbortController {
  const ac = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) ac.abort(errors.cancelled(model, version));
  });
  return ac;
}
