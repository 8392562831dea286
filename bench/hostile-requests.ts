/**
 * `node dist/bench/hostile-requests.js`: the requests of issue #20's parts 1–2 (and a big binary
 * tensor served over HTTP), each sent once to a real server in a child process (the bundled repository plus an `identity_fp32` model with a
 * dynamic shape), while a prober asks GET /v2/health/live every 10 ms on a keep-alive connection.
 * A second prober loop sends a small gRPC ModelInfer for `simple` every 10 ms (the issue's target:
 * it answers in < 100 ms while any attack is in flight). For each attack it prints how the server
 * answered, how long that took, the worst latency of each probe while the attack was in flight
 * (the event loop's responsiveness), and the server's peak RSS growth during it (VmHWM, reset per
 * attack through /proc/<pid>/clear_refs on Linux).
 *
 * gRPC attacks are written as raw HTTP/2 frames (node:http2), so the wire bytes are exactly the
 * hostile ones, compression flag included. BENCH_BIG_MIB (default 256) sizes the big tensors;
 * the issue's figures used 1024 (refused) and 512 (served). BENCH_ONLY=<substring> runs a subset,
 * BENCH_SKIP=<substring> leaves attacks out, BENCH_GRPC_MAX_INPUT=<bytes> passes --grpc-max-input-size,
 * BENCH_SERVER_NODE_ARGS="--cpu-prof --cpu-prof-dir=…" gives the server's node flags (to profile it).
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import http2 from 'node:http2';
import { tmpdir } from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { findPackageRoot } from '../src/util/package-root.js';
import { startChild, type Child } from './child-process.js';

const ROOT = findPackageRoot();
const BIG_MIB = Number(process.env['BENCH_BIG_MIB'] ?? 256);
/** Within the default --http-max-input-size of 64 MiB, with room for the JSON header. */
const HTTP_BIG_MIB = 48;
const ONLY = process.env['BENCH_ONLY'] ?? '';
const SKIP = process.env['BENCH_SKIP'];

interface Outcome {
  answer: string;
  ms: number;
}

interface Row extends Outcome {
  attack: string;
  worstProbeMs: number;
  /** Probes answered while the attack was in flight. */
  probes: number;
  /** The same for the gRPC ModelInfer 'simple' probe. */
  worstSimpleMs: number;
  simples: number;
  peakRssMiB: number;
}

// ---- wire helpers ------------------------------------------------------------------------------

function varint(n: number): Buffer {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
  return Buffer.from(out);
}
const lenField = (field: number, body: Buffer): Buffer => Buffer.concat([varint((field << 3) | 2), varint(body.length), body]);
const str = (field: number, s: string): Buffer => lenField(field, Buffer.from(s));
/** `n` copies of an empty length-delimited field: 2 bytes each. */
const emptyRepeats = (field: number, n: number): Buffer => Buffer.alloc(2 * n, Buffer.from([(field << 3) | 2, 0]));

function tensor(name: string, datatype: string, shape: number[]): Buffer {
  const dims = Buffer.concat(shape.map(varint));
  return Buffer.concat([str(1, name), str(2, datatype), lenField(3, dims)]);
}

function grpcCall(session: http2.ClientHttp2Session, method: string, message: Buffer, gzip = false): Promise<Outcome> {
  const started = performance.now();
  return new Promise((resolve) => {
    const headers: http2.OutgoingHttpHeaders = {
      ':method': 'POST', ':path': `/inference.GRPCInferenceService/${method}`, 'content-type': 'application/grpc', te: 'trailers',
    };
    if (gzip) headers['grpc-encoding'] = 'gzip';
    const s = session.request(headers);
    let grpcStatus = '';
    let grpcMessage = '';
    const take = (h: http2.IncomingHttpHeaders): void => {
      if (h['grpc-status'] !== undefined) grpcStatus = String(h['grpc-status']);
      if (h['grpc-message'] !== undefined) grpcMessage = decodeURIComponent(String(h['grpc-message']));
    };
    s.on('response', take);
    s.on('trailers', take);
    s.on('data', () => undefined);
    const done = (): void => resolve({ answer: `grpc-status ${grpcStatus || '?'} ${grpcMessage.slice(0, 90)}`, ms: performance.now() - started });
    s.on('close', done);
    s.on('error', () => undefined);
    const prefix = Buffer.alloc(5);
    prefix.writeUInt8(gzip ? 1 : 0, 0);
    prefix.writeUInt32BE(message.length, 1);
    s.write(prefix);
    s.end(message);
  });
}

