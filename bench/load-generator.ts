/**
 * A closed-loop load generator in the spirit of perf_analyzer: `concurrency` callers each keep
 * exactly one request outstanding; throughput and latency are measured over fixed windows that
 * repeat until throughput is stable (three consecutive windows within ±10%, as perf_analyzer's
 * default stability rule), or a maximum window count is reached.
 *
 * Requests are pre-serialized bytes sent through a grpc-js generic client with identity
 * (de)serializers, so the client-side cost is the same for every target (Infera or the bare echo
 * server) and mostly transport, as with perf_analyzer reusing one request.
 */
import { Client, credentials, type ServiceError } from '@grpc/grpc-js';

export interface LoadOptions {
  target: string;
  method: string;
  request: Buffer;
  concurrency: number;
  windowMs: number;
  maxWindows: number;
  /** Optional check of the first response (e.g. decode and compare). */
  verify?: (response: Buffer) => void;
}

export interface WindowResult {
  throughput: number;
  latenciesUs: number[];
}

export interface LoadResult {
  throughput: number;
  p50Us: number;
  p90Us: number;
  p95Us: number;
  p99Us: number;
  meanUs: number;
  windows: number;
  stable: boolean;
  errors: number;
}

const identity = (b: Buffer) => b;

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const clients = Array.from({ length: Math.min(4, o.concurrency) }, () =>
    new Client(o.target, credentials.createInsecure(), { 'grpc.max_receive_message_length': -1, 'grpc.use_local_subchannel_pool': 1 }));
  let verified = o.verify === undefined;
  const one = (worker: number) => new Promise<boolean>((resolve) => {
    clients[worker % clients.length]!.makeUnaryRequest(o.method, identity, identity, o.request, (err: ServiceError | null, res?: Buffer) => {
      if (err === null && !verified && res !== undefined) {
        o.verify!(res);
        verified = true;
      }
      resolve(err === null);
    });
  });
  try {
    return await closedLoop(o, one);
  } finally {
    for (const c of clients) c.close();
  }
}

export interface LoopOptions {
  concurrency: number;
  windowMs: number;
  maxWindows: number;
}

/**
 * `concurrency` callers, each with one call of `send(worker)` outstanding (true = success), timed
 * over windows until throughput is stable or maxWindows is reached.
 */
export async function closedLoop(o: LoopOptions, send: (worker: number) => Promise<boolean>): Promise<LoadResult> {
  let recording: number[] | undefined;
  let completed = 0;
  let errors = 0;
  let stop = false;
  const loops = Array.from({ length: o.concurrency }, async (_, i) => {
    while (!stop) {
      const t0 = process.hrtime.bigint();
      const ok = await send(i);
      const us = Number(process.hrtime.bigint() - t0) / 1000;
      if (!ok) errors++;
      else if (recording !== undefined) {
        recording.push(us);
        completed++;
      }
    }
  });
  await new Promise((r) => setTimeout(r, Math.min(1000, o.windowMs / 2))); // warm-up
  const windows: WindowResult[] = [];
  let stable = false;
  while (windows.length < o.maxWindows && !stable) {
    recording = [];
    completed = 0;
    const t0 = process.hrtime.bigint();
    await new Promise((r) => setTimeout(r, o.windowMs));
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    windows.push({ throughput: completed / secs, latenciesUs: recording });
    stable = isStable(windows);
  }
  recording = undefined;
  stop = true;
  await Promise.all(loops);
  const last = windows.slice(-3);
  const lat = last.flatMap((w) => w.latenciesUs).sort((a, b) => a - b);
  return {
    throughput: last.reduce((s, w) => s + w.throughput, 0) / last.length,
    p50Us: percentile(lat, 50),
    p90Us: percentile(lat, 90),
    p95Us: percentile(lat, 95),
    p99Us: percentile(lat, 99),
    meanUs: lat.reduce((s, x) => s + x, 0) / Math.max(1, lat.length),
    windows: windows.length,
    stable,
    errors,
  };
}

function isStable(w: WindowResult[]): boolean {
  if (w.length < 3) return false;
  const last = w.slice(-3).map((x) => x.throughput);
  const avg = last.reduce((a, b) => a + b, 0) / 3;
  return avg > 0 && last.every((t) => Math.abs(t - avg) / avg <= 0.1);
}
