/**
 * A request's Cancellation tied to its HTTP connection: it cancels with CANCELLED when the
 * connection closes before the response was completely written (the client went away), so queued
 * work leaves its queue and a streaming model stops being asked for more. The caller may cancel it
 * for its own reasons too (generate's "more than one response").
 */
import type { FastifyReply } from 'fastify';
import { Cancellation } from '../../core/cancellation.js';
import { errors } from '../../errors/catalogue.js';

export function cancelOnDisconnect(reply: FastifyReply, model: string, version: string): Cancellation {
  const c = new Cancellation();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) c.cancel(errors.cancelled(model, version));
  });
  return c;
}