/**
 * Resolves once the answer has arrived and the client has sent (or stopped sending) its whole body,
 * so the probes also cover a refused body's remainder that the server reads and drops; `ms` is
 * the time to the answer.
 */
function httpInfer(port: number, model: string, body: Buffer, headers: Record<string, string> = {}): Promise<Outcome> {
  const started = performance.now();
  return new Promise((resolve) => {
    let outcome: Outcome | undefined;
    let sent = false;
    const settle = (): void => {
      if (outcome !== undefined && sent) resolve(outcome);
    };
    const req = request({ host: '127.0.0.1', port, method: 'POST', path: `/v2/models/${model}/infer`, headers: { 'content-length': String(body.length), ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        outcome ??= { answer: `${res.statusCode} ${Buffer.concat(chunks).toString().slice(0, 90)}`, ms: performance.now() - started };
        settle();
      });
    });
    req.on('error', (e) => {
      outcome ??= { answer: `error ${e.message}`, ms: performance.now() - started };
      sent = true;
      settle();
    });
    req.on('finish', () => {
      sent = true;
      settle();
    });
    req.end(body);
  });
}

function grpcSend(session: http2.ClientHttp2Session, message: Buffer, gzip = false): () => Promise<Outcome> {
  return () => grpcCall(session, 'ModelInfer', message, gzip);
}
function httpSend(port: number, body: Buffer, headers: Record<string, string> = {}, model = 'simple'): () => Promise<Outcome> {
  return () => httpInfer(port, model, body, headers);
}

/** An /infer request for identity_fp32 with one binary FP32 input of `bytes` bytes (and a binary output). */
function httpBinaryIdentity(port: number, bytes: number): () => Promise<Outcome> {
  const header = Buffer.from(JSON.stringify({
    inputs: [{ name: 'IN', datatype: 'FP32', shape: [1, bytes / 4], parameters: { binary_data_size: bytes } }],
    outputs: [{ name: 'OUT', parameters: { binary_data: true } }],
  }));
  return httpSend(port, Buffer.concat([header, Buffer.alloc(bytes)]), { 'inference-header-content-length': String(header.length) }, 'identity_fp32');
}

// ---- measurement -------------------------------------------------------------------------------

/**
 * The prober runs in its own process, so the bench's own work (building and writing hundreds of
 * MB of payload, its GC) never shows up as server latency. It prints its worst latency when its
 * stdin closes.
 */
const PROBE = `
const http = require('node:http');
const http2 = require('node:http2');
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
let worst = 0, n = 0, worstSimple = 0, nSimple = 0, running = true, said = false;
const ready = () => { if (!said && n > 0 && nSimple > 0) { said = true; process.stdout.write('ready\\n'); } };
const tick = () => {
  if (!running) return;
  const t0 = performance.now();
  const req = http.request({ host: '127.0.0.1', port: Number(process.argv[1]), path: '/v2/health/live', agent }, (res) => {
    res.resume();
    res.on('end', () => { if (n++ > 0) worst = Math.max(worst, performance.now() - t0); ready(); setTimeout(tick, 10); });
  });
  req.on('error', () => setTimeout(tick, 10));
  req.end();
};
// The issue's target: a small gRPC ModelInfer for 'simple' (two 1x16 INT32 inputs) while an attack is in flight.
const session = http2.connect('http://127.0.0.1:' + process.argv[2]);
session.on('error', () => undefined);
const simple = Buffer.from(process.argv[3], 'base64');
const tickSimple = () => {
  if (!running) return;
  const t0 = performance.now();
  const s = session.request({ ':method': 'POST', ':path': '/inference.GRPCInferenceService/ModelInfer', 'content-type': 'application/grpc', te: 'trailers' });
  s.on('data', () => undefined);
  s.on('error', () => undefined);
  s.on('close', () => { if (nSimple++ > 0) worstSimple = Math.max(worstSimple, performance.now() - t0); ready(); setTimeout(tickSimple, 10); });
  s.end(simple);
};
tick();
tickSimple();
process.stdin.resume();
process.stdin.on('end', () => { running = false; process.stdout.write([worst, n, worstSimple, nSimple].join(' ')); process.exit(0); });
`;

