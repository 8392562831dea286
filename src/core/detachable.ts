/**
 * Which tensor views a backend may detach, i.e. transfer their ArrayBuffer to a worker thread
 * instead of copying the bytes (worker-messages.ts), and which an ensemble must copy before handing
 * to one of several readers (ensemble-run.ts). Both ask `detachable()`, so they always agree.
 *
 * A view is detachable when it covers its whole (non-shared) ArrayBuffer, or when the code that
 * made the buffer has claimed it for that one view (`claimBuffer`): a received gRPC message whose
 * big tensor is most of it (grpc-convert.ts) is sent to the worker whole, the tensor's bytes with
 * a few bytes of protobuf around them, instead of being copied out of it.
 *
 * Invariant for a claim: once the view is handed to a backend, nothing reads any other view of
 * that buffer again (the claimer copies out whatever else it still needs first), and the bytes of
 * the buffer outside the view are no one's; a receiver may overwrite them (worker-messages.ts
 * moves a misaligned tensor down to an aligned offset in place). Claims are keyed weakly by the
 * buffer and name the claimed range, so a re-wrapped view of the same bytes still matches.
 */
const claims = new WeakMap<ArrayBuffer, { byteOffset: number; byteLength: number }>();

/** Claims `view.buffer` for `view` alone (see the invariant above); the buffer must be an ArrayBuffer. */
export function claimBuffer(view: Uint8Array): void {
  if (view.buffer instanceof ArrayBuffer) claims.set(view.buffer, { byteOffset: view.byteOffset, byteLength: view.byteLength });
}

/** True when `view` covers its whole ArrayBuffer. */
export function wholeBuffer(view: Uint8Array): boolean {
  return view.buffer instanceof ArrayBuffer && view.byteOffset === 0 && view.byteLength === view.buffer.byteLength;
}

/** True when `view`'s buffer was claimed for exactly this range. */
export function claimedView(view: Uint8Array): boolean {
  const c = view.buffer instanceof ArrayBuffer ? claims.get(view.buffer) : undefined;
  return c !== undefined && c.byteOffset === view.byteOffset && c.byteLength === view.byteLength;
}

/** A view a backend may take over by transferring its whole buffer. */
export function detachable(view: Uint8Array): boolean {
  return wholeBuffer(view) || claimedView(view);
}

/** A view at least this big, and over half of its buffer, claims the buffer (see claimLargest). */
export const CLAIM_MIN_BYTES = 1 << 20;

/**
 * `views` (a request's input tensors, in order), with its one view of at least 1 MiB that is over
 * half of its buffer claiming that buffer, and every other view of the same buffer copied out of
 * it (they are small: the claimed one is most of it), as the claim's invariant requires. The
 * received message or body is then sent to the worker whole instead of its big tensor being
 * copied out of it (a 48 MiB copy held the event loop ~170 ms: fresh pages are slow to touch).
 * Front-ends call this on what they received (grpc-convert.ts, http-convert.ts).
 */
export function claimLargest<T extends Uint8Array>(views: readonly T[], copy: (v: T) => T): T[] {
  const big = views.find((v) => v.byteLength >= CLAIM_MIN_BYTES && 2 * v.byteLength > v.buffer.byteLength);
  if (big === undefined) return views as T[];
  claimBuffer(big);
  return views.map((v) => (v !== big && v.buffer === big.buffer ? copy(v) : v));
}
