/**
 * The HTTP/REST transport: KServe v2 routes with Triton's binary tensor extension, over Node's
 * built-in fetch. Inputs always travel binary (`binary_data_size` + bytes after the JSON header,
 * `Inference-Header-Content-Length`) and outputs are asked for binary (`binary_data_output`, or
 * `binary_data` per listed output); JSON `data` in a response is decoded too.
 *
 * Results are given the shapes gRPC decodes to by passing the JSON through the protocol's own
 * message codecs (protobufjs fromObject → encode → decode with the loader's options): a field the
 * JSON omits gets its proto3 default, enums and 64-bit integers come out as over gRPC.
 *
 * inferStream: each request is its own `POST …/infer` with `Accept: text/event-stream` (the
 * server's event streams, one v2 response JSON per event, the last flagged
 * `triton_final_response`), merged by request-streams.ts and read by event-stream-parser.ts;
 * inputs go binary, outputs come back as JSON `data` (events are text). What it yields is what
 * the gRPC transport yields for the same requests (the output-less final included only on
 * request, as gRPC does); an `{"error": …}` event is code UNKNOWN, as a gRPC stream error.
 *
 * Statuses: 200 is success; `{"error": "…"}` bodies become InferenceClientError with the HTTP
 * status and the code that status stands for. The ready routes answer 400 for "not ready", which
 * is `false`, not an error.
 */
import { Buffer } from 'node:buffer';
import { loadInferenceProtos } from '../frontends/grpc/proto-loader.js';
import { parametersText, parseRequestJson } from '../frontends/http/http-convert.js';
import { jsonDataToBytes } from '../frontends/http/json-tensor-data.js';
import { JsonFloat } from '../util/lossless-json.js';
import { isDataType } from '../core/datatype.js';
import { ErrorCode } from '../errors/error-codes.js';
import { codeForHttpStatus, InferenceClientError, malformedResponse } from './client-error.js';
import type { CallOptions, ClientOptions, Parameters } from './client-types.js';
import type { RawOutput } from './client-tensors.js';
import { EventStreamParser } from './event-stream-parser.js';
import { mergeRequestStreams, type Push } from './request-streams.js';
import type { Transport, WireInferRequest, WireInferResponse, WireLoad, WireShmRegistration } from './transport.js';

const HEADER_LENGTH = 'inference-header-content-length';

interface HttpResponse {
  status: number;
  headers: Headers;
  body: Buffer;
}

type Obj = Record<string, unknown>;

interface Codec {
  responseSerialize(v: unknown): Buffer;
  responseDeserialize(b: Buffer): unknown;
}

/** JSON → the message `method` answers over gRPC, exactly as grpc-js would have decoded it. */
function asGrpcMessage<T>(method: string, json: unknown): T {
  const codec = (loadInferenceProtos().inference as unknown as Record<string, Codec>)[method]!;
  try {
    return codec.responseDeserialize(codec.responseSerialize(json)) as T;
  } catch (e) {
    throw malformedResponse(`the ${method} JSON does not fit the protocol's message: ${e instanceof Error ? e.message : String(e)}`, e);
  }
}

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof JsonFloat);
}

function pathOf(model: string, version: string): string {
  const m = `/v2/models/${encodeURIComponent(model)}`;
  return version === '' ? m : `${m}/versions/${encodeURIComponent(version)}`;
}

function shmPath(region: string): string {
  return region === '' ? '/v2/systemsharedmemory' : `/v2/systemsharedmemory/region/${encodeURIComponent(region)}`;
}

function parametersOf(v: unknown): Parameters {
  const out: Parameters = {};
  if (!isObj(v)) return out;
  for (const [k, p] of Object.entries(v)) {
    if (p instanceof JsonFloat) out[k] = p.value;
    else if (typeof p === 'boolean' || typeof p === 'number' || typeof p === 'bigint' || typeof p === 'string') out[k] = p;
  }
  return out;
}

export class HttpTransport implements Transport {
  readonly #base: string;
  readonly #headers: Readonly<Record<string, string>>;
  #closed = false;

  constructor(url: string, o: ClientOptions) {
    this.#base = url.replace(/\/+$/, '');
    this.#headers = o.headers ?? {};
  }

