/**
 * The protocol-neutral data plane. Front-ends call only this; it knows nothing of protobuf or
 * HTTP. Every method throws InferenceError, which each front-end maps once to its status codes.
 */
import type { ModelConfig } from '../config/model-config.js';
import type { InferenceRequest, InferenceResponse, OutputTensor } from './inference-request.js';
import type { Tensor } from './tensor.js';
import type { ModelEntry, ModelRegistry, LoadedVersion } from '../repository/model-registry.js';
import type {
  Duration, FailureReason, InferenceObserver, InferenceOutcome, ModelMetricSample, StatsSnapshot,
} from '../observability/inference-stats.js';
import { readyVersions, resolveForInference } from '../repository/model-registry.js';
import { inSplit, NUMERIC_VERSION } from '../repository/version-routing.js';
import { ShadowStats, shadowRequest, type ShadowSnapshot } from './shadow-traffic.js';
import { metadataShape } from './model-signature.js';
import { validateRequest, type ValidatedRequest } from './request-validator.js';
import { classify } from './classification.js';
import { errors, modelRef } from '../errors/catalogue.js';
import { InferenceError } from '../errors/inference-error.js';
import { nowNs } from '../util/clock.js';
import { modelConfigFromJsonText } from '../config/model-config-json.js';
import { DEFAULT_SHM_DIR, SystemSharedMemoryRegistry } from './shared-memory/system-shm-registry.js';
import { CudaSharedMemoryRegistry } from './shared-memory/cuda-shm-registry.js';
import { RequestShm, usesSharedMemory } from './shared-memory/request-shm.js';
import { LogSettings } from '../observability/log-settings.js';
import { Tracer } from '../observability/trace/tracer.js';
import { DEFAULT_TRACE_VALUES, TraceSettings, type TraceSettingChange, type TraceSettingsView } from '../observability/trace/trace-settings.js';
import { beginTrace, endTrace, NO_TRACE_SINK, traceQueued } from './request-tracing.js';
import type { ResponseSink } from './response-stream.js';
import type { CancelListener } from './cancellation.js';
import { DecoupledResponses, decoupledUnaryError } from './decoupled-responses.js';

/** Who asks, in Triton's "… doesn't support models with decoupled transaction policy". */
const UNARY_ENDPOINT = 'ModelInfer RPC';
const INTERNAL_ENDPOINT = 'An ensemble step';

/** infer() always answers (a decoupled model is refused before it could answer through a sink). */
function answered(res: InferenceResponse | undefined): InferenceResponse {
  if (res === undefined) throw errors.internal('a unary request was answered through a stream');
  return res;
}

export interface TensorMetadata {
  name: string;
  datatype: string;
  shape: number[];
}

export interface ModelMetadata {
  name: string;
  versions: string[];
  platform: string;
  inputs: TensorMetadata[];
  outputs: TensorMetadata[];
  /** label → version, when the model has labels (HTTP shows it; the gRPC message has no field for it). */
  version_labels?: Record<string, string>;
}

export interface ModelStatistics extends StatsSnapshot {
  name: string;
  version: string;
  /** Triton's memory_usage: the instances' memory measured at load (empty when unknown). */
  memory_usage: { type: string; id: number; byte_size: number }[];
  /** Present on a version that has served as a shadow: what its copies did against the primary. */
  shadow?: ShadowSnapshot;
  /** Requests that waited for this version to load on demand, and their total wait (not in inference_stats). */
  on_demand_wait?: Duration;
}

export interface ModelIndexEntry {
  name: string;
  version: string;
  state: string;
  reason: string;
}

export interface ServerMetadata {
  name: string;
  version: string;
  extensions: string[];
}

/**
 * Model control as the core sees it (the repository manager implements it). Rejections are
 * InferenceErrors: UNAVAILABLE when the control mode forbids it, INVALID_ARG for bad names or
 * overrides, INTERNAL when the load itself failed.
 */
