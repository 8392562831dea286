/**
 * The native load generator: h2load (Debian nghttp2-client) sending one prepared gRPC frame
 * (5-byte length prefix + serialized request) over HTTP/2 at a fixed number of streams in flight,
 * so the generator is not the bottleneck (a grpc-js client tops out near 2.7k calls/s on 2
 * cores). Latency percentiles come from h2load's per-request log; the server's CPU comes from
 * /proc/<pid>/stat (all its threads, workers included) over the measured window.
 *
 * h2load counts a request as succeeded on HTTP status 200, but gRPC reports errors in trailers
 * with status 200: callers check one real call with a gRPC client before trusting the figures
 * (see run-bench.ts, `verifyOnce`).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { percentile, type LoadResult } from './load-generator.js';

/** Native tools the bench needs, with how to install the missing ones; throws when any is missing. */
export function requireNativeTools(tools: readonly string[] = ['h2load']): void {
  const missing = tools.filter((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0);
  if (missing.length === 0) return;
  const pkgs = missing.map((t) => (t === 'h2load' ? 'nghttp2-client' : t));
  throw new Error(`npm run bench needs ${missing.join(', ')} (a native load generator, so the bench measures the server and not its client). ` +
    `Install: apt-get update && apt-get install -y ${pkgs.join(' ')}  (macOS: brew install nghttp2 wrk)`);
}

/** The gRPC length-prefixed frame of one uncompressed message. */
export function grpcFrame(message: Buffer): Buffer {
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt32BE(message.length, 1);
  message.copy(frame, 5);
  return frame;
}

/** utime + stime of a process (all threads), in µs. */
export function processCpuUs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / 100;
}

export interface NativeLoadResult extends LoadResult {
  /** Server CPU per completed request, µs (undefined without a pid). */
  cpuUsPerRequest?: number;
  requests: number;
}

export interface H2loadOptions {
  /** host:port */
  target: string;
  /** e.g. /inference.GRPCInferenceService/ModelInfer */
  path: string;
  /** Serialized request message (framed here). */
  request: Buffer;
  concurrency: number;
  seconds: number;
  warmupSeconds?: number;
  /** Server pid for CPU accounting. */
  serverPid?: number;
}

/** One h2load run: one connection, `concurrency` streams in flight (as one grpc-js channel). */
export async function runH2load(o: H2loadOptions): Promise<NativeLoadResult> {
  const dir = mkdtempSync(path.join(tmpdir(), 'infera-h2load-'));
  try {
    const framePath = path.join(dir, 'frame.bin');
    const logPath = path.join(dir, 'log.tsv');
    writeFileSync(framePath, grpcFrame(o.request));
    const warm = o.warmupSeconds ?? 0.5;
    const args = ['-c', '1', '-t', '1', '-m', String(o.concurrency), '-D', `${Math.round(o.seconds * 1000)}ms`, '--warm-up-time', `${Math.round(warm * 1000)}ms`,
      '-d', framePath, '-H', 'content-type: application/grpc', '-H', 'te: trailers', '--log-file', logPath, `http://${o.target}${o.path}`];
    const proc = spawn('h2load', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    proc.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    proc.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    // CPU is sampled over the main duration only: h2load's warm-up comes first.
    let cpu0 = 0;
    const cpuStart = new Promise<void>((r) => setTimeout(() => { if (o.serverPid !== undefined) cpu0 = processCpuUs(o.serverPid); r(); }, warm * 1000));
    const code = await new Promise<number>((r) => proc.on('exit', (c) => r(c ?? 1)));
    await cpuStart;
    const cpu1 = o.serverPid !== undefined ? processCpuUs(o.serverPid) : 0;
    if (code !== 0) throw new Error(`h2load exited ${code}: ${out.slice(-2000)}`);
    const rps = /finished in [\d.]+\w*, ([\d.]+) req\/s/.exec(out);
    const reqs = /requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored/.exec(out);
    if (!rps || !reqs) throw new Error(`unexpected h2load output: ${out.slice(-2000)}`);
    const lat = readFileSync(logPath, 'utf8').split('\n').filter((l) => l !== '').map((l) => Number(l.split('\t')[2])).sort((a, b) => a - b);
    const succeeded = Number(reqs[3]);
    // h2load exits 0 when it could not connect at all: a run with no answers is an error, not a 0.
    if (succeeded === 0) throw new Error(`h2load got no successful answer from ${o.target}${o.path}: ${out.slice(-2000)}`);
    return {
      throughput: Number(rps[1]),
      p50Us: percentile(lat, 50),
      p90Us: percentile(lat, 90),
      p95Us: percentile(lat, 95),
      p99Us: percentile(lat, 99),
      meanUs: lat.reduce((s, x) => s + x, 0) / Math.max(1, lat.length),
      windows: 1,
      stable: true,
      errors: Number(reqs[4]) + Number(reqs[5]),
      requests: succeeded,
      ...(o.serverPid !== undefined ? { cpuUsPerRequest: (cpu1 - cpu0) / Math.max(1, succeeded) } : {}),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