  async #request(method: 'GET' | 'POST', path: string, o: CallOptions, body?: Uint8Array | string, headers: Record<string, string> = {}): Promise<HttpResponse> {
    if (this.#closed) throw new InferenceClientError(ErrorCode.UNAVAILABLE, 'the client is closed');
    if (o.signal?.aborted === true) throw new InferenceClientError(ErrorCode.CANCELLED, `${method} ${path} cancelled before it was sent`);
    const ac = new AbortController();
    let timedOut = false;
    const onAbort = (): void => ac.abort();
    o.signal?.addEventListener('abort', onAbort, { once: true });
    const timer = o.timeoutMs === undefined ? undefined : setTimeout(() => {
      timedOut = true;
      ac.abort();
    }, o.timeoutMs);
    try {
      const res = await fetch(`${this.#base}${path}`, {
        method,
        headers: { ...this.#headers, ...headers },
        ...(body === undefined ? {} : { body }),
        signal: ac.signal,
      });
      return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
    } catch (e) {
      if (timedOut) throw new InferenceClientError(ErrorCode.DEADLINE_EXCEEDED, `${method} ${path}: no answer within ${o.timeoutMs} ms`, {}, { cause: e });
      if (ac.signal.aborted) throw new InferenceClientError(ErrorCode.CANCELLED, `${method} ${path} cancelled by the caller`, {}, { cause: e });
      const cause = (e as { cause?: { message?: string } }).cause?.message;
      throw new InferenceClientError(ErrorCode.UNAVAILABLE, `${method} ${this.#base}${path} failed: ${cause ?? (e instanceof Error ? e.message : String(e))}`, {}, { cause: e });
    } finally {
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
    }
  }

  /** The response, or the server's error as an InferenceClientError. */
  async #ok(method: 'GET' | 'POST', path: string, o: CallOptions, body?: Uint8Array | string, headers?: Record<string, string>): Promise<HttpResponse> {
    const res = await this.#request(method, path, o, body, headers);
    if (res.status === 200) return res;
    throw errorOf(res);
  }

