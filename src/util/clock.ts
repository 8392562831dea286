/**
 * Monotonic clock in nanoseconds as a JS number, on process.hrtime's scale (safe for ~104 days of
 * uptime differences; the same origin in every thread of the process, so stamps compare).
 *
 * Read as performance.now() plus a per-thread offset fixed at load, not Number(process.hrtime.bigint()):
 * the hot path reads the clock several times per request, and each bigint read allocated a heap
 * BigInt and took ~3× as long. performance.now() is the same monotonic clock at sub-µs resolution.
 */
const OFFSET_NS = hrtimeOffsetNs();

/**
 * hrtime − performance.now(), read between two performance.now() calls, best of a few tries. The
 * first performance.now() of a thread initialises it (milliseconds): reading the clocks once
 * each put the offset off by ~7 ms, which the wake thread, on hrtime, then saw as early wakes.
 */
function hrtimeOffsetNs(): number {
  performance.now();
  let best = Number.POSITIVE_INFINITY;
  let offset = 0;
  for (let i = 0; i < 5; i++) {
    const before = performance.now() * 1e6;
    const h = Number(process.hrtime.bigint());
    const after = performance.now() * 1e6;
    if (after - before < best) {
      best = after - before;
      offset = h - (before + after) / 2;
    }
  }
  return offset;
}

export function nowNs(): number {
  return performance.now() * 1e6 + OFFSET_NS;
}
