/**
 * InferenceServer: the composition root. Wires repository → registry → service → front-ends,
 * and owns the lifecycle:
 *
 *   open():   everything but the models: backends on one worker pool, registry, service
 *   loadModels(): discover + load every model (failures become UNAVAILABLE entries, never throw)
 *   create(): open() + loadModels()
 *   start():  bind the listeners (metrics, HTTP, gRPC; each can be switched off). main.ts starts
 *             them before loadModels(), so health and RepositoryIndex answer while models load
 *             (server not ready, models LOADING); embedders and tests use create() then start().
 *   stop():   refuse new work (UNAVAILABLE) → drain schedulers up to the exit timeout → answer
 *             every unfinished request, queued or executing, with UNAVAILABLE "server stopping"
 *             → close listeners (after the answers) → finalize instances (sessions released)
 *             → stop the pool
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { BackendRegistry } from './backends/backend-registry.js';
import { setupBackends } from './backends/setup-backends.js';
import { initialLogSettings, resolveOptions, type ServerOptions } from './config/server-options.js';
import { logSettingsOf } from './observability/logger.js';
import { LogSettings } from './observability/log-settings.js';
import { InferenceService } from './core/inference-service.js';
import { createInternalInfer } from './core/internal-infer.js';
import { GrpcFrontend } from './frontends/grpc/grpc-server.js';
import { HttpFrontend } from './frontends/http/http-server.js';
import { InferenceMetrics } from './observability/metrics.js';
import { MetricsServer } from './observability/metrics-server.js';
import { unloadVersion } from './repository/model-loader.js';
import { RepositoryManager } from './repository/repository-manager.js';
import { ModelRegistry } from './repository/model-registry.js';
import { errors } from './errors/catalogue.js';
import { drainWaves } from './ensemble/ensemble-order.js';
import { findPackageRoot } from './util/package-root.js';
import { discoverGpus, queryNvidiaSmi, visibleDevices, type GpuInventory } from './backends/gpu/gpu-devices.js';
import { GpuMetrics } from './observability/gpu-metrics.js';
import { DEFAULT_SHM_DIR, SystemSharedMemoryRegistry } from './core/shared-memory/system-shm-registry.js';
import { parseTraceConfig, type TraceConfig } from './observability/trace/trace-config.js';
import { TraceSettings } from './observability/trace/trace-settings.js';
import { Tracer } from './observability/trace/tracer.js';
import { TraceFileSink } from './observability/trace/trace-file-sink.js';
import { WorkerPool } from './workers/worker-pool.js';

/**
 * Extensions reported by ServerMetadata: only what this build really implements
 * (PROTOCOL.md §6.7 order).
 */
export const EXTENSIONS: readonly string[] = Object.freeze([
  'classification',
  'sequence',
  'model_repository',
  'model_repository(unload_dependents)',
  'schedule_policy',
  'model_configuration',
  'system_shared_memory',
  'binary_tensor_data',
  'statistics',
  'trace',
  'logging',
]);

/** The extensions this server's options switch off (system_shared_memory needs --allow-client-shm). */
export function serverExtensions(o: Pick<ServerOptions, 'allowClientShm'>): string[] {
  return EXTENSIONS.filter((e) => e !== 'system_shared_memory' || o.allowClientShm);
}

/** Bound ports; undefined for a listener switched off (--allow-grpc/--allow-http/--allow-metrics=false). */
export interface StartedAddresses {
  grpcPort: number | undefined;
  httpPort: number | undefined;
  metricsPort: number | undefined;
}

export class InferenceServer {
  readonly options: Readonly<ServerOptions>;
  readonly service: InferenceService;
  readonly registry: ModelRegistry;
  readonly #log: Logger;
  readonly #manager: RepositoryManager;
  /** Hosts every model instance of this server (workers/worker-pool.ts). */
  readonly workerPool: WorkerPool;
  #grpc: GrpcFrontend | undefined;
  #http: HttpFrontend | undefined;
  #metrics: MetricsServer | undefined;
  #gpus: GpuInventory = { devices: [], reason: '' };
  #gpuMetrics: GpuMetrics | undefined;
  #stopped: Promise<void> | undefined;

  private constructor(
    options: Readonly<ServerOptions>, registry: ModelRegistry, service: InferenceService, manager: RepositoryManager, pool: WorkerPool, log: Logger,
  ) {
    this.options = options;
    this.workerPool = pool;
    this.#manager = manager;
    this.registry = registry;
    this.service = service;
    this.#log = log;
  }

