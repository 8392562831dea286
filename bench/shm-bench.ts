/**
 * `node dist/bench/shm-bench.js`: what system shared memory saves against sending the same
 * tensors in the request. An FP32 identity model ([1, n]) serves 64 KiB, 1 MiB and 16 MiB tensors
 * over gRPC (raw_input_contents / raw_output_contents) and over HTTP (binary tensors), each both
 * in the request and through shm regions (input read from one region, output written into
 * another, no tensor bytes on the wire). Sequential requests (c=1); mean and p50 latency per
 * request, the client's encode/decode included, as a client pays it. Prints a markdown table.
 *
 * The server runs in a child process with --allow-client-shm=true; the regions are /dev/shm files
 * created here. BENCH_SHM_ITERATIONS scales the request counts (default 1).
 */
import { closeSync, ftruncateSync, mkdtempSync, openSync, rmSync, writeFileSync, mkdirSync, cpSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { credentials } from '@grpc/grpc-js';
import { findPackageRoot } from '../src/util/package-root.js';
import { loadInferenceProtos } from '../src/frontends/grpc/proto-loader.js';
import type { GRPCInferenceServiceClient } from '../src/generated/inference/GRPCInferenceService.js';
import type { ModelInferRequest } from '../src/generated/inference/ModelInferRequest.js';
import { startChild } from './child-process.js';
import { percentile } from './load-generator.js';

const ROOT = findPackageRoot();
const SCALE = Number(process.env['BENCH_SHM_ITERATIONS'] ?? 1);
const SIZES: [string, number, number][] = [['64 KiB', 64 << 10, 200], ['1 MiB', 1 << 20, 100], ['16 MiB', 16 << 20, 15]];
const tag = `infera-shm-bench-${process.pid}`;

function buildRepo(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'infera-shm-bench-'));
  mkdirSync(path.join(dir, 'id_fp32', '1'), { recursive: true });
  cpSync(path.join(ROOT, 'test', 'fixtures', 'models', 'identity_fp32.onnx'), path.join(dir, 'id_fp32', '1', 'model.onnx'));
  writeFileSync(path.join(dir, 'id_fp32', 'config.pbtxt'), `
platform: "onnxruntime_onnx"
max_batch_size: 1
input [ { name: "IN" data_type: TYPE_FP32 dims: [ -1 ] } ]
output [ { name: "OUT" data_type: TYPE_FP32 dims: [ -1 ] } ]
instance_group [ { count: 1 kind: KIND_CPU } ]
`);
  return dir;
}

function shmFile(name: string, bytes: number): string {
  const fd = openSync(`/dev/shm/${tag}-${name}`, 'w');
  ftruncateSync(fd, bytes);
  closeSync(fd);
  return `/${tag}-${name}`;
}

const unary = <Req, Res>(fn: (r: Req, cb: (e: Error | null, res?: Res) => void) => unknown, r: Req) =>
  new Promise<Res>((resolve, reject) => fn(r, (e, res) => (e ? reject(e) : resolve(res as Res))));

async function timed(n: number, once: () => Promise<void>): Promise<{ meanMs: number; p50Ms: number }> {
  for (let i = 0; i < Math.min(5, n); i++) await once(); // warm-up
  const us: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    await once();
    us.push(Number(process.hrtime.bigint() - t) / 1000);
  }
  us.sort((a, b) => a - b);
  return { meanMs: us.reduce((a, b) => a + b, 0) / us.length / 1000, p50Ms: percentile(us, 0.5) / 1000 };
}

function httpPost(port: number, agent: Agent, body: Buffer, headers: Record<string, string>): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/v2/models/id_fp32/infer', method: 'POST', agent, headers: { ...headers, 'content-length': String(body.length) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => (res.statusCode === 200 ? resolve(Buffer.concat(chunks)) : reject(new Error(`HTTP ${res.statusCode}: ${Buffer.concat(chunks).toString()}`))));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function httpBody(header: unknown, tensor?: Buffer): { body: Buffer; headers: Record<string, string> } {
  const json = Buffer.from(JSON.stringify(header));
  return { body: tensor === undefined ? json : Buffer.concat([json, tensor]), headers: { 'inference-header-content-length': String(json.length) } };
}

