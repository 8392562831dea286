/**
 * The streaming and sequence rows of `npm run bench` (issue 11), on the closed-loop generator:
 * - stream: `concurrency` callers share ONE ModelStreamInfer stream, each with one request
 *   outstanding (matched by id), against unary ModelInfer at the same concurrency;
 * - sequence: `sequences` callers each run sequences of `length` requests (START … END) on a
 *   sequence model over unary ModelInfer, so the sequence batcher forms batches across them.
 * Requests are pre-serialized; stream responses are decoded only to read their id.
 */
import { Client, credentials, type ClientDuplexStream, type ServiceError } from '@grpc/grpc-js';
import { loadInferenceProtos } from '../src/frontends/grpc/proto-loader.js';
import type { ModelInferRequest } from '../src/generated/inference/ModelInferRequest.js';
import type { ModelStreamInferResponse__Output } from '../src/generated/inference/ModelStreamInferResponse.js';
import { closedLoop, type LoadResult, type LoopOptions } from './load-generator.js';

const identity = (b: Buffer) => b;

interface Codec {
  requestSerialize(m: object): Buffer;
  responseDeserialize(b: Buffer): object;
}

function codec(rpc: 'ModelInfer' | 'ModelStreamInfer'): Codec {
  const def = loadInferenceProtos().packageDefinition['inference.GRPCInferenceService'] as unknown as Record<string, Codec>;
  return def[rpc]!;
}

/** One stream shared by every caller; `request` is the message without its id. */
export async function runStreamLoad(target: string, request: ModelInferRequest, o: LoopOptions): Promise<LoadResult> {
  const c = codec('ModelStreamInfer');
  const client = new Client(target, credentials.createInsecure(), { 'grpc.max_receive_message_length': -1 });
  const stream: ClientDuplexStream<Buffer, Buffer> = client.makeBidiStreamRequest('/inference.GRPCInferenceService/ModelStreamInfer', identity, identity);
  const waiting = new Map<string, (ok: boolean) => void>();
  stream.on('data', (b: Buffer) => {
    const m = c.responseDeserialize(b) as ModelStreamInferResponse__Output;
    const id = m.infer_response?.id ?? '';
    waiting.get(id)?.(m.error_message === '');
    waiting.delete(id);
  });
  stream.on('error', () => undefined);
  const perWorker = Array.from({ length: o.concurrency }, (_, i) => c.requestSerialize({ ...request, id: `w${i}` }));
  try {
    return await closedLoop(o, (i) => new Promise<boolean>((resolve) => {
      waiting.set(`w${i}`, resolve);
      stream.write(perWorker[i]!);
    }));
  } finally {
    stream.end();
    client.close();
  }
}

/**
 * `o.concurrency` callers, each running sequences of `length` requests back to back; every call of
 * a sequence is one timed request. `request(id, value, start, end)` builds a step.
 */
export async function runSequenceLoad(
  target: string,
  length: number,
  request: (id: number, value: number, start: boolean, end: boolean) => ModelInferRequest,
  o: LoopOptions,
): Promise<LoadResult> {
  const c = codec('ModelInfer');
  const clients = Array.from({ length: Math.min(4, o.concurrency) }, () => new Client(target, credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 }));
  const state = Array.from({ length: o.concurrency }, (_, i) => ({ id: 1 + i, step: 0 }));
  let nextId = o.concurrency + 1;
  try {
    return await closedLoop(o, (i) => new Promise<boolean>((resolve) => {
      const s = state[i]!;
      const body = c.requestSerialize(request(s.id, s.step + 1, s.step === 0, s.step === length - 1));
      clients[i % clients.length]!.makeUnaryRequest('/inference.GRPCInferenceService/ModelInfer', identity, identity, body, (err: ServiceError | null) => {
        if (++s.step === length) {
          s.step = 0;
          s.id = nextId++;
        }
        resolve(err === null);
      });
    }));
  } finally {
    for (const cl of clients) cl.close();
  }
}