  /** Loads every model, then resolves (see open() to serve while loading). */
  static async create(partial: Parameters<typeof resolveOptions>[0], log: Logger): Promise<InferenceServer> {
    const server = await InferenceServer.open(partial, log);
    await server.loadModels();
    return server;
  }

  /** The server with no model loaded yet; call loadModels() (before or after start()). */
  static async open(partial: Parameters<typeof resolveOptions>[0], log: Logger): Promise<InferenceServer> {
    const options = resolveOptions(partial);
    const pool = new WorkerPool({
      ...(options.workerPoolSize > 0 ? { size: options.workerPoolSize } : {}),
      heapLimitMb: options.workerHeapLimitMb, watchdogMs: options.workerWatchdogSecs * 1000, logger: log,
      ...(options.workerChannel === undefined ? {} : { channel: options.workerChannel }),
    });
    const backends = new BackendRegistry();
    setupBackends(backends, { pool });
    const registry = new ModelRegistry();
    const gpus = await discoverGpus({ nvidiaSmi: options.nvidiaSmi, cudaVisibleDevices: options.cudaVisibleDevices });
    if (gpus.devices.length > 0) log.info({ gpus: gpus.devices.map((d) => ({ id: d.id, name: d.name, uuid: d.uuid })) }, 'GPUs found');
    else log.info({ reason: gpus.reason }, 'no GPUs: KIND_AUTO models run on the CPU, KIND_GPU models fail to load');
    const manager = new RepositoryManager({
      gpus: { count: gpus.devices.length, unavailableReason: gpus.reason },
      repositories: options.modelRepositories,
      mode: options.modelControlMode,
      startupModels: options.loadModels,
      pollSecs: options.repositoryPollSecs,
      loadThreads: options.modelLoadThreadCount,
      loadOnDemand: options.modelLoadOnDemand,
      ...(options.modelMemoryBudgetBytes > 0 ? { memoryBudgetBytes: options.modelMemoryBudgetBytes } : {}),
      autoComplete: options.autoCompleteConfig,
      drainTimeoutMs: options.exitTimeoutSecs * 1000,
      backends,
      registry,
      logger: log,
      // Ensemble steps re-enter the core; `service` exists before any model loads.
      ensembles: { registry, runStep: (req) => service.inferInternal(req) },
      // BLS calls from model code re-enter the core the same way.
      infer: createInternalInfer(() => service),
    });
    const systemShm = new SystemSharedMemoryRegistry({ allowClientShm: options.allowClientShm, shmDir: DEFAULT_SHM_DIR });
    const metadata = { name: 'infera', version: packageVersion(), extensions: serverExtensions(options) };
    const logSettings = logSettingsOf(log) ?? new LogSettings(initialLogSettings(options));
    const tracer = await createTracer(parseTraceConfig(options.traceConfig), log);
    const service = new InferenceService(registry, metadata, manager, { systemShm, logSettings, tracer });
    service.setStarting(true); // not ready until loadModels() has settled
    const server = new InferenceServer(options, registry, service, manager, pool, log);
    server.#gpus = gpus;
    return server;
  }

  /** The initial load for the model control mode; resolves when every model has settled. */
  async loadModels(): Promise<void> {
    try {
      await this.#manager.startup();
    } finally {
      this.service.setStarting(false);
    }
  }