  async #json(method: 'GET' | 'POST', path: string, o: CallOptions, body?: string): Promise<unknown> {
    const res = await this.#ok(method, path, o, body, body === undefined ? {} : { 'content-type': 'application/json' });
    return parseJson(res.body, `${method} ${path}`);
  }

  async #health(path: string, o: CallOptions): Promise<boolean> {
    const res = await this.#request('GET', path, o);
    if (res.status === 200) return true;
    if (res.status === 400) return false;
    throw errorOf(res);
  }

  serverLive(o: CallOptions): Promise<boolean> {
    return this.#health('/v2/health/live', o);
  }

  serverReady(o: CallOptions): Promise<boolean> {
    return this.#health('/v2/health/ready', o);
  }

  modelReady(model: string, version: string, o: CallOptions): Promise<boolean> {
    return this.#health(`${pathOf(model, version)}/ready`, o);
  }

  async serverMetadata(o: CallOptions): ReturnType<Transport['serverMetadata']> {
    return asGrpcMessage('ServerMetadata', await this.#json('GET', '/v2', o));
  }

  async modelMetadata(model: string, version: string, o: CallOptions): ReturnType<Transport['modelMetadata']> {
    return asGrpcMessage('ModelMetadata', await this.#json('GET', pathOf(model, version), o));
  }

  async modelConfig(model: string, version: string, o: CallOptions): ReturnType<Transport['modelConfig']> {
    const config = await this.#json('GET', `${pathOf(model, version)}/config`, o);
    return asGrpcMessage<{ config: Awaited<ReturnType<Transport['modelConfig']>> }>('ModelConfig', { config }).config;
  }

  async modelStatistics(model: string, version: string, o: CallOptions): ReturnType<Transport['modelStatistics']> {
    const path = model === '' ? '/v2/models/stats' : `${pathOf(model, version)}/stats`;
    return asGrpcMessage<{ model_stats: Awaited<ReturnType<Transport['modelStatistics']>> }>('ModelStatistics', await this.#json('GET', path, o)).model_stats;
  }

  async repositoryIndex(ready: boolean, o: CallOptions): ReturnType<Transport['repositoryIndex']> {
    const models = await this.#json('POST', '/v2/repository/index', o, JSON.stringify({ ready }));
    if (!Array.isArray(models)) throw malformedResponse('the repository index is not a JSON array');
    return asGrpcMessage<{ models: Awaited<ReturnType<Transport['repositoryIndex']>> }>('RepositoryIndex', { models }).models;
  }

  async loadModel(model: string, load: WireLoad, o: CallOptions): Promise<void> {
    const parameters: Record<string, string> = {};
    if (load.config !== undefined) parameters['config'] = load.config;
    for (const [path, bytes] of load.files) parameters[`file:${path}`] = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
    await this.#ok('POST', `/v2/repository/models/${encodeURIComponent(model)}/load`, o, JSON.stringify({ parameters }), { 'content-type': 'application/json' });
  }

  async unloadModel(model: string, unloadDependents: boolean, o: CallOptions): Promise<void> {
    const body = JSON.stringify({ parameters: { unload_dependents: unloadDependents } });
    await this.#ok('POST', `/v2/repository/models/${encodeURIComponent(model)}/unload`, o, body, { 'content-type': 'application/json' });
  }

  async systemSharedMemoryStatus(name: string, o: CallOptions): ReturnType<Transport['systemSharedMemoryStatus']> {
    const regions = await this.#json('GET', `${shmPath(name)}/status`, o);
    if (!Array.isArray(regions)) throw malformedResponse('the shared-memory status is not a JSON array');
    const byName = Object.fromEntries(regions.map((r: unknown) => [isObj(r) ? String(r['name']) : '', r]));
    return Object.values(asGrpcMessage<{ regions: Record<string, Awaited<ReturnType<Transport['systemSharedMemoryStatus']>>[number]> }>('SystemSharedMemoryStatus', { regions: byName }).regions);
  }

  async registerSystemSharedMemory(r: WireShmRegistration, o: CallOptions): Promise<void> {
    const body = JSON.stringify({ key: r.key, offset: r.offset, byte_size: r.byteSize });
    await this.#ok('POST', `${shmPath(r.name)}/register`, o, body, { 'content-type': 'application/json' });
  }

  async unregisterSystemSharedMemory(name: string, o: CallOptions): Promise<void> {
    await this.#ok('POST', `${shmPath(name)}/unregister`, o);
  }

  async infer(req: WireInferRequest, o: CallOptions): Promise<WireInferResponse> {
    const { header, body } = inferBody(req);
    const res = await this.#ok('POST', `${pathOf(req.model, req.version)}/infer`, o, body, {
      'content-type': 'application/octet-stream',
      'inference-header-content-length': String(header.byteLength),
    });
    return inferResponse(res);
  }

  inferStream(requests: AsyncIterable<WireInferRequest>, o: CallOptions): AsyncIterable<WireInferResponse> {
    if (this.#closed) throw new InferenceClientError(ErrorCode.UNAVAILABLE, 'the client is closed');
    return mergeRequestStreams(requests, o, (req, signal, push) => this.#streamOne(req, signal, push));
  }

  /**
   * One request POSTed with `Accept: text/event-stream`; each event is pushed as the response it
   * carries. Inputs travel binary, outputs come back as JSON `data` (events are text). A server
   * that answers plain JSON instead (no event streams on /infer, as Triton) gives its one response.
   */
  async #streamOne(req: WireInferRequest, signal: AbortSignal, push: Push): Promise<void> {
    const path = `${pathOf(req.model, req.version)}/infer`;
    // triton_* parameters are reserved over HTTP; this one is the client's to apply (readEvents).
    const { [EMPTY_FINAL_RESPONSE_PARAM]: emptyFinal, ...parameters } = req.parameters;
    const { header, body } = inferBody({ ...req, parameters }, false);
    let res: Response;
    try {
      res = await fetch(`${this.#base}${path}`, {
        method: 'POST',
        headers: {
          ...this.#headers,
          accept: 'text/event-stream',
          'content-type': 'application/octet-stream',
          'inference-header-content-length': String(header.byteLength),
        },
        body,
        signal,
      });
    } catch (e) {
      throw unreachable(`POST ${this.#base}${path}`, e);
    }
    if (!EVENT_STREAM.test(res.headers.get('content-type') ?? '')) {
      const whole: HttpResponse = { status: res.status, headers: res.headers, body: await readAll(res, path) };
      if (whole.status !== 200) throw errorOf(whole);
      await push(inferResponse(whole));
      return;
    }
    if (res.status !== 200) throw eventStreamError(res.status, await readAll(res, path));
    await this.#readEvents(emptyFinal === true, res, path, push);
  }

  /**
   * The events of one request's stream, pushed as responses. The server always ends a stream with
   * a final event, output-less when the model sent its last response earlier; over gRPC that one
   * is sent only when the request sets `triton_enable_empty_final_response`, so here it is
   * dropped unless `emptyFinal`, and both transports yield the same responses.
   */
  async #readEvents(emptyFinal: boolean, res: Response, path: string, push: Push): Promise<void> {
    const parser = new EventStreamParser();
    let final = false;
    try {
      for await (const chunk of (res.body ?? []) as AsyncIterable<Uint8Array>) {
        for (const data of parser.push(chunk)) {
          if (final) throw malformedResponse(`an event after the final response of the request to ${path}`);
          const r = eventResponse(data, path);
          final = r.parameters[FINAL_RESPONSE_PARAM] === true;
          if (!(final && r.outputs.length === 0 && !emptyFinal)) await push(r);
        }
      }
    } catch (e) {
      if (e instanceof InferenceClientError) throw e;
      throw unreachable(`reading the events of POST ${this.#base}${path}`, e);
    } finally {
      if (!final) await res.body?.cancel().catch(() => {});
    }
    parser.end();
    if (!final) throw malformedResponse(`the event stream of the request to ${path} ended without its final response`);
  }

  close(): void {
    this.#closed = true;
  }
}