export interface ModelControl {
  load(name: string, override: { config?: ModelConfig; files?: ReadonlyMap<string, Uint8Array> }): Promise<void>;
  unload(name: string, unloadDependents: boolean): Promise<void>;
  /** --model-load-on-demand: whether a request for a model that is not loaded loads it. */
  readonly loadOnDemand?: boolean;
  /** Loads `name` for a request; false when the repository has no such model (see RepositoryManager). */
  ensureLoaded?(name: string): Promise<boolean>;
}

/** How long a request waits for its model to load on demand before it is refused (UNAVAILABLE). */
export const ON_DEMAND_WAIT_MS = 120_000;

/** What a load request may carry, protocol-neutral (PROTOCOL.md §6.6). */
export interface LoadParameters {
  /** ModelConfig JSON text (Triton's `config` parameter). */
  config?: string;
  /** `<version>/<file>` → contents (Triton's `file:<version>/<file>` parameters). */
  files?: ReadonlyMap<string, Uint8Array>;
}

/** The registries the service owns besides the models; each defaults to its "off" form. */
export interface ServiceExtras {
  systemShm?: SystemSharedMemoryRegistry;
  logSettings?: LogSettings;
  tracer?: Tracer;
}

export class InferenceService {
  /** Triton's system_shared_memory regions (register/status/unregister go straight to it). */
  readonly systemShm: SystemSharedMemoryRegistry;
  /** Triton's cuda_shared_memory API on a server without CUDA. */
  readonly cudaShm: CudaSharedMemoryRegistry;
  /** Triton's logging settings (LogSettings RPC, /v2/logging), applied to the server's logger. */
  readonly logSettings: LogSettings;
  /** Triton's trace extension: settings, sampling and the trace sink. */
  readonly tracer: Tracer;
  readonly #registry: ModelRegistry;
  readonly #metadata: ServerMetadata;
  #control: ModelControl | undefined;
  #stopping = false;
  #starting = false;
  readonly #observers = new Set<InferenceObserver>();
  /** One fail function per request accepted by infer() and not yet answered. */
  readonly #answering = new Set<(why: (model: string, version: string) => InferenceError) => void>();

  constructor(registry: ModelRegistry, metadata: ServerMetadata, control?: ModelControl, extras: ServiceExtras = {}) {
    this.systemShm = extras.systemShm ?? new SystemSharedMemoryRegistry({ allowClientShm: false, shmDir: DEFAULT_SHM_DIR });
    this.cudaShm = new CudaSharedMemoryRegistry((name) => this.systemShm.has(name));
    this.logSettings = extras.logSettings ?? new LogSettings();
    this.tracer = extras.tracer ?? new Tracer(new TraceSettings(DEFAULT_TRACE_VALUES), NO_TRACE_SINK);
    this.#registry = registry;
    this.#metadata = metadata;
    this.#control = control;
  }

