/**
 * The native HTTP/1.1 load generator: wrk (Debian `wrk`) POSTing one prepared KServe v2 JSON
 * infer body on `concurrency` keep-alive connections (one request in flight on each), so the
 * HTTP rows, like the gRPC ones (h2load.ts), measure the server and not a Node client.
 *
 * wrk has no per-request log: its own `done` hook (Lua, below) prints the request count, the
 * error counts and the latency percentiles as one JSON line. Unlike gRPC over h2load, an HTTP
 * failure is a real status, which wrk counts (non-2xx/3xx) and this reports as errors; callers
 * still make one real request first so a wrong URL fails loudly (run-bench.ts, verifyHttpOnce).
 * A warm-up run precedes the measured one; the server's CPU (/proc, every thread) is sampled over
 * the measured run only.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { processCpuUs, type NativeLoadResult } from './h2load.js';

export interface WrkOptions {
  /** http://host:port/path */
  url: string;
  /** Request body (POST). */
  body: string;
  contentType: string;
  /** Connections, one request in flight on each. */
  concurrency: number;
  seconds: number;
  warmupSeconds?: number;
  /** Server pid for CPU accounting. */
  serverPid?: number;
}

const SCRIPT = `
local f = assert(io.open(os.getenv("INFERA_WRK_BODY"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = os.getenv("INFERA_WRK_CONTENT_TYPE")
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('INFERA_WRK {"requests":%d,"durationUs":%d,"status":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d,"p50":%d,"p90":%d,"p95":%d,"p99":%d,"mean":%f}\\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(95), latency:percentile(99), latency.mean))
end
`;

interface WrkSummary {
  requests: number; durationUs: number; status: number; connect: number; read: number; write: number; timeout: number;
  p50: number; p90: number; p95: number; p99: number; mean: number;
}

async function wrkOnce(dir: string, o: WrkOptions, seconds: number): Promise<WrkSummary> {
  const args = ['-t', '1', '-c', String(o.concurrency), '-d', `${Math.max(1, Math.round(seconds))}s`, '--timeout', '10s', '-s', path.join(dir, 'post.lua'), o.url];
  const proc = spawn('wrk', args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, INFERA_WRK_BODY: path.join(dir, 'body'), INFERA_WRK_CONTENT_TYPE: o.contentType },
  });
  let out = '';
  proc.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  proc.stderr.on('data', (d: Buffer) => { out += d.toString(); });
  const code = await new Promise<number>((r) => proc.on('exit', (c) => r(c ?? 1)));
  const line = /INFERA_WRK (\{.*\})/.exec(out);
  if (code !== 0 || !line) throw new Error(`wrk exited ${code}: ${out.slice(-2000)}`);
  return JSON.parse(line[1]!) as WrkSummary;
}

/** One warm-up and one measured wrk run against `o.url`. */
export async function runWrk(o: WrkOptions): Promise<NativeLoadResult> {
  const dir = mkdtempSync(path.join(tmpdir(), 'infera-wrk-'));
  try {
    writeFileSync(path.join(dir, 'post.lua'), SCRIPT);
    writeFileSync(path.join(dir, 'body'), o.body);
    const warm = o.warmupSeconds ?? 1; // wrk takes whole seconds
    if (warm > 0) await wrkOnce(dir, o, warm);
    const cpu0 = o.serverPid !== undefined ? processCpuUs(o.serverPid) : 0;
    const s = await wrkOnce(dir, o, o.seconds);
    const cpu1 = o.serverPid !== undefined ? processCpuUs(o.serverPid) : 0;
    const errors = s.status + s.connect + s.read + s.write + s.timeout;
    const succeeded = s.requests - s.status - s.timeout;
    // wrk exits 0 when nothing answered (every connect refused): that is an error, not a 0.
    if (succeeded <= 0) throw new Error(`wrk got no successful answer from ${o.url}: ${JSON.stringify(s)}`);
    return {
      throughput: succeeded / (s.durationUs / 1e6),
      p50Us: s.p50,
      p90Us: s.p90,
      p95Us: s.p95,
      p99Us: s.p99,
      meanUs: s.mean,
      windows: 1,
      stable: true,
      errors,
      requests: succeeded,
      ...(o.serverPid !== undefined ? { cpuUsPerRequest: (cpu1 - cpu0) / Math.max(1, succeeded) } : {}),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
