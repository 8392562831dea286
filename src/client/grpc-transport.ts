/**
 * The gRPC transport: Triton's GRPCInferenceService through grpc-js stubs built from proto/ by the
 * shared proto loader (the same definitions the server registers). Tensors travel in
 * raw_input_contents / raw_output_contents, as tritonclient sends them; typed `contents` in a
 * response are accepted too. Message size limits are lifted (Triton's are 2 GiB both ways).
 *
 * Deadlines: timeoutMs becomes the call's gRPC deadline, so the server sees it too. An AbortSignal
 * cancels the call (grpc-js reports CANCELLED).
 */
import { credentials as grpcCredentials, Metadata, type CallOptions as GrpcCallOptions, type ServiceError } from '@grpc/grpc-js';
import { loadInferenceProtos } from '../frontends/grpc/proto-loader.js';
import { CONTENTS_FIELD } from '../frontends/grpc/tensor-contents.js';
import { tensorParameters } from '../frontends/grpc/grpc-parameters.js';
import { encodeTypedValues } from '../core/tensor-codec.js';
import { isDataType } from '../core/datatype.js';
import { ErrorCode } from '../errors/error-codes.js';
import type { GRPCInferenceServiceClient } from '../generated/inference/GRPCInferenceService.js';
import type { InferParameter } from '../generated/inference/InferParameter.js';
import type { ModelInferRequest } from '../generated/inference/ModelInferRequest.js';
import type { ModelInferResponse__Output } from '../generated/inference/ModelInferResponse.js';
import type { ModelRepositoryParameter } from '../generated/inference/ModelRepositoryParameter.js';
import type { ModelStreamInferResponse__Output } from '../generated/inference/ModelStreamInferResponse.js';
import { codeForGrpcStatus, InferenceClientError, malformedResponse } from './client-error.js';
import type { CallOptions, ClientOptions, Parameters, ParameterValue } from './client-types.js';
import type { RawOutput } from './client-tensors.js';
import type { Transport, WireInferRequest, WireInferResponse, WireLoad, WireShmRegistration } from './transport.js';

type Callback<Res> = (err: ServiceError | null, res?: Res) => void;
type UnaryMethod<Req, Res> = (req: Req, md: Metadata, opts: GrpcCallOptions, cb: Callback<Res>) => { cancel(): void };

const INT64_MAX = 2n ** 63n - 1n;

export function toInferParameter(v: ParameterValue): InferParameter {
  switch (typeof v) {
    case 'boolean': return { bool_param: v };
    case 'string': return { string_param: v };
    case 'bigint': return v <= INT64_MAX ? { int64_param: v.toString() } : { uint64_param: v.toString() };
    default: return Number.isInteger(v) && Math.abs(v) < 2 ** 63 ? { int64_param: v } : { double_param: v };
  }
}

function parameterMap(p: Parameters): Record<string, InferParameter> {
  const out: Record<string, InferParameter> = {};
  for (const [k, v] of Object.entries(p)) out[k] = toInferParameter(v);
  return out;
}

export function toModelInferRequest(r: WireInferRequest): ModelInferRequest {
  return {
    model_name: r.model,
    model_version: r.version,
    id: r.id,
    parameters: parameterMap(r.parameters),
    inputs: r.inputs.map((i) => ({ name: i.name, datatype: i.datatype, shape: i.shape, parameters: parameterMap(i.parameters) })),
    outputs: r.outputs.map((o) => ({ name: o.name, parameters: parameterMap(o.parameters) })),
    raw_input_contents: r.inputs.map((i) => i.raw),
  };
}

export function fromModelInferResponse(m: ModelInferResponse__Output): WireInferResponse {
  const raw = m.raw_output_contents;
  if (raw.length > 0 && raw.length !== m.outputs.length) {
    throw malformedResponse(`${m.outputs.length} outputs but ${raw.length} raw_output_contents`);
  }
  const outputs: RawOutput[] = m.outputs.map((o, i) => ({
    name: o.name,
    datatype: o.datatype,
    shape: o.shape,
    parameters: tensorParameters(o.parameters),
    raw: raw[i] ?? typedContents(o.datatype, o.contents, o.name),
  }));
  return { model: m.model_name, version: m.model_version, id: m.id, parameters: tensorParameters(m.parameters), outputs };
}

