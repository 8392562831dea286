/**
 * The seam between InferenceClient and a protocol. A transport speaks the KServe v2 / Triton wire
 * format of one protocol and nothing else: no Infera-specific route, field or header, so the
 * client works against Triton too. Results are the protocol messages as gRPC decodes them; the
 * HTTP transport converts its JSON into those shapes, so callers cannot tell the transports apart.
 *
 * Every method may be called concurrently. Every rejection is an InferenceClientError.
 * Input buffers (`EncodedInput.raw`) are only read, and only until the returned promise settles.
 */
import type { EncodedInput, RawOutput } from './client-tensors.js';
import type {
  CallOptions, ModelConfig, ModelMetadata, ModelStatistics, Parameters, RepositoryIndexEntry, ServerMetadata, SharedMemoryRegion,
} from './client-types.js';

export interface WireInferRequest {
  model: string;
  version: string;
  id: string;
  parameters: Parameters;
  inputs: EncodedInput[];
  outputs: { name: string; parameters: Parameters }[];
}

export interface WireInferResponse {
  model: string;
  version: string;
  id: string;
  parameters: Parameters;
  outputs: RawOutput[];
}

export interface WireLoad {
  /** ModelConfig JSON text. */
  config?: string;
  /** Path in the model folder → contents. */
  files: ReadonlyMap<string, Uint8Array>;
}

export interface WireShmRegistration {
  name: string;
  key: string;
  offset: number;
  byteSize: number;
}

export interface Transport {
  serverLive(o: CallOptions): Promise<boolean>;
  serverReady(o: CallOptions): Promise<boolean>;
  /** False for a known model whose version is not ready; NOT_FOUND for an unknown model. */
  modelReady(model: string, version: string, o: CallOptions): Promise<boolean>;
  serverMetadata(o: CallOptions): Promise<ServerMetadata>;
  modelMetadata(model: string, version: string, o: CallOptions): Promise<ModelMetadata>;
  modelConfig(model: string, version: string, o: CallOptions): Promise<ModelConfig>;
  /** Empty model: every model. */
  modelStatistics(model: string, version: string, o: CallOptions): Promise<ModelStatistics[]>;
  repositoryIndex(ready: boolean, o: CallOptions): Promise<RepositoryIndexEntry[]>;
  loadModel(model: string, load: WireLoad, o: CallOptions): Promise<void>;
  unloadModel(model: string, unloadDependents: boolean, o: CallOptions): Promise<void>;
  infer(req: WireInferRequest, o: CallOptions): Promise<WireInferResponse>;
  /**
   * Streaming inference: requests are sent as `requests` yields them, responses yielded as they
   * arrive (0..N per request, `triton_final_response` in their parameters). gRPC: one
   * ModelStreamInfer call; HTTP: one event-stream POST per request, merged (request-streams.ts).
   */
  inferStream(requests: AsyncIterable<WireInferRequest>, o: CallOptions): AsyncIterable<WireInferResponse>;
  /** System shared memory: status of one region ('' = all), register, unregister one ('' = all). */
  systemSharedMemoryStatus(name: string, o: CallOptions): Promise<SharedMemoryRegion[]>;
  registerSystemSharedMemory(r: WireShmRegistration, o: CallOptions): Promise<void>;
  unregisterSystemSharedMemory(name: string, o: CallOptions): Promise<void>;
  /** Releases the connection; calls after close fail. */
  close(): void;
}
