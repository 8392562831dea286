/**
 * The gRPC listener: inference.GRPCInferenceService + grpc.health.v1.Health over @grpc/grpc-js,
 * with Triton's message size limits (INT32_MAX both ways, not grpc-js's 4 MiB default) unless
 * --grpc-max-input-size lowers the receive limit. grpc-js applies that limit to the declared
 * length of a message before reading it; a compressed one is inflated by bounded-inflate.ts, which
 * applies it to the inflated size and scans the bytes as they inflate, so a gzip bomb is refused
 * after its first chunk. A big message is assembled without holding its HTTP/2 frames
 * (message-reader.ts), and ModelInfer and ModelStreamInfer responses are written as their head
 * followed by the outputs' own bytes, never copied into an encoded message (framed-responses.ts).
 */
import { Server, ServerCredentials } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { InferenceService } from '../../core/inference-service.js';
import { loadInferenceProtos } from './proto-loader.js';
import { healthHandlers, inferenceHandlers } from './inference-handlers.js';
import { withBoundedRequests } from './bounded-deserialize.js';
import { installBoundedInflate } from './bounded-inflate.js';
import { installFramedResponses, withFramedResponses } from './framed-responses.js';
import { installMessageReader } from './message-reader.js';

/** Triton's MAX_GRPC_MESSAGE_SIZE. */
export const MAX_GRPC_MESSAGE_BYTES = 2_147_483_647;

export class GrpcFrontend {
  readonly #server: Server;
  #port = 0;

  private constructor(server: Server) {
    this.#server = server;
  }

  static create(svc: InferenceService, log: Logger, o: { maxInputBytes?: number } = {}): GrpcFrontend {
    installBoundedInflate();
    installFramedResponses();
    installMessageReader();
    const protos = loadInferenceProtos();
    const server = new Server({
      'grpc.max_receive_message_length': o.maxInputBytes ?? MAX_GRPC_MESSAGE_BYTES,
      'grpc.max_send_message_length': MAX_GRPC_MESSAGE_BYTES,
    });
    const glog = log.child({ frontend: 'grpc' });
    // Every request is scanned against REQUEST_LIMITS before it is decoded (bounded-deserialize.ts).
    // Inference responses are written without copying their outputs (framed-responses.ts).
    server.addService(withFramedResponses(withBoundedRequests(protos.inference, 'inference.GRPCInferenceService')), inferenceHandlers(svc, glog));
    server.addService(withBoundedRequests(protos.health, 'grpc.health.v1.Health'), healthHandlers(svc, glog));
    return new GrpcFrontend(server);
  }

  /** Binds `host:port` (port 0 = any free port) and resolves with the bound port. */
  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const addr = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
      this.#server.bindAsync(addr, ServerCredentials.createInsecure(), (err, bound) => {
        if (err !== null) reject(err);
        else resolve((this.#port = bound));
      });
    });
  }

  get port(): number {
    return this.#port;
  }

  /**
   * Stops accepting calls and waits up to `timeoutMs` for running calls to finish; after that,
   * cancels what is left. Resolves when the listener is closed.
   */
  close(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.#server.forceShutdown(), Math.max(0, timeoutMs));
      this.#server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
