/**
 * `node dist/bench/http-protocols.js`: the bundled `simple` model (batch 1, two INT32[16] inputs)
 * over HTTP with JSON tensors, HTTP with binary tensors, and gRPC, at concurrency 1 and 16, for
 * BENCH_SECONDS (default 5) each after a 1 s warm-up. Prints a markdown table.
 *
 * The server runs in a child process (as a user would run it); the clients run here, closed-loop:
 * each of the c callers keeps one request outstanding over its own keep-alive connection. Every
 * client decodes what it receives (JSON.parse of the JSON or the binary header), as a real
 * client must, and the first response of each run is checked for the right sums.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client, credentials, type ServiceError } from '@grpc/grpc-js';
import { findPackageRoot } from '../src/util/package-root.js';
import { loadInferenceProtos } from '../src/frontends/grpc/proto-loader.js';
import { startChild } from './child-process.js';
import { percentile } from './load-generator.js';

const ROOT = findPackageRoot();
const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 5);
const A = Array.from({ length: 16 }, (_, i) => i);
const B = Array.from({ length: 16 }, () => 1);
const SUM = A.map((x, i) => x + B[i]!);

type Send = (done: (ok: boolean, verify: () => number[]) => void) => void;

interface Result {
  protocol: string;
  concurrency: number;
  throughput: number;
  p50Us: number;
  p99Us: number;
  errors: number;
}

function i32(v: number[]): Buffer {
  return Buffer.from(new Int32Array(v).buffer);
}

function httpSender(port: number, agent: Agent, body: Buffer, headers: Record<string, string>): Send {
  return (done) => {
    const req = request({ host: '127.0.0.1', port, path: '/v2/models/simple/infer', method: 'POST', agent, headers: { ...headers, 'content-length': String(body.length) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const all = Buffer.concat(chunks);
        const hl = res.headers['inference-header-content-length'];
        const jsonLen = hl === undefined ? all.length : Number(hl);
        const header = JSON.parse(all.subarray(0, jsonLen).toString()) as { outputs: { name: string; data?: number[] }[] };
        done(res.statusCode === 200, () => {
          const o = header.outputs.find((x) => x.name === 'OUTPUT0')!;
          if (o.data !== undefined) return o.data;
          return [...new Int32Array(all.buffer.slice(all.byteOffset + jsonLen, all.byteOffset + jsonLen + 64))];
        });
      });
    });
    req.on('error', () => done(false, () => []));
    req.end(body);
  };
}

function grpcSender(client: Client, requestBytes: Buffer, decode: (b: Buffer) => { raw_output_contents: Buffer[] }): Send {
  return (done) => {
    client.makeUnaryRequest('/inference.GRPCInferenceService/ModelInfer', (b: Buffer) => b, (b: Buffer) => b, requestBytes, (err: ServiceError | null, res?: Buffer) => {
      done(err === null, () => {
        const raw = decode(res!).raw_output_contents[0]!;
        return [...new Int32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength))];
      });
    });
  };
}

async function measure(protocol: string, concurrency: number, senders: Send[]): Promise<Result> {
  let recording: number[] | undefined;
  let errors = 0;
  let stop = false;
  let verified = false;
  const once = (send: Send) => new Promise<void>((resolve) => {
    const t0 = process.hrtime.bigint();
    send((ok, verify) => {
      const us = Number(process.hrtime.bigint() - t0) / 1000;
      if (!ok) errors++;
      else if (!verified) {
        if (JSON.stringify(verify()) !== JSON.stringify(SUM)) throw new Error(`${protocol}: wrong OUTPUT0 ${JSON.stringify(verify())}`);
        verified = true;
      }
      if (ok && recording !== undefined) recording.push(us);
      resolve();
    });
  });
  const loops = senders.map(async (s) => {
    while (!stop) await once(s);
  });
  await new Promise((r) => setTimeout(r, 1000));
  recording = [];
  const t0 = process.hrtime.bigint();
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const lat = recording.sort((a, b) => a - b);
  recording = undefined;
  stop = true;
  await Promise.all(loops);
  return { protocol, concurrency, throughput: lat.length / secs, p50Us: percentile(lat, 50), p99Us: percentile(lat, 99), errors };
}

async function main(): Promise<void> {
  const repo = mkdtempSync(path.join(tmpdir(), 'infera-bench-http-'));
  cpSync(path.join(ROOT, 'model-repository', 'simple'), path.join(repo, 'simple'), { recursive: true });
  const child = await startChild(
    [path.join(ROOT, 'dist', 'src', 'main.js'), '--model-repository', repo, '--grpc-port', '0', '--http-port', '0', '--metrics-port', '0',
      '--grpc-address', '127.0.0.1', '--http-address', '127.0.0.1', '--metrics-address', '127.0.0.1', '--log-format', 'json'],
    (r) => r['msg'] === 'startup complete',
  );
  const httpPort = child.info['httpPort'] as number;
  const grpcPort = child.info['grpcPort'] as number;
  const jsonBody = Buffer.from(JSON.stringify({ inputs: [
    { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: A }, { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: B }] }));
  const binHeader = Buffer.from(JSON.stringify({
    inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 16], parameters: { binary_data_size: 64 } }, { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], parameters: { binary_data_size: 64 } }],
    outputs: [{ name: 'OUTPUT0', parameters: { binary_data: true } }, { name: 'OUTPUT1', parameters: { binary_data: true } }],
  }));
  const binBody = Buffer.concat([binHeader, i32(A), i32(B)]);
  const { packageDefinition } = loadInferenceProtos();
  const rpc = (packageDefinition['inference.GRPCInferenceService'] as unknown as Record<string, { requestSerialize: (m: object) => Buffer; responseDeserialize: (b: Buffer) => { raw_output_contents: Buffer[] } }>)['ModelInfer']!;
  const grpcRequest = rpc.requestSerialize({ model_name: 'simple', inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 16] }, { name: 'INPUT1', datatype: 'INT32', shape: [1, 16] }], raw_input_contents: [i32(A), i32(B)] });
  const results: Result[] = [];
  try {
    for (const c of [1, 16]) {
      const agent = new Agent({ keepAlive: true, maxSockets: c });
      results.push(await measure('HTTP JSON', c, Array.from({ length: c }, () => httpSender(httpPort, agent, jsonBody, {}))));
      results.push(await measure('HTTP binary', c, Array.from({ length: c }, () => httpSender(httpPort, agent, binBody, { 'inference-header-content-length': String(binHeader.length) }))));
      agent.destroy();
      const clients = Array.from({ length: Math.min(4, c) }, () => new Client(`127.0.0.1:${grpcPort}`, credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 }));
      results.push(await measure('gRPC', c, Array.from({ length: c }, (_, i) => grpcSender(clients[i % clients.length]!, grpcRequest, rpc.responseDeserialize))));
      for (const cl of clients) cl.close();
    }
  } finally {
    await child.stop();
    rmSync(repo, { recursive: true, force: true });
  }
  console.log(`\n\`simple\` (batch 1, 2 × INT32[16]), ${SECONDS} s per row, server in a child process, closed-loop clients here\n`);
  console.log('| protocol | c | infer/s | p50 (ms) | p99 (ms) | errors |');
  console.log('|---|---:|---:|---:|---:|---:|');
  for (const r of results) {
    console.log(`| ${r.protocol} | ${r.concurrency} | ${r.throughput.toFixed(0)} | ${(r.p50Us / 1000).toFixed(2)} | ${(r.p99Us / 1000).toFixed(2)} | ${r.errors} |`);
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