  /** Triton's RepositoryModelLoad; the config JSON is parsed here so both protocols share the rules. */
  async loadModel(name: string, p: LoadParameters): Promise<void> {
    if (this.#control === undefined) throw errors.unsupported('model control is not available in this server');
    if (this.#stopping) throw errors.serverStopping();
    let config: ModelConfig | undefined;
    if (p.config !== undefined) {
      try {
        config = modelConfigFromJsonText(p.config, 'Invalid config override');
      } catch (e) {
        throw errors.invalidArg(`failed to load '${name}': ${(e as Error).message}`);
      }
    }
    await this.#control.load(name, { ...(config ? { config } : {}), ...(p.files ? { files: p.files } : {}) });
  }

  /** Triton's RepositoryModelUnload. */
  async unloadModel(name: string, unloadDependents: boolean): Promise<void> {
    if (this.#control === undefined) throw errors.unsupported('model control is not available in this server');
    if (this.#stopping) throw errors.serverStopping();
    await this.#control.unload(name, unloadDependents);
  }

  /** While true (the initial model load), readiness answers false; health and RepositoryIndex answer. */
  setStarting(starting: boolean): void {
    this.#starting = starting;
  }

  /** After this, infer() and readiness answer UNAVAILABLE / false; in-flight work continues. */
  beginShutdown(): void {
    this.#stopping = true;
  }

  /**
   * Registers `fn` to hear every outcome, synchronously on the request's completion path: keep it
   * cheap. A throwing observer is ignored (it must never fail a request). Returns the unsubscribe.
   */
  observe(fn: InferenceObserver): () => void {
    this.#observers.add(fn);
    return () => this.#observers.delete(fn);
  }

  /** One sample per version that has statistics (READY or draining), in name/version order. */
  metricSamples(): ModelMetricSample[] {
    const out: ModelMetricSample[] = [];
    for (const m of this.#registry.all()) {
      for (const v of [...m.versions.values()].sort((a, b) => a.version - b.version)) {
        if (v.stats === undefined) continue;
        out.push({
          name: m.name,
          version: String(v.version),
          stats: v.stats.snapshot(),
          failures: v.stats.failureCounts(),
          pendingCount: v.scheduler?.pendingCount ?? 0,
          memoryBytes: memoryUsage(v)[0]?.byte_size ?? 0,
          ...(v.shadowStats === undefined ? {} : { shadow: v.shadowStats.snapshot() }),
        });
      }
    }
    return out;
  }

  serverLive(): boolean {
    return true;
  }

  /** Strict readiness: not starting or stopping, and every model in the repository has a READY version. */
  serverReady(): boolean {
    return !this.#starting && !this.#stopping && this.#registry.all().every((m) => m.unloaded === true || readyVersions(m).some((v) => v.unavailableDependency?.() === undefined));
  }

  serverMetadata(): ServerMetadata {
    return { ...this.#metadata, extensions: [...this.#metadata.extensions] };
  }

  /** NOT_FOUND for an unknown model (Triton answers an error, not ready=false). */
  modelReady(name: string, version: string): boolean {
    try {
      const { loaded } = this.#registry.resolve(name, version);
      return loaded.unavailableDependency?.() === undefined; // an ensemble needs its composing models
    } catch (e) {
      if (e instanceof InferenceError && e.code === 'UNAVAILABLE') return false;
      if (e instanceof InferenceError && e.code === 'NOT_FOUND' && this.#registry.get(name) !== undefined) return false;
      throw e;
    }
  }

  modelMetadata(name: string, version: string): ModelMetadata {
    const { entry, loaded } = this.#registry.resolve(name, version);
    const sig = loaded.signature!;
    const tm = (s: (typeof sig.inputs)[number]) => ({ name: s.name, datatype: s.datatype, shape: metadataShape(sig, s) });
    const labels = entry.routing?.labels;
    return {
      name,
      versions: version === '' ? readyVersions(entry).map((v) => String(v.version)) : [String(loaded.version)],
      platform: entry.config?.platform ?? '',
      inputs: sig.inputs.map(tm),
      outputs: sig.outputs.map(tm),
      ...(labels !== undefined && labels.size > 0 ? { version_labels: Object.fromEntries([...labels].map(([l, v]) => [l, String(v)])) } : {}),
    };
  }

  /** Whether `label` is a version label of `model` (the HTTP routes accept it as a version segment). */
  hasVersionLabel(model: string, label: string): boolean {
    return this.#registry.get(model)?.routing?.labels.has(label) === true;
  }

  modelConfig(name: string, version: string): Readonly<ModelConfig> {
    const { entry } = this.#registry.resolve(name, version);
    return entry.config ?? {};
  }

  /** Empty name = every model; empty version = every READY version (PROTOCOL.md §5.1). */
  modelStatistics(name: string, version: string): ModelStatistics[] {
    const entries = name === '' ? this.#registry.all() : [this.#registry.get(name)];
    const out: ModelStatistics[] = [];
    for (const entry of entries) {
      if (entry === undefined || (name !== '' && readyVersions(entry).length === 0)) {
        throw errors.invalidArg(`requested model '${name}' is not available`);
      }
      for (const lv of statVersions(entry, version)) {
        const shadow = lv.shadowStats?.snapshot();
        const wait = lv.stats!.onDemandWait();
        out.push({
          name: entry.name, version: String(lv.version), ...lv.stats!.snapshot(), memory_usage: memoryUsage(lv),
          ...(shadow ? { shadow } : {}), ...(wait.count > 0 ? { on_demand_wait: wait } : {}),
        });
      }
    }
    return out;
  }

  repositoryIndex(readyOnly: boolean): ModelIndexEntry[] {
    const out: ModelIndexEntry[] = [];
    for (const m of this.#registry.all()) {
      if (m.versions.size === 0) {
        if (!readyOnly) out.push({ name: m.name, version: '', state: m.state, reason: m.reason });
        continue;
      }
      for (const v of [...m.versions.values()].sort((a, b) => a.version - b.version)) {
        if (readyOnly && v.state !== 'READY') continue;
        const missing = v.state === 'READY' ? v.unavailableDependency?.() : undefined;
        if (readyOnly && missing !== undefined) continue;
        out.push({ name: m.name, version: String(v.version), state: missing === undefined ? v.state : 'UNAVAILABLE', reason: missing ?? v.reason });
      }
    }
    return out;
  }

  /**
   * Runs one request through its model's scheduler. Resolves with the requested outputs (all,
   * when none were requested), classification applied; rejects with InferenceError.
   */
  infer(req: InferenceRequest, endpoint: string = UNARY_ENDPOINT): Promise<InferenceResponse> {
    if (this.#stopping) return Promise.reject(errors.serverStopping());
    return this.#answerable(req, (r) => this.#route(r, undefined, undefined, endpoint).then(answered));
  }

  /**
   * A request whose responses go to `sink` (ModelStreamInfer; see response-stream.ts for the
   * contract). Resolves after the final send(); rejects with InferenceError instead. Same
   * validation, scheduling, statistics and observers as infer(), and answered on shutdown as
   * infer() is. Models that are not decoupled answer exactly once, with the final flag; decoupled
   * models answer 0..N times as the model sends, then the final flag (DecoupledResponses).
   */
  async inferStream(req: InferenceRequest, sink: ResponseSink): Promise<void> {
    if (this.#stopping) throw errors.serverStopping();
    const res = await this.#answerable(req, (r) => this.#route(r, () => sink.accepted(), sink));
    if (res !== undefined) sink.send(res, true);
  }

  /**
   * A front-door request: tracked in #answering until it settles, so failUnanswered() can answer
   * it on shutdown; shared-memory inputs and outputs around `run`.
   */
  #answerable<T extends InferenceResponse | undefined>(req: InferenceRequest, run: (r: InferenceRequest) => Promise<T>): Promise<T> {
    return new Promise((resolve, reject) => {
      const fail = (why: (model: string, version: string) => InferenceError) => reject(why(req.modelName, req.modelVersion));
      this.#answering.add(fail);
      this.#withSharedMemory(req, run).then(
        (r) => {
          this.#answering.delete(fail);
          resolve(r);
        },
        (e: unknown) => {
          this.#answering.delete(fail);
          reject(e);
        },
      );
    });
  }

  /**
   * Inputs read from and outputs written to registered shared-memory regions, for unary and stream
   * requests alike; the regions are leased for the whole request. Requests without shm parameters
   * pass straight through.
   */
  async #withSharedMemory<T extends InferenceResponse | undefined>(req: InferenceRequest, run: (r: InferenceRequest) => Promise<T>): Promise<T> {
    if (!usesSharedMemory(req)) return run(req);
    const shm = await RequestShm.bind(this.systemShm, req, modelRef(req.modelName, req.modelVersion));
    try {
      const res = await run(shm.request);
      if (res === undefined) return res; // a decoupled model's responses went to the stream as they came
      return { ...res, outputs: await shm.writeOutputs(res.outputs, modelRef(res.modelName, res.modelVersion)) };
    } finally {
      shm.release();
    }
  }

  /**
   * Answers every request accepted by infer() and not yet answered, queued or executing, with
   * `why(model, version)`; used on shutdown when the exit timeout ran out, before the listeners
   * close, so clients get a reason rather than a dropped call. The work itself is not stopped
   * (schedulers drop what is queued; an executing batch finishes or ends with its instance) and
   * its result, if any, is discarded.
   */
  failUnanswered(why: (model: string, version: string) => InferenceError): void {
    for (const fail of this.#answering) fail(why);
    this.#answering.clear();
  }

  /**
   * infer() for requests the server makes itself (ensemble steps): the same path, statistics and
   * observers, but accepted while the server is stopping, so pipelines in flight finish during a
   * drain. Front-ends must call infer().
   */
  async inferInternal(req: InferenceRequest): Promise<InferenceResponse> {
    return this.#route(req, undefined, undefined, INTERNAL_ENDPOINT).then(answered);
  }

  /**
   * Resolves `req` (labels, canary, on-demand load) and runs it, with its shadow copy when sampled.
   * `onAccepted` runs once the request is validated, just before it enters its scheduler. With a
   * `sink`, a decoupled model's responses go there and this resolves with undefined; without one
   * a decoupled model is refused (`endpoint` names the caller in Triton's message).
   */
  async #route(
    req: InferenceRequest, onAccepted: (() => void) | undefined, sink?: ResponseSink, endpoint = UNARY_ENDPOINT,
  ): Promise<InferenceResponse | undefined> {
    // A request under a BLS call to a model up its own chain would wait for an instance that waits on it.
    if (req.blsCallers?.includes(req.modelName) === true) throw errors.blsCycle(req.modelName, req.blsCallers);
    let start = nowNs();
    let resolved: { entry: ModelEntry; loaded: LoadedVersion };
    try {
      resolved = resolveForInference(this.#registry, req.modelName, req.modelVersion, req.id);
    } catch (e) {
      resolved = await this.#resolveOnDemand(req, e);
      // The wait for the load is reported apart (on_demand_wait); the request's own latency starts now.
      const now = nowNs();
      resolved.loaded.stats!.recordOnDemandWait(now - start);
      start = now;
    }
    const { entry, loaded } = resolved;
    if (entry.config?.model_transaction_policy?.decoupled === true) {
      if (sink === undefined) throw decoupledUnaryError(endpoint);
      return this.#runDecoupled(req, loaded, start, sink, onAccepted);
    }
    const settleShadow = this.#startShadow(entry, loaded, req);
    let res: InferenceResponse | undefined;
    try {
      res = await this.#run(req, loaded, start, true, onAccepted);
      return res;
    } finally {
      settleShadow?.(res?.outputs);
    }
  }

  /**
   * With --model-load-on-demand, a request for a model the repository has but that is not loaded
   * (never loaded, unloaded, evicted, refused for memory) or is still loading waits for one shared load, bounded by ON_DEMAND_WAIT_MS and
   * the request's own cancellation; otherwise `err` (the resolution error) stands.
   */
  async #resolveOnDemand(req: InferenceRequest, err: unknown): Promise<{ entry: ModelEntry; loaded: LoadedVersion }> {
    const control = this.#control;
    const entry = this.#registry.get(req.modelName);
    // Not a model whose last load failed: it stays failed until loaded again (no load per request).
    const notLoaded = entry === undefined || entry.unloaded === true || entry.state === 'LOADING' || entry.state === 'UNLOADING';
    const code = err instanceof InferenceError ? err.code : undefined;
    if (control?.loadOnDemand !== true || control.ensureLoaded === undefined || !notLoaded || (code !== 'NOT_FOUND' && code !== 'UNAVAILABLE')) throw err;
    let timer: NodeJS.Timeout | undefined;
    let waiter: OnDemandWaiter | undefined;
    const cancellation = req.cancellation;
    try {
      const found = await Promise.race([
        control.ensureLoaded(req.modelName),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(errors.unavailable(`model '${req.modelName}' is loading on demand and was not ready within ${ON_DEMAND_WAIT_MS} ms`)), ON_DEMAND_WAIT_MS);
          if (cancellation?.aborted === true) reject(errors.cancelled(req.modelName, req.modelVersion));
          waiter = { req, reject };
          cancellation?.subscribe(STOP_WAITING, waiter);
        }),
      ]);
      if (!found) throw err;
    } finally {
      clearTimeout(timer);
      if (waiter !== undefined) cancellation?.unsubscribe(STOP_WAITING, waiter);
    }
    return resolveForInference(this.#registry, req.modelName, req.modelVersion, req.id);
  }

  /** Runs `req` on the resolved version `loaded`: validate, schedule, post-process, record. */
  async #run(
    req: InferenceRequest, loaded: LoadedVersion, start: number, traced: boolean, onAccepted: (() => void) | undefined,
  ): Promise<InferenceResponse> {
    const stats = loaded.stats!;
    const version = String(loaded.version);
    const trace = traced && (req.parentTrace !== undefined || this.tracer.tracing) ? beginTrace(this.tracer, req, version, start) : undefined;
    let inScheduler = false;
    loaded.inFlight = (loaded.inFlight ?? 0) + 1;
    try {
      const vr = validateRequest(loaded.signature!, req);
      if (trace !== undefined) traceQueued(trace, vr.inputs);
      loaded.scheduler!.admit?.(vr);
      inScheduler = true;
      onAccepted?.();
      const tensors = await loaded.scheduler!.enqueue(vr, start);
      inScheduler = false;
      const outputs = postprocess(loaded, vr, tensors);
      const end = nowNs();
      const ns = end - start;
      stats.recordSuccess(ns);
      this.#notify({ model: req.modelName, version, durationNs: ns, failure: undefined });
      if (trace !== undefined) endTrace(this.tracer, trace, end, outputs, undefined);
      return { id: req.id, modelName: req.modelName, modelVersion: version, parameters: {}, outputs };
    } catch (e) {
      const err = InferenceError.from(e);
      const end = nowNs();
      const ns = end - start;
      const failure = inScheduler ? schedulerFailureReason(err) : 'OTHER';
      stats.recordFailure(ns, Date.now(), failure);
      this.#notify({ model: req.modelName, version, durationNs: ns, failure });
      if (trace !== undefined) endTrace(this.tracer, trace, end, [], err);
      throw err;
    } finally {
      loaded.inFlight -= 1;
    }
  }

  /**
   * A request of a decoupled model: validated and scheduled as #run does; its responses reach
   * `sink` as the instance sends them (DecoupledResponses). The scheduler frees the instance when
   * execute() settles; the request itself ends at its final response, error or abort. Statistics
   * count the request once, when it ends (Triton: success/fail per request, not per response).
   * Not traced, no shadow copy.
   */
  async #runDecoupled(
    req: InferenceRequest, loaded: LoadedVersion, start: number, sink: ResponseSink, onAccepted: (() => void) | undefined,
  ): Promise<undefined> {
    const stats = loaded.stats!;
    const version = String(loaded.version);
    let vr: ValidatedRequest | undefined;
    const responses = new DecoupledResponses({
      id: req.id, modelName: req.modelName, modelVersion: version, sink, signal: req.cancellation?.signal,
      outputs: (tensors) => postprocess(loaded, vr!, tensors),
    });
    let inScheduler = false;
    loaded.inFlight = (loaded.inFlight ?? 0) + 1;
    try {
      vr = validateRequest(loaded.signature!, { ...req, responses });
      loaded.scheduler!.admit?.(vr);
      inScheduler = true;
      onAccepted?.();
      await Promise.all([loaded.scheduler!.enqueue(vr, start).catch((e: unknown) => responses.close(e)), responses.ended]);
      const ns = nowNs() - start;
      stats.recordSuccess(ns);
      this.#notify({ model: req.modelName, version, durationNs: ns, failure: undefined });
      return undefined;
    } catch (e) {
      const err = InferenceError.from(e);
      responses.close(err);
      const ns = nowNs() - start;
      const failure = inScheduler ? schedulerFailureReason(err) : 'OTHER';
      stats.recordFailure(ns, Date.now(), failure);
      this.#notify({ model: req.modelName, version, durationNs: ns, failure });
      throw err;
    } finally {
      loaded.inFlight -= 1;
    }
  }

  /**
   * Starts the shadow copy of `req` when the model mirrors traffic and this request is sampled;
   * returns the function the primary calls with its outputs (undefined = it failed) once answered.
   */
  #startShadow(entry: ModelEntry, primary: LoadedVersion, req: InferenceRequest): ((outputs: OutputTensor[] | undefined) => void) | undefined {
    const split = entry.routing?.shadow;
    if (split === undefined || split.version === primary.version || !inSplit(split.basisPoints, req.id, 'shadow')) return undefined;
    const lv = entry.versions.get(split.version);
    if (lv?.state !== 'READY') return undefined;
    const stats = (lv.shadowStats ??= new ShadowStats());
    if (!stats.admit()) return undefined;
    const start = nowNs();
    const done = this.#run(shadowRequest(req, lv.version), lv, start, false, undefined)
      .then((r) => ({ outputs: r.outputs, ns: nowNs() - start }), () => undefined);
    return (primaryOutputs) => {
      void done.then((s) => (s === undefined ? stats.recordFailure() : stats.recordSuccess(s.ns, primaryOutputs, s.outputs)));
    };
  }