async function main(): Promise<void> {
  const repo = buildRepo();
  const child = await startChild(
    [path.join(ROOT, 'dist', 'src', 'main.js'), '--model-repository', repo, '--grpc-port', '0', '--grpc-address', '127.0.0.1', '--http-port', '0',
      '--http-address', '127.0.0.1', '--allow-metrics=false', '--allow-client-shm=true', '--log-format', 'json'],
    (r) => r['msg'] === 'startup complete',
  );
  const { grpcObject } = loadInferenceProtos();
  const client: GRPCInferenceServiceClient = new grpcObject.inference.GRPCInferenceService(
    `127.0.0.1:${child.info['grpcPort'] as number}`, credentials.createInsecure(), { 'grpc.max_receive_message_length': -1, 'grpc.max_send_message_length': -1 },
  );
  const httpPort = child.info['httpPort'] as number;
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const rows: string[] = [];
  try {
    for (const [label, bytes, count] of SIZES) {
      const n = Math.max(3, Math.round(count * SCALE));
      const tensor = Buffer.alloc(bytes, 7);
      const shape = [1, bytes / 4];
      await unary(client.SystemSharedMemoryRegister.bind(client), { name: 'in', key: shmFile('in', bytes), offset: 0, byte_size: bytes });
      await unary(client.SystemSharedMemoryRegister.bind(client), { name: 'out', key: shmFile('out', bytes), offset: 0, byte_size: bytes });
      const shmParams = (region: string) => ({ shared_memory_region: { string_param: region }, shared_memory_byte_size: { int64_param: bytes } });
      const inRequest: ModelInferRequest = { model_name: 'id_fp32', inputs: [{ name: 'IN', datatype: 'FP32', shape }], raw_input_contents: [tensor] };
      const viaShm: ModelInferRequest = {
        model_name: 'id_fp32', inputs: [{ name: 'IN', datatype: 'FP32', shape, parameters: shmParams('in') }], outputs: [{ name: 'OUT', parameters: shmParams('out') }],
      };
      const g1 = await timed(n, async () => void (await unary(client.ModelInfer.bind(client), inRequest)));
      const g2 = await timed(n, async () => void (await unary(client.ModelInfer.bind(client), viaShm)));
      const hb = httpBody({ inputs: [{ name: 'IN', datatype: 'FP32', shape, parameters: { binary_data_size: bytes } }], outputs: [{ name: 'OUT', parameters: { binary_data: true } }] }, tensor);
      const hs = httpBody({
        inputs: [{ name: 'IN', datatype: 'FP32', shape, parameters: { shared_memory_region: 'in', shared_memory_byte_size: bytes } }],
        outputs: [{ name: 'OUT', parameters: { shared_memory_region: 'out', shared_memory_byte_size: bytes } }],
      });
      const h1 = await timed(n, async () => void (await httpPost(httpPort, agent, hb.body, hb.headers)));
      const h2 = await timed(n, async () => void (await httpPost(httpPort, agent, hs.body, hs.headers)));
      await unary(client.SystemSharedMemoryUnregister.bind(client), { name: '' });
      const f = (x: { meanMs: number; p50Ms: number }) => `${x.meanMs.toFixed(2)} / ${x.p50Ms.toFixed(2)}`;
      rows.push(`| ${label} | ${n} | ${f(g1)} | ${f(g2)} | ${(g1.p50Ms / g2.p50Ms).toFixed(1)}× | ${f(h1)} | ${f(h2)} | ${(h1.p50Ms / h2.p50Ms).toFixed(1)}× |`);
    }
  } finally {
    client.close();
    agent.destroy();
    await child.stop();
    rmSync(repo, { recursive: true, force: true });
    for (const f of ['in', 'out']) rmSync(`/dev/shm/${tag}-${f}`, { force: true });
  }
  console.log('| tensor (in + out) | requests | gRPC in request, mean / p50 ms | gRPC shm | p50 gain | HTTP binary | HTTP shm | p50 gain |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const r of rows) console.log(r);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
