/**
 * InferenceClient: one typed API over both KServe v2 transports. The address picks the transport:
 * `http://…` or `https://…` speaks HTTP/REST, anything else (`host:port`, `dns:///host:port`) gRPC.
 * The methods, their arguments, results and errors are the same for both (transport.ts).
 *
 * The client holds one channel (gRPC) or no connection state (HTTP, fetch pools connections);
 * call close() when done. Methods may be called concurrently.
 */
import { ErrorCode } from '../errors/error-codes.js';
import { InferenceClientError } from './client-error.js';
import { decodeOutput, encodeInput, inferResult } from './client-tensors.js';
import { GrpcTransport } from './grpc-transport.js';
import { HttpTransport } from './http-transport.js';
import type {
  CallOptions, ClientOptions, InferRequest, InferResult, LoadModelOptions, ModelConfig, ModelMetadata,
  ModelStatistics, RepositoryIndexEntry, ServerMetadata, SharedMemoryRegion, SharedMemoryRegistration, UnloadModelOptions,
} from './client-types.js';
import type { Transport, WireInferRequest, WireInferResponse } from './transport.js';

export class InferenceClient {
  /** 'grpc' or 'http', from the address. */
  readonly protocol: 'grpc' | 'http';
  readonly #transport: Transport;
  readonly #timeoutMs: number | undefined;

  constructor(address: string, options: ClientOptions = {}) {
    this.protocol = /^https?:\/\//i.test(address) ? 'http' : 'grpc';
    this.#transport = this.protocol === 'http' ? new HttpTransport(address, options) : new GrpcTransport(address, options);
    this.#timeoutMs = options.timeoutMs;
  }

