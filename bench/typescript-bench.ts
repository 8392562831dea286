/**
 * The TypeScript-backend rows of `npm run bench` (issue 12):
 * - an empty TS model (identity on [1,16] INT32) against the same identity in ONNX, same config
 *   (max_batch_size 8, dynamic batching, 1 instance), driven by h2load in run-bench.ts;
 * - the bundled decoupled repeat_int32 over ONE ModelStreamInfer stream: `inflight` requests of
 *   `n` elements (no delays) kept outstanding, counting responses per second. The grpc-js client
 *   decodes every response, so the row is client-bound.
 */
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Client, credentials, type ClientDuplexStream } from '@grpc/grpc-js';
import { loadInferenceProtos } from '../src/frontends/grpc/proto-loader.js';
import type { ModelStreamInferResponse__Output } from '../src/generated/inference/ModelStreamInferResponse.js';
import type { LoadResult } from './load-generator.js';

const IDENTITY_TS = `export default class Identity {
  execute(requests) { return requests.map((r) => ({ outputs: { OUT: r.inputs.get('IN') } })); }
}
`;

function identityConfig(name: string, backend: 'typescript' | 'onnxruntime'): string {
  return `name: "${name}"
backend: "${backend}"
max_batch_size: 8
input [ { name: "IN" data_type: TYPE_INT32 dims: [ 16 ] } ]
output [ { name: "OUT" data_type: TYPE_INT32 dims: [ 16 ] } ]
instance_group [ { count: 1 kind: KIND_CPU } ]
dynamic_batching { }
`;
}

/** Adds ts_identity, onnx_identity and the bundled repeat_int32 to the bench repository `dir`. */
export async function addTypescriptModels(dir: string, root: string): Promise<void> {
  const fixtures = (await import(pathToFileURL(path.join(root, 'scripts', 'fixture-models.mjs')).href)) as { buildIdentity(dt: string): Uint8Array };
  const add = (name: string, config: string, file: string, data: string | Uint8Array) => {
    mkdirSync(path.join(dir, name, '1'), { recursive: true });
    writeFileSync(path.join(dir, name, 'config.pbtxt'), config);
    writeFileSync(path.join(dir, name, '1', file), data);
  };
  add('ts_identity', `${identityConfig('ts_identity', 'typescript')}default_model_filename: "model.mjs"\n`, 'model.mjs', IDENTITY_TS);
  add('onnx_identity', identityConfig('onnx_identity', 'onnxruntime'), 'model.onnx', fixtures.buildIdentity('INT32'));
  cpSync(path.join(root, 'model-repository', 'repeat_int32'), path.join(dir, 'repeat_int32'), { recursive: true });
}

export interface RepeatLoad {
  /** Responses per second (not counting final flags). */
  responsesPerSec: number;
  /** Requests completed per second (each answered `n` times). */
  requestsPerSec: number;
  /** p50 / p99 of a whole request (first write to final response), µs. */
  result: LoadResult;
}

/** repeat_int32 over one stream for `seconds`: `inflight` requests of `n` elements outstanding. */
export async function runRepeatLoad(target: string, o: { n: number; inflight: number; seconds: number }): Promise<RepeatLoad> {
  const def = loadInferenceProtos().packageDefinition['inference.GRPCInferenceService'] as unknown as
    Record<string, { requestSerialize(m: object): Buffer; responseDeserialize(b: Buffer): object }>;
  const c = def['ModelStreamInfer']!;
  const client = new Client(target, credentials.createInsecure(), { 'grpc.max_receive_message_length': -1 });
  const stream: ClientDuplexStream<Buffer, Buffer> = client.makeBidiStreamRequest('/inference.GRPCInferenceService/ModelStreamInfer', (b: Buffer) => b, (b: Buffer) => b);
  const body = (id: string) => c.requestSerialize({
    id, model_name: 'repeat_int32',
    inputs: [{ name: 'IN', datatype: 'INT32', shape: [o.n] }, { name: 'DELAY', datatype: 'UINT32', shape: [o.n] }, { name: 'WAIT', datatype: 'UINT32', shape: [1] }],
    raw_input_contents: [Buffer.from(Int32Array.from({ length: o.n }, (_, i) => i).buffer), Buffer.alloc(4 * o.n), Buffer.alloc(4)],
    parameters: { triton_enable_empty_final_response: { bool_param: true } },
  });
  const started = new Map<string, bigint>();
  const latencies: number[] = [];
  let responses = 0;
  let errors = 0;
  let next = 0;
  let stopAt = 0n;
  let done: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => { done = resolve; });
  const send = () => {
    const id = `r${next++}`;
    started.set(id, process.hrtime.bigint());
    stream.write(body(id));
  };
  stream.on('data', (b: Buffer) => {
    const m = c.responseDeserialize(b) as ModelStreamInferResponse__Output;
    const id = m.infer_response?.id ?? '';
    if (m.error_message !== '') errors++;
    const final = m.error_message !== '' || m.infer_response?.parameters?.['triton_final_response']?.bool_param === true;
    if ((m.infer_response?.outputs.length ?? 0) > 0) responses++;
    if (!final) return;
    const t0 = started.get(id);
    started.delete(id);
    const now = process.hrtime.bigint();
    if (t0 !== undefined) latencies.push(Number(now - t0) / 1000);
    if (now < stopAt) send();
    else if (started.size === 0) done();
  });
  stream.on('error', () => done());
  const t0 = process.hrtime.bigint();
  stopAt = t0 + BigInt(Math.round(o.seconds * 1e9));
  for (let i = 0; i < o.inflight; i++) send();
  await finished;
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  stream.end();
  client.close();
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0;
  const result: LoadResult = {
    throughput: responses / secs, p50Us: pct(0.5), p90Us: pct(0.9), p95Us: pct(0.95), p99Us: pct(0.99),
    meanUs: latencies.reduce((a, b) => a + b, 0) / Math.max(1, latencies.length), windows: 1, stable: false, errors,
  };
  return { responsesPerSec: responses / secs, requestsPerSec: latencies.length / secs, result };
}