const EVENT_STREAM = /^\s*text\/event-stream\s*(;|$)/i;
const FINAL_RESPONSE_PARAM = 'triton_final_response';
const EMPTY_FINAL_RESPONSE_PARAM = 'triton_enable_empty_final_response';

function unreachable(what: string, e: unknown): InferenceClientError {
  if ((e as { name?: string }).name === 'AbortError') return new InferenceClientError(ErrorCode.CANCELLED, `${what}: cancelled`, {}, { cause: e });
  const cause = (e as { cause?: { message?: string } }).cause?.message;
  return new InferenceClientError(ErrorCode.UNAVAILABLE, `${what} failed: ${cause ?? (e instanceof Error ? e.message : String(e))}`, {}, { cause: e });
}

async function readAll(res: Response, path: string): Promise<Buffer> {
  try {
    return Buffer.from(await res.arrayBuffer());
  } catch (e) {
    throw unreachable(`reading the answer to POST ${path}`, e);
  }
}

/** A failed status with an event stream (Triton's generate_stream answers 400 so): the first event's `error`, else the body. */
function eventStreamError(status: number, body: Buffer): InferenceClientError {
  let first: Uint8Array | undefined;
  try {
    first = new EventStreamParser().push(body)[0];
  } catch {
    // not events after all: the body as it is
  }
  return errorOf({ status, headers: new Headers(), body: first === undefined ? body : Buffer.from(first.buffer, first.byteOffset, first.byteLength) });
}

/** One event's data: a v2 response, or `{"error": …}` (a failure after the stream began: no code, as on a gRPC stream). */
function eventResponse(data: Uint8Array, path: string): WireInferResponse {
  const j = parseJson(Buffer.from(data.buffer, data.byteOffset, data.byteLength), `an event of POST ${path}`);
  if (isObj(j) && typeof j['error'] === 'string') throw new InferenceClientError(ErrorCode.UNKNOWN, j['error']);
  return responseOf(j, Buffer.alloc(0), 0);
}

function parseJson(body: Buffer, what: string): unknown {
  try {
    return parseRequestJson(body, `the response to ${what}`);
  } catch (e) {
    throw malformedResponse(e instanceof Error ? e.message : String(e), e);
  }
}