  #o(o: CallOptions = {}): CallOptions {
    const timeoutMs = o.timeoutMs ?? this.#timeoutMs;
    return { ...(o.signal === undefined ? {} : { signal: o.signal }), ...(timeoutMs === undefined ? {} : { timeoutMs }) };
  }

  /** GET /v2/health/live, ServerLive. */
  serverLive(o?: CallOptions): Promise<boolean> {
    return this.#transport.serverLive(this.#o(o));
  }

  /** GET /v2/health/ready, ServerReady. */
  serverReady(o?: CallOptions): Promise<boolean> {
    return this.#transport.serverReady(this.#o(o));
  }

  /** False while the version is not ready; rejects with NOT_FOUND for a model the server does not know. */
  modelReady(model: string, version = '', o?: CallOptions): Promise<boolean> {
    return this.#transport.modelReady(model, version, this.#o(o));
  }

  serverMetadata(o?: CallOptions): Promise<ServerMetadata> {
    return this.#transport.serverMetadata(this.#o(o));
  }

  modelMetadata(model: string, version = '', o?: CallOptions): Promise<ModelMetadata> {
    return this.#transport.modelMetadata(model, version, this.#o(o));
  }

  /** The model's config as the server completed it (Triton's defaults filled in). */
  modelConfig(model: string, version = '', o?: CallOptions): Promise<ModelConfig> {
    return this.#transport.modelConfig(model, version, this.#o(o));
  }

  /** Statistics of one model (or version), or of every model when `model` is omitted or ''. */
  modelStatistics(model = '', version = '', o?: CallOptions): Promise<ModelStatistics[]> {
    return this.#transport.modelStatistics(model, version, this.#o(o));
  }

  /** Every model in the repository with its state; `ready: true` lists only ready ones. */
  repositoryIndex(options: CallOptions & { ready?: boolean } = {}): Promise<RepositoryIndexEntry[]> {
    return this.#transport.repositoryIndex(options.ready ?? false, this.#o(options));
  }

  /** Loads or reloads a model (server in explicit model control mode), optionally from a given config and files. */
  loadModel(model: string, options: LoadModelOptions = {}): Promise<void> {
    const config = typeof options.config === 'object' ? JSON.stringify(options.config) : options.config;
    const files = new Map(Object.entries(options.files ?? {}));
    return this.#transport.loadModel(model, { ...(config === undefined ? {} : { config }), files }, this.#o(options));
  }

  unloadModel(model: string, options: UnloadModelOptions = {}): Promise<void> {
    return this.#transport.unloadModel(model, options.unloadDependents ?? false, this.#o(options));
  }

  /**
   * One inference. Inputs are typed arrays (see InferInput); outputs come back typed, with their
   * shapes and datatypes. Rejects with InferenceClientError: INVALID_ARG for a request the client
   * or the server refuses, NOT_FOUND for an unknown model, UNAVAILABLE, CANCELLED,
   * DEADLINE_EXCEEDED, …
   */
  async infer(request: InferRequest): Promise<InferResult> {
    return toResult(await this.#transport.infer(toWire(request), this.#o(request)));
  }

  /**
   * Streaming inference: sends each request `requests` yields, yields each response as it arrives
   * (several per request for decoupled models, with `triton_final_response` in `parameters`).
   * Ending the loop early cancels what is in flight. Over gRPC this is one ModelStreamInfer call;
   * a server without it answers UNIMPLEMENTED, thrown as code UNSUPPORTED with the server's
   * message. Over HTTP each request is its own `POST …/infer` with `Accept: text/event-stream`,
   * run concurrently (requests of one sequence one after the other, request-streams.ts), with
   * the same responses and errors. The first failed request ends the iterator with its error.
   */
  async *inferStream(requests: AsyncIterable<InferRequest> | Iterable<InferRequest>, o?: CallOptions): AsyncIterableIterator<InferResult> {
    async function* wire(): AsyncIterable<WireInferRequest> {
      for await (const r of requests) yield toWire(r);
    }
    for await (const r of this.#transport.inferStream(wire(), this.#o(o))) yield toResult(r);
  }

  /**
   * Triton's system shared-memory extension: register a POSIX shared-memory region with the server,
   * list registered regions (one by name, or all), unregister one (or all). Requests then name the
   * region in their tensors' shared_memory_* parameters. A server without the extension (Infera
   * until its shared-memory support lands) rejects with UNSUPPORTED.
   */
  registerSystemSharedMemory(r: SharedMemoryRegistration): Promise<void> {
    return this.#transport.registerSystemSharedMemory({ name: r.name, key: r.key, offset: r.offset ?? 0, byteSize: r.byteSize }, this.#o(r));
  }

  systemSharedMemoryStatus(name = '', o?: CallOptions): Promise<SharedMemoryRegion[]> {
    return this.#transport.systemSharedMemoryStatus(name, this.#o(o));
  }

  unregisterSystemSharedMemory(name = '', o?: CallOptions): Promise<void> {
    return this.#transport.unregisterSystemSharedMemory(name, this.#o(o));
  }

  /** Closes the channel; pending calls fail, later calls reject. */
  close(): void {
    this.#transport.close();
  }
}

function toWire(r: InferRequest): WireInferRequest {
  if (typeof r.model !== 'string' || r.model === '') throw new InferenceClientError(ErrorCode.INVALID_ARG, 'infer: model must be a non-empty string');
  if (!Array.isArray(r.inputs)) throw new InferenceClientError(ErrorCode.INVALID_ARG, `infer: inputs of the request to '${r.model}' must be a list`);
  return {
    model: r.model,
    version: r.version ?? '',
    id: r.id ?? '',
    parameters: r.parameters ?? {},
    inputs: r.inputs.map((i) => encodeInput(i, r.model)),
    outputs: (r.outputs ?? []).map((x) => typeof x === 'string'
      ? { name: x, parameters: {} }
      : { name: x.name, parameters: { ...x.parameters, ...(x.classification === undefined ? {} : { classification: x.classification }) } }),
  };
}

function toResult(r: WireInferResponse): InferResult {
  return inferResult(r.model, r.version, r.id, r.parameters, r.outputs.map(decodeOutput));
}