  /** Trace settings of `model` ('' = global); NOT_FOUND for a model the repository does not know. */
  traceSettings(model: string): TraceSettingsView {
    this.#knownModel(model);
    return this.tracer.settings.view(model);
  }

  updateTraceSettings(model: string, changes: Readonly<Record<string, TraceSettingChange>>): TraceSettingsView {
    this.#knownModel(model);
    return this.tracer.settings.update(model, changes);
  }

  #knownModel(model: string): void {
    if (model !== '' && this.#registry.get(model) === undefined) throw errors.modelNotFound(model);
  }

  #notify(outcome: InferenceOutcome): void {
    for (const fn of this.#observers) {
      try {
        fn(outcome);
      } catch {
        // An observer fault is the observer's; the request's outcome stands.
      }
    }
  }
}

/** A request waiting for its model to load on demand: a cancel ends the wait with CANCELLED. */
interface OnDemandWaiter {
  readonly req: InferenceRequest;
  readonly reject: (e: unknown) => void;
}

const STOP_WAITING: CancelListener<OnDemandWaiter> = {
  onCancel: (w) => w.reject(errors.cancelled(w.req.modelName, w.req.modelVersion)),
};

/**
 * The scheduler rejects with UNAVAILABLE for queue full / queue timeout / stopping (and a dead
 * worker, which we count as REJECTED too: the request never ran), with CANCELLED or
 * DEADLINE_EXCEEDED when the client gave up, and with the backend's own code otherwise.
 */
