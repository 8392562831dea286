/**
 * A ModelStreamInfer test client over grpc-js: write requests, await responses by id, await the
 * server's end of the stream.
 */
import { Metadata, type ClientDuplexStream, type ServiceError } from '@grpc/grpc-js';
import type { GRPCInferenceServiceClient } from '../../src/generated/inference/GRPCInferenceService.js';
import type { ModelInferRequest } from '../../src/generated/inference/ModelInferRequest.js';
import type { ModelStreamInferResponse__Output } from '../../src/generated/inference/ModelStreamInferResponse.js';

export class StreamClient {
  readonly call: ClientDuplexStream<ModelInferRequest, ModelStreamInferResponse__Output>;
  /** Every message received, in arrival order. */
  readonly received: ModelStreamInferResponse__Output[] = [];
  /** Resolves with the stream's final status (null = OK) once the server ended it. */
  readonly closed: Promise<ServiceError | null>;
  readonly #waiters = new Map<string, (m: ModelStreamInferResponse__Output) => void>();

  constructor(client: GRPCInferenceServiceClient, metadata: Record<string, string> = {}) {
    const md = new Metadata();
    for (const [k, v] of Object.entries(metadata)) md.set(k, v);
    this.call = client.ModelStreamInfer(md);
    this.call.on('data', (m: ModelStreamInferResponse__Output) => {
      this.received.push(m);
      const id = m.infer_response?.id ?? '';
      const w = this.#waiters.get(id);
      if (w !== undefined) {
        this.#waiters.delete(id);
        w(m);
      }
    });
    this.closed = new Promise((resolve) => {
      this.call.on('error', (e: ServiceError) => resolve(e));
      this.call.on('end', () => resolve(null));
    });
  }

  /** Writes `req` and resolves with the first response carrying its id (ids must be unique). */
  infer(req: ModelInferRequest): Promise<ModelStreamInferResponse__Output> {
    const id = req.id ?? '';
    const seen = this.received.find((m) => (m.infer_response?.id ?? '') === id);
    const p = seen !== undefined ? Promise.resolve(seen) : new Promise<ModelStreamInferResponse__Output>((resolve) => this.#waiters.set(id, resolve));
    this.call.write(req);
    return p;
  }

  end(): Promise<ServiceError | null> {
    this.call.end();
    return this.closed;
  }
}

export function int32(values: readonly number[]): Buffer {
  return Buffer.from(new Int32Array(values).buffer);
}

export function readInt32(b: Buffer | Uint8Array): number[] {
  return [...new Int32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength))];
}

export function readFloat32(b: Buffer | Uint8Array): number[] {
  return [...new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength))];
}