/** The framed ModelInfer request the prober sends for 'simple'. */
function simpleFrame(): Buffer {
  const input = (name: string): Buffer => lenField(5, tensor(name, 'INT32', [1, 16]));
  const message = Buffer.concat([str(1, 'simple'), input('INPUT0'), input('INPUT1'), lenField(7, Buffer.alloc(64, 1)), lenField(7, Buffer.alloc(64, 2))]);
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(message.length, 1);
  return Buffer.concat([prefix, message]);
}

/** Starts the prober and resolves once it has had its first answer (a warm connection). */
async function startProbe(port: number, grpcPort: number): Promise<{ stop(): Promise<{ worst: number; probes: number; worstSimple: number; simples: number }> }> {
  const p = spawn(process.execPath, ['-e', PROBE, String(port), String(grpcPort), simpleFrame().toString('base64')], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  await new Promise<void>((resolve) => {
    p.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.startsWith('ready\n')) resolve();
    });
  });
  return {
    stop: () => new Promise((resolve) => {
      p.on('exit', () => {
        const [worst = '0', probes = '0', worstSimple = '0', simples = '0'] = out.slice('ready\n'.length).split(' ');
        resolve({ worst: Number(worst), probes: Number(probes) - 1, worstSimple: Number(worstSimple), simples: Number(simples) - 1 });
      });
      p.stdin.end();
    }),
  };
}

function hwmKiB(pid: number): number {
  const m = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m === null ? 0 : Number(m[1]);
}
function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m === null ? 0 : Number(m[1]);
}

/** `prepare` builds the payload before the probe starts, so building it never counts as server time. */
async function measure(child: Child, httpPort: number, grpcPort: number, attack: string, prepare: () => () => Promise<Outcome>): Promise<Row> {
  const pid = child.proc.pid!;
  const run = prepare();
  writeFileSync(`/proc/${pid}/clear_refs`, '5');
  const base = rssKiB(pid);
  const probe = await startProbe(httpPort, grpcPort);
  const outcome = await run();
  await new Promise((r) => setTimeout(r, 50));
  const { worst: worstProbeMs, probes, worstSimple: worstSimpleMs, simples } = await probe.stop();
  let peak = 0;
  try {
    peak = (hwmKiB(pid) - base) / 1024;
  } catch {
    outcome.answer += ' (server process gone)';
  }
  return { attack, ...outcome, worstProbeMs, probes, worstSimpleMs, simples, peakRssMiB: peak };
}

// ---- the attacks -------------------------------------------------------------------------------

function repository(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'infera-hostile-'));
  cpSync(path.join(ROOT, 'model-repository', 'simple'), path.join(dir, 'simple'), { recursive: true });
  mkdirSync(path.join(dir, 'identity_fp32', '1'), { recursive: true });
  cpSync(path.join(ROOT, 'test', 'fixtures', 'models', 'identity_fp32.onnx'), path.join(dir, 'identity_fp32', '1', 'model.onnx'));
  writeFileSync(path.join(dir, 'identity_fp32', 'config.pbtxt'), [
    'platform: "onnxruntime_onnx"', 'max_batch_size: 1',
    'input [ { name: "IN" data_type: TYPE_FP32 dims: [ -1 ] } ]',
    'output [ { name: "OUT" data_type: TYPE_FP32 dims: [ -1 ] } ]',
  ].join('\n'));
  return dir;
}