function schedulerFailureReason(err: InferenceError): FailureReason {
  if (err.code === 'CANCELLED' || err.code === 'DEADLINE_EXCEEDED') return 'CANCELED';
  if (err.code === 'UNAVAILABLE') return 'REJECTED';
  return 'BACKEND';
}

function statVersions(entry: ModelEntry, version: string): LoadedVersion[] {
  if (version === '') return readyVersions(entry);
  const v = NUMERIC_VERSION.test(version) ? Number(version) : entry.routing?.labels.get(version);
  const lv = v === undefined ? undefined : entry.versions.get(v);
  if (lv === undefined || lv.state !== 'READY') {
    throw errors.invalidArg(`requested model '${entry.name}' version ${version} is not available`);
  }
  return [lv];
}

function postprocess(loaded: LoadedVersion, vr: ValidatedRequest, tensors: readonly Tensor[]): OutputTensor[] {
  const sig = loaded.signature!;
  return tensors.map((t) => {
    const k = vr.classification.get(t.name);
    if (k === undefined) return { ...t, parameters: {} };
    try {
      const c = classify(t, k, sig.maxBatchSize > 0, sig.labels.get(t.name));
      return { name: t.name, datatype: c.datatype, shape: c.shape, data: c.data, parameters: {} };
    } catch (e) {
      throw errors.invalidArg(`classification of output '${t.name}' of model '${sig.name}' version ${sig.version} failed: ${(e as Error).message}`);
    }
  });
}

/** One CPU entry with the sum of the instances' measured memory, or none when no instance measured any. */
function memoryUsage(lv: LoadedVersion): ModelStatistics['memory_usage'] {
  const bytes = (lv.instances ?? []).reduce((n, i) => n + (i.memoryBytes ?? 0), 0);
  return bytes > 0 ? [{ type: 'CPU', id: 0, byte_size: bytes }] : [];
}
