/**
 * Frees big input buffers in a worker thread as soon as a runner is done with them, instead of
 * whenever the worker next collects garbage. A worker that ran one big request allocates nothing
 * afterwards, so its garbage collector may not run for a long time, and the request's bytes (a
 * whole received gRPC message, core/detachable.ts) stayed resident while the main thread built
 * the response: one more copy of the tensor at the peak.
 *
 * Node 20 has no ArrayBuffer.prototype.transfer, so a buffer is released by transferring it into
 * a MessageChannel that is closed at once: the backing store moves to the discarded message and is
 * freed with it, without a GC. Only in a worker thread (there, a runner's inputs are its own, by
 * the Runner contract in worker-messages.ts), only buffers of at least 1 MiB (smaller ones are
 * cheaper to leave to the GC), and each buffer once (two inputs may share one).
 */
import { isMainThread, MessageChannel } from 'node:worker_threads';

const MIN_BYTES = 1 << 20;

/** Releases the ArrayBuffers under `views` (see above); the views read as empty afterwards. */
export function releaseBuffers(views: readonly Uint8Array[]): void {
  if (isMainThread) return;
  const buffers = new Set<ArrayBuffer>();
  for (const v of views) {
    if (v.buffer instanceof ArrayBuffer && v.buffer.byteLength >= MIN_BYTES) buffers.add(v.buffer);
  }
  if (buffers.size === 0) return;
  const { port1, port2 } = new MessageChannel();
  port1.postMessage(null, [...buffers]);
  port1.close();
  port2.close();
}