async function main(): Promise<void> {
  const repo = repository();
  const child = await startChild(
    [...(process.env['BENCH_SERVER_NODE_ARGS']?.split(' ').filter(Boolean) ?? []), path.join(ROOT, 'dist', 'src', 'main.js'), `--model-repository=${repo}`, ...(process.env['BENCH_GRPC_MAX_INPUT'] ? [`--grpc-max-input-size=${process.env['BENCH_GRPC_MAX_INPUT']}`] : []), '--grpc-port=0', '--http-port=0', '--allow-metrics=false', '--log-format=json', '--log-info=true'],
    (rec) => rec['msg'] === 'startup complete',
  );
  const grpcPort = child.info['grpcPort'] as number;
  const httpPort = child.info['httpPort'] as number;
  const session = http2.connect(`http://127.0.0.1:${grpcPort}`);
  session.on('error', () => undefined);
  const name = str(1, 'simple');
  const bigBytes = BIG_MIB * 1024 * 1024;
  const attacks: [string, () => () => Promise<Outcome>][] = [
    ['gRPC 5 M empty raw_input_contents (9.5 MB)', () => grpcSend(session, Buffer.concat([name, emptyRepeats(7, 5_000_000)]))],
    ['gRPC 3 M empty inputs (5.7 MB)', () => grpcSend(session, Buffer.concat([name, emptyRepeats(5, 3_000_000)]))],
    ['gRPC 30 M empty raw_input_contents, gzip (57 KiB)', () => grpcSend(session, zlib.gzipSync(Buffer.concat([name, emptyRepeats(7, 30_000_000)])), true)],
    ['gRPC gzip bomb: 1 MiB → 1 GiB of zeros', () => grpcSend(session, zlib.gzipSync(Buffer.alloc(1024 ** 3), { level: 9 }), true)],
    ['gRPC gzip bomb: 510 KiB → 512 MiB of zeros', () => grpcSend(session, zlib.gzipSync(Buffer.alloc(512 * 1024 ** 2), { level: 9 }), true)],
    ['gRPC gzip bomb behind a valid header: simple + 1 GiB raw_input_contents of zeros', () => grpcSend(session, zlib.gzipSync(Buffer.concat([
      name, lenField(5, tensor('INPUT0', 'INT32', [1, 16])), lenField(5, tensor('INPUT1', 'INT32', [1, 16])),
      varint((7 << 3) | 2), varint(1024 ** 3), Buffer.alloc(1024 ** 3),
    ]), { level: 9 }), true)],
    [`gRPC ${BIG_MIB} MiB tensor for simple (refused)`, () => grpcSend(session, Buffer.concat([
      name, lenField(5, tensor('INPUT0', 'INT32', [1, 16])), lenField(5, tensor('INPUT1', 'INT32', [1, 16])),
      lenField(7, Buffer.alloc(bigBytes)), lenField(7, Buffer.alloc(64)),
    ]))],
    [`gRPC ${BIG_MIB} MiB tensor for identity_fp32 (served)`, () => grpcSend(session, Buffer.concat([
      str(1, 'identity_fp32'), lenField(5, tensor('IN', 'FP32', [1, bigBytes / 4])), lenField(7, Buffer.alloc(bigBytes)),
    ]))],
    ['HTTP JSON header of 43 MB {"inputs":[{},{},…]}', () => httpSend(httpPort, Buffer.from(`{"inputs":[${'{},'.repeat(14_300_000)}{}]}`))],
    ['HTTP JSON header of 43 MB [[],[],…]', () => httpSend(httpPort, Buffer.from(`[${'[],'.repeat(14_300_000)}[]]`))],
    ['HTTP JSON 5 M levels of nesting', () => httpSend(httpPort, Buffer.from(`${'['.repeat(5_000_000)}${']'.repeat(5_000_000)}`))],
    [`HTTP ${HTTP_BIG_MIB} MiB binary tensor for identity_fp32 (served)`, () => httpBinaryIdentity(httpPort, HTTP_BIG_MIB * 1024 * 1024)],
    ['HTTP gzip bomb: 64 MiB of zeros', () => httpSend(httpPort, zlib.gzipSync(Buffer.alloc(64 * 1024 ** 2)), { 'content-encoding': 'gzip' })],
  ];
  const rows: Row[] = [];
  for (const [attack, run] of attacks) {
    if (!attack.includes(ONLY) || (SKIP !== undefined && attack.includes(SKIP))) continue;
    const row = await measure(child, httpPort, grpcPort, attack, run);
    rows.push(row);
    process.stderr.write(`${attack}: ${row.answer} (${row.ms.toFixed(0)} ms)\n`);
    if (child.proc.exitCode !== null) break;
  }
  session.close();
  console.log('| attack | answer | answered in | worst concurrent probe (probes) | worst concurrent gRPC simple (calls) | peak RSS growth |');
  console.log('|---|---|---:|---:|---:|---:|');
  for (const r of rows) {
    console.log(`| ${r.attack} | ${r.answer.replace(/\|/g, '\\|').replace(/\n/g, ' ')} | ${r.ms.toFixed(0)} ms | ${r.worstProbeMs.toFixed(0)} ms (${r.probes}) | ${r.worstSimpleMs.toFixed(0)} ms (${r.simples}) | ${r.peakRssMiB.toFixed(0)} MiB |`);
  }
  await child.stop();
  rmSync(repo, { recursive: true, force: true });
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