function errorOf(res: HttpResponse): InferenceClientError {
  let message = `HTTP ${res.status}`;
  try {
    const j: unknown = JSON.parse(res.body.toString('utf8'));
    if (isObj(j) && typeof j['error'] === 'string') message = j['error'];
  } catch {
    if (res.body.byteLength > 0) message = `HTTP ${res.status}: ${res.body.subarray(0, 200).toString('utf8')}`;
  }
  return new InferenceClientError(codeForHttpStatus(res.status), message, { httpStatus: res.status });
}

/**
 * The JSON header with every input binary, then the tensors. Outputs are asked for binary unless
 * `binaryOutputs` is false (event streams carry JSON only): then their parameters go as given.
 */
function inferBody(req: WireInferRequest, binaryOutputs = true): { header: Buffer; body: Buffer } {
  const inputs = req.inputs.map((i) =>
    `{"name":${JSON.stringify(i.name)},"datatype":"${i.datatype}","shape":${JSON.stringify(i.shape)},"parameters":${parametersText({ ...i.parameters, binary_data_size: i.raw.byteLength })}}`);
  const outputs = req.outputs.map((x) => `{"name":${JSON.stringify(x.name)},"parameters":${parametersText(binaryOutputs ? { ...x.parameters, binary_data: true } : x.parameters)}}`);
  const params = binaryOutputs && req.outputs.length === 0 ? { ...req.parameters, binary_data_output: true } : req.parameters;
  const text = `{${req.id === '' ? '' : `"id":${JSON.stringify(req.id)},`}"parameters":${parametersText(params)},"inputs":[${inputs.join(',')}]${outputs.length === 0 ? '' : `,"outputs":[${outputs.join(',')}]`}}`;
  const header = Buffer.from(text, 'utf8');
  return { header, body: Buffer.concat([header, ...req.inputs.map((i) => i.raw)]) };
}

function inferResponse(res: HttpResponse): WireInferResponse {
  const lengthText = res.headers.get(HEADER_LENGTH);
  const headerLength = lengthText === null ? res.body.byteLength : Number(lengthText);
  if (!Number.isSafeInteger(headerLength) || headerLength < 0 || headerLength > res.body.byteLength) {
    throw malformedResponse(`Inference-Header-Content-Length '${lengthText}' for a ${res.body.byteLength}-byte body`);
  }
  return responseOf(parseJson(res.body.subarray(0, headerLength), 'an inference request'), res.body, headerLength);
}

/** A v2 response JSON `j` whose binary outputs follow in `body` from `offset`. */
function responseOf(j: unknown, body: Buffer, offset: number): WireInferResponse {
  if (!isObj(j) || !Array.isArray(j['outputs'])) throw malformedResponse('the inference response has no outputs list');
  const outputs: RawOutput[] = j['outputs'].map((o: unknown) => {
    if (!isObj(o) || typeof o['name'] !== 'string' || typeof o['datatype'] !== 'string' || !Array.isArray(o['shape'])) {
      throw malformedResponse('an output without name, datatype or shape');
    }
    const shape = o['shape'].map(Number);
    const { binary_data_size: size, ...parameters } = parametersOf(o['parameters']);
    let raw: Uint8Array;
    if (size !== undefined) {
      const n = Number(size);
      if (!Number.isSafeInteger(n) || n < 0 || offset + n > body.byteLength) throw malformedResponse(`output '${o['name']}' binary_data_size ${String(size)} runs past the body`);
      raw = body.subarray(offset, offset + n);
      offset += n;
    } else if (isDataType(o['datatype'])) {
      try {
        raw = jsonDataToBytes(o['datatype'], o['data'], shape, o['name'], 'the response');
      } catch (e) {
        throw malformedResponse(e instanceof Error ? e.message : String(e), e);
      }
    } else {
      raw = new Uint8Array(0);
    }
    return { name: o['name'], datatype: o['datatype'], shape, parameters, raw };
  });
  const str = (k: string): string => (typeof j[k] === 'string' ? (j[k] as string) : '');
  return { model: str('model_name'), version: str('model_version'), id: str('id'), parameters: parametersOf(j['parameters']), outputs };
}