/** An output sent as typed `contents` (not Triton's habit, but valid protocol) → raw bytes. */
function typedContents(datatype: string, contents: ModelInferResponse__Output['outputs'][number]['contents'], name: string): Uint8Array {
  const field = isDataType(datatype) ? CONTENTS_FIELD[datatype] : undefined;
  if (!isDataType(datatype) || field === undefined || contents === null) return new Uint8Array(0);
  try {
    return encodeTypedValues(datatype, contents[field]);
  } catch (e) {
    throw malformedResponse(`output '${name}': ${e instanceof Error ? e.message : String(e)}`, e);
  }
}

export function fromServiceError(e: unknown): InferenceClientError {
  if (e instanceof InferenceClientError) return e;
  const s = e as Partial<ServiceError>;
  if (typeof s.code === 'number') {
    return new InferenceClientError(codeForGrpcStatus(s.code), s.details ?? String(s.message), { grpcStatus: s.code }, { cause: e });
  }
  return new InferenceClientError(ErrorCode.INTERNAL, e instanceof Error ? e.message : String(e), {}, { cause: e });
}

export class GrpcTransport implements Transport {
  readonly #client: GRPCInferenceServiceClient;
  readonly #headers: Readonly<Record<string, string>>;

  constructor(target: string, o: ClientOptions) {
    const { grpcObject } = loadInferenceProtos();
    this.#client = new grpcObject.inference.GRPCInferenceService(target, o.credentials ?? grpcCredentials.createInsecure(), {
      'grpc.max_receive_message_length': -1,
      'grpc.max_send_message_length': -1,
    });
    this.#headers = o.headers ?? {};
  }

  #metadata(): Metadata {
    const md = new Metadata();
    for (const [k, v] of Object.entries(this.#headers)) md.set(k, v);
    return md;
  }

  #options(o: CallOptions): GrpcCallOptions {
    return o.timeoutMs === undefined ? {} : { deadline: Date.now() + o.timeoutMs };
  }

  #unary<Req, Res>(method: keyof GRPCInferenceServiceClient, req: Req, o: CallOptions): Promise<Res> {
    const fn = (this.#client[method] as unknown as UnaryMethod<Req, Res>).bind(this.#client);
    return new Promise<Res>((resolve, reject) => {
      if (o.signal?.aborted === true) {
        reject(new InferenceClientError(ErrorCode.CANCELLED, `${String(method)} cancelled before it was sent`));
        return;
      }
      const onAbort = (): void => call.cancel();
      const call = fn(req, this.#metadata(), this.#options(o), (err, res) => {
        o.signal?.removeEventListener('abort', onAbort);
        if (err !== null) reject(fromServiceError(err));
        else resolve(res as Res);
      });
      o.signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  async serverLive(o: CallOptions): Promise<boolean> {
    return (await this.#unary<object, { live: boolean }>('ServerLive', {}, o)).live;
  }

  async serverReady(o: CallOptions): Promise<boolean> {
    return (await this.#unary<object, { ready: boolean }>('ServerReady', {}, o)).ready;
  }

  async modelReady(name: string, version: string, o: CallOptions): Promise<boolean> {
    return (await this.#unary<object, { ready: boolean }>('ModelReady', { name, version }, o)).ready;
  }

  serverMetadata(o: CallOptions): ReturnType<Transport['serverMetadata']> {
    return this.#unary('ServerMetadata', {}, o);
  }

  modelMetadata(name: string, version: string, o: CallOptions): ReturnType<Transport['modelMetadata']> {
    return this.#unary('ModelMetadata', { name, version }, o);
  }

  async modelConfig(name: string, version: string, o: CallOptions): ReturnType<Transport['modelConfig']> {
    const r = await this.#unary<object, { config: Awaited<ReturnType<Transport['modelConfig']>> | null }>('ModelConfig', { name, version }, o);
    if (r.config === null) throw malformedResponse(`ModelConfig for '${name}' has no config`);
    return r.config;
  }

  async modelStatistics(name: string, version: string, o: CallOptions): ReturnType<Transport['modelStatistics']> {
    return (await this.#unary<object, { model_stats: Awaited<ReturnType<Transport['modelStatistics']>> }>('ModelStatistics', { name, version }, o)).model_stats;
  }

  async repositoryIndex(ready: boolean, o: CallOptions): ReturnType<Transport['repositoryIndex']> {
    return (await this.#unary<object, { models: Awaited<ReturnType<Transport['repositoryIndex']>> }>('RepositoryIndex', { repository_name: '', ready }, o)).models;
  }

  async loadModel(model: string, load: WireLoad, o: CallOptions): Promise<void> {
    const parameters: Record<string, ModelRepositoryParameter> = {};
    if (load.config !== undefined) parameters['config'] = { string_param: load.config };
    for (const [path, bytes] of load.files) parameters[`file:${path}`] = { bytes_param: bytes };
    await this.#unary('RepositoryModelLoad', { repository_name: '', model_name: model, parameters }, o);
  }

  async unloadModel(model: string, unloadDependents: boolean, o: CallOptions): Promise<void> {
    const parameters = unloadDependents ? { unload_dependents: { bool_param: true } } : {};
    await this.#unary('RepositoryModelUnload', { repository_name: '', model_name: model, parameters }, o);
  }

  async systemSharedMemoryStatus(name: string, o: CallOptions): ReturnType<Transport['systemSharedMemoryStatus']> {
    const r = await this.#unary<object, { regions: Record<string, Awaited<ReturnType<Transport['systemSharedMemoryStatus']>>[number]> }>('SystemSharedMemoryStatus', { name }, o);
    return Object.values(r.regions);
  }

  async registerSystemSharedMemory(r: WireShmRegistration, o: CallOptions): Promise<void> {
    await this.#unary('SystemSharedMemoryRegister', { name: r.name, key: r.key, offset: r.offset, byte_size: r.byteSize }, o);
  }

  async unregisterSystemSharedMemory(name: string, o: CallOptions): Promise<void> {
    await this.#unary('SystemSharedMemoryUnregister', { name }, o);
  }

  async infer(req: WireInferRequest, o: CallOptions): Promise<WireInferResponse> {
    return fromModelInferResponse(await this.#unary<ModelInferRequest, ModelInferResponse__Output>('ModelInfer', toModelInferRequest(req), o));
  }

  async *inferStream(requests: AsyncIterable<WireInferRequest>, o: CallOptions): AsyncIterable<WireInferResponse> {
    const call = this.#client.ModelStreamInfer(this.#metadata(), this.#options(o));
    const onAbort = (): void => call.cancel();
    o.signal?.addEventListener('abort', onAbort, { once: true });
    let writeError: unknown;
    // The writer runs beside the reader; a failure of the caller's iterable cancels the call and
    // is what the iterator then throws.
    void (async () => {
      for await (const r of requests) if (!call.write(toModelInferRequest(r))) await new Promise((ok) => call.once('drain', ok));
      call.end();
    })().catch((e: unknown) => {
      writeError = e;
      call.cancel();
    });
    let done = false;
    try {
      for await (const m of call as AsyncIterable<ModelStreamInferResponse__Output>) {
        // Triton's stream errors carry a message and no code. The iterator ends at the first one.
        if (m.error_message !== '') throw new InferenceClientError(ErrorCode.UNKNOWN, m.error_message);
        if (m.infer_response === null) throw malformedResponse('a stream response with neither error_message nor infer_response');
        yield fromModelInferResponse(m.infer_response);
      }
      done = true;
    } catch (e) {
      if (writeError !== undefined) throw writeError;
      throw fromServiceError(e);
    } finally {
      o.signal?.removeEventListener('abort', onAbort);
      if (!done) call.cancel();
    }
  }

  close(): void {
    this.#client.close();
  }
}