  async start(): Promise<StartedAddresses> {
    const o = this.options;
    if (!o.allowGrpc && !o.allowHttp) throw errors.invalidArg('no front-end enabled: --allow-grpc=false and --allow-http=false leave nothing to serve');
    try {
      if (o.allowMetrics) {
        const metrics = new InferenceMetrics(() => this.service.metricSamples(), { evictions: () => this.#manager.evictionCounts() });
        this.service.observe((outcome) => metrics.observe(outcome));
        if (o.allowGpuMetrics && this.#gpus.devices.length > 0) await this.#startGpuMetrics(metrics.registry);
        this.#metrics = MetricsServer.create(metrics);
        await this.#metrics.listen(o.metricsAddress, o.metricsPort);
      }
      if (o.allowHttp) {
        this.#http = HttpFrontend.create(this.service, this.#log, {
          maxInputBytes: o.httpMaxInputBytes,
          headerTimeoutMs: o.httpHeaderTimeoutSecs * 1000,
          requestTimeoutMs: o.httpRequestTimeoutSecs * 1000,
          idleTimeoutMs: o.httpIdleTimeoutSecs * 1000,
        });
        await this.#http.listen(o.httpAddress, o.httpPort);
      }
      if (o.allowGrpc) {
        this.#grpc = GrpcFrontend.create(this.service, this.#log, { maxInputBytes: o.grpcMaxInputBytes });
        await this.#grpc.listen(o.host, o.grpcPort);
      }
    } catch (e) {
      await this.#closeListeners(false);
      throw e;
    }
    const ports: StartedAddresses = { grpcPort: this.#grpc?.port, httpPort: this.#http?.port, metricsPort: this.#metrics?.port };
    this.#log.info({ ...ports, models: this.registry.all().length }, 'server started');
    return ports;
  }

  async #startGpuMetrics(registry: InferenceMetrics['registry']): Promise<void> {
    const { nvidiaSmi, cudaVisibleDevices, metricsIntervalMs } = this.options;
    this.#gpuMetrics = new GpuMetrics({
      query: async () => visibleDevices(await queryNvidiaSmi(nvidiaSmi), cudaVisibleDevices),
      intervalMs: metricsIntervalMs,
      logger: this.#log,
    });
    this.#gpuMetrics.register(registry);
    await this.#gpuMetrics.start();
  }

  async #closeListeners(drained: boolean): Promise<void> {
    this.#gpuMetrics?.stop();
    await Promise.all([this.#grpc?.close(drained ? 1000 : 0), this.#http?.close(drained ? 1000 : 0), this.#metrics?.close()]);
  }

  /** Idempotent; see the module header for the order. */
  stop(): Promise<void> {
    this.#stopped ??= this.#stop();
    return this.#stopped;
  }

  async #stop(): Promise<void> {
    const timeoutMs = this.options.exitTimeoutSecs * 1000;
    this.service.beginShutdown();
    await this.#manager.stop();
    const versions = this.registry.all().flatMap((m) => [...m.versions.values()]);
    const schedulers = versions.flatMap((v) => (v.scheduler ? [v.scheduler] : []));
    const inflight = schedulers.reduce((n, s) => n + s.inflightCount, 0);
    this.#log.info({ inflight, timeoutSecs: this.options.exitTimeoutSecs }, 'stopping: draining in-flight requests');
    let timer: NodeJS.Timeout | undefined;
    // Ensembles drain before the models they compose, so pipelines in flight can finish.
    const inOrder = drainWaves(this.registry.all()).reduce<Promise<unknown>>(
      (prev, wave) => prev.then(() => Promise.all(wave.map((s) => s.stop()))),
      Promise.resolve(),
    );
    const drained = await Promise.race([
      inOrder.then(() => true),
      new Promise<false>((r) => (timer = setTimeout(() => r(false), timeoutMs))),
    ]);
    clearTimeout(timer);
    if (!drained) {
      // Answer every unfinished request with a reason before the listeners close (closing first
      // would end executing calls with a bare CANCELLED).
      this.#log.warn('exit timeout reached: failing unfinished requests');
      const secs = this.options.exitTimeoutSecs;
      for (const m of this.registry.all()) for (const v of m.versions.values()) v.scheduler?.failQueued(errors.stoppedInflight(m.name, v.version, secs));
      this.service.failUnanswered((model, version) => errors.stoppedInflight(model, version, secs));
    }
    await this.#closeListeners(true);
    await Promise.all(versions.map((v) => unloadVersion(v)));
    this.service.systemShm.close();
    await this.service.tracer.close();
    await this.workerPool.stop();
    this.#log.info('stopped');
  }
}

/**
 * The trace sink of the configured mode: Triton's trace file, or an OTLP/HTTP exporter (the
 * OpenTelemetry SDK is loaded only in that mode).
 */
async function createTracer(cfg: TraceConfig, log: Logger): Promise<Tracer> {
  const settings = new TraceSettings(cfg.values);
  if (cfg.values.trace_mode !== 'opentelemetry') {
    if (cfg.values.trace_file === '' && !cfg.values.trace_level.includes('OFF')) log.warn('tracing is on in triton mode without --trace-config triton,file=<path>: traces are not written');
    return new Tracer(settings, new TraceFileSink(settings, log));
  }
  const { OtelSink } = await import('./observability/trace/otel-sink.js');
  return new Tracer(settings, new OtelSink(cfg.otel, log.child({ component: 'trace' })));
}

function packageVersion(): string {
  const root = findPackageRoot();
  return (JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string }).version;
}
