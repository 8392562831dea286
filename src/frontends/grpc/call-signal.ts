/**
 * Turns a gRPC call's cancellation (client cancel or deadline) into the core's AbortSignal, whose
 * reason is the InferenceError the request should fail with if it is still queued.
 */
import type { ServerUnaryCall } from '@grpc/grpc-js';
import { errors } from '../../errors/catalogue.js';

export function callSignal(
  call: ServerUnaryCall<unknown, unknown>,
  model: string,
  version: string,
): { signal: AbortSignal; dispose: () => void } {
  const ac = new AbortController();
  const onCancel = () => {
    const deadline = call.getDeadline();
    const ms = deadline instanceof Date ? deadline.getTime() : deadline;
    const expired = Number.isFinite(ms) && Date.now() >= ms;
    ac.abort(expired ? errors.deadlineExceeded(model, version) : errors.cancelled(model, version));
  };
  call.once('cancelled', onCancel);
  return { signal: ac.signal, dispose: () => call.removeListener('cancelled', onCancel) };
}
