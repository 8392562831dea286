/**
 * Server options: one type, defaults in one place, validated and frozen at the edge. main.ts
 * fills it from the command line; tests and embedders pass it directly. Nothing downstream reads
 * argv or process.env.
 */
import { errors } from '../errors/catalogue.js';
import { parseTraceConfig } from '../observability/trace/trace-config.js';

export interface ServerOptions {
  /** One or more repository folders; model names must be unique across them. */
  modelRepositories: string[];
  grpcPort: number;
  /** KServe v2 HTTP/REST front-end. */
  httpPort: number;
  /** Prometheus endpoint (`GET /metrics`). */
  metricsPort: number;
  /** Address the gRPC listener binds (--grpc-address). */
  host: string;
  httpAddress: string;
  metricsAddress: string;
  allowGrpc: boolean;
  allowHttp: boolean;
  allowMetrics: boolean;
  /** Largest HTTP request body, compressed and after decompression (Triton's --http-max-input-size). */
  httpMaxInputBytes: number;
  /**
   * --grpc-max-input-size: largest gRPC request message, as sent and after decompression
   * (grpc.max_receive_message_length; Triton's fixed 2 GiB − 1 by default). Larger messages are
   * refused from their declared length, before their bytes are read.
   */
  grpcMaxInputBytes: number;
  /** --http-header-timeout-secs: a request's headers must arrive within this (408). */
  httpHeaderTimeoutSecs: number;
  /** --http-request-timeout-secs: a whole request, headers and body, must arrive within this (408); 0 = no limit. */
  httpRequestTimeoutSecs: number;
  /** --http-idle-timeout-secs: a connection with a request under way but no bytes moving for this long is closed; 0 = never. */
  httpIdleTimeoutSecs: number;
  /** false with --strict-model-config=true or --disable-auto-complete-config. */
  autoCompleteConfig: boolean;
  /** Triton's --model-control-mode. */
  modelControlMode: 'none' | 'poll' | 'explicit';
  /** --load-model names (explicit mode); '*' = all. */
  loadModels: string[];
  /** --repository-poll-secs (poll mode). */
  repositoryPollSecs: number;
  /** --model-load-thread-count: models loading in parallel. */
  modelLoadThreadCount: number;
  /** --model-load-on-demand (explicit / poll): a request for a model that is not loaded loads it. */
  modelLoadOnDemand: boolean;
  /** --model-memory-budget in bytes; 0 = no budget. */
  modelMemoryBudgetBytes: number;
  /** --worker-pool-size: shared worker threads hosting model instances; 0 = one per CPU core. */
  workerPoolSize: number;
  /** --worker-heap-limit-mb: V8 heap limit of each worker thread (MiB). */
  workerHeapLimitMb: number;
  /** --worker-watchdog-secs: a batch in flight this long ends its worker (restarted); 0 = off. */
  workerWatchdogSecs: number;
  /** --worker-channel: 'ring' (shared rings) or 'port' (MessagePort); undefined = INFERA_WORKER_CHANNEL, else 'ring'. */
  workerChannel?: 'ring' | 'port';
  /** Seconds to wait for in-flight requests on shutdown before cancelling them. */
  exitTimeoutSecs: number;
  /** 0 = info level; ≥ 1 = debug. */
  logVerbose: number;
  logInfo: boolean;
  /** --log-warning / --log-error: write warning / error records. */
  logWarning: boolean;
  logError: boolean;
  /** --log-file: JSON lines go to this file instead of stdout ('' = stdout). */
  logFile: string;
  logPretty: boolean;
  /** nvidia-smi used for GPU discovery and GPU metrics ('' = no GPUs); main.ts reads INFERA_NVIDIA_SMI. */
  nvidiaSmi: string;
  /** The process's CUDA_VISIBLE_DEVICES (undefined = unset): which GPUs CUDA shows, and their ids. */
  cudaVisibleDevices: string | undefined;
  /** --allow-gpu-metrics: nv_gpu_* gauges on /metrics when GPUs were found. */
  allowGpuMetrics: boolean;
  /** --metrics-interval-ms: how often GPU metrics are polled. */
  metricsIntervalMs: number;
  /** --allow-client-shm: clients may register system shared memory (Triton's default since 26.05: false). */
  allowClientShm: boolean;
  /** --trace-config entries, `[<mode>,]<setting>=<value>` (Triton's syntax; see trace-config.ts). */
  traceConfig: string[];
}

export const DEFAULT_OPTIONS: Readonly<Omit<ServerOptions, 'modelRepositories'>> = Object.freeze({
  grpcPort: 8001,
  httpPort: 8000,
  metricsPort: 8002,
  host: '0.0.0.0',
  httpAddress: '0.0.0.0',
  metricsAddress: '0.0.0.0',
  allowGrpc: true,
  allowHttp: true,
  allowMetrics: true,
  httpMaxInputBytes: 64 * 1024 * 1024,
  grpcMaxInputBytes: 2_147_483_647,
  httpHeaderTimeoutSecs: 30,
  httpRequestTimeoutSecs: 300,
  httpIdleTimeoutSecs: 60,
  autoCompleteConfig: true,
  modelControlMode: 'none',
  loadModels: [],
  repositoryPollSecs: 15,
  modelLoadThreadCount: 4,
  modelLoadOnDemand: false,
  modelMemoryBudgetBytes: 0,
  workerPoolSize: 0,
  workerHeapLimitMb: 2048,
  workerWatchdogSecs: 60,
  exitTimeoutSecs: 30,
  logVerbose: 0,
  logInfo: true,
  logWarning: true,
  logError: true,
  logFile: '',
  logPretty: false,
  nvidiaSmi: 'nvidia-smi',
  cudaVisibleDevices: undefined,
  allowGpuMetrics: true,
  metricsIntervalMs: 2000,
  allowClientShm: false,
  traceConfig: [],
});

export function resolveOptions(partial: Partial<ServerOptions> & Pick<ServerOptions, 'modelRepositories'>): Readonly<ServerOptions> {
  const o: ServerOptions = {
    ...DEFAULT_OPTIONS, ...partial, modelRepositories: [...partial.modelRepositories], loadModels: [...(partial.loadModels ?? [])], traceConfig: [...(partial.traceConfig ?? [])],
  };
  const problems: string[] = [];
  if (o.modelRepositories.length === 0) problems.push('at least one --model-repository is required');
  for (const [name, port] of [['grpc-port', o.grpcPort], ['http-port', o.httpPort], ['metrics-port', o.metricsPort]] as const) {
    if (!Number.isInteger(port) || port < 0 || port > 65535) problems.push(`--${name} must be an integer in [0, 65535], got ${port}`);
  }
  if (!Number.isSafeInteger(o.httpMaxInputBytes) || o.httpMaxInputBytes <= 0) {
    problems.push(`--http-max-input-size must be a positive integer (bytes), got ${o.httpMaxInputBytes}`);
  }
  if (!Number.isInteger(o.grpcMaxInputBytes) || o.grpcMaxInputBytes < 1024 || o.grpcMaxInputBytes > 2_147_483_647) {
    problems.push(`--grpc-max-input-size must be an integer in [1024, 2147483647] (bytes), got ${o.grpcMaxInputBytes}`);
  }
  problems.push(...httpTimeoutProblems(o));
  if (!['none', 'poll', 'explicit'].includes(o.modelControlMode)) problems.push(`--model-control-mode must be none, poll or explicit, got '${o.modelControlMode}'`);
  if (o.loadModels.length > 0 && o.modelControlMode !== 'explicit') problems.push('--load-model requires --model-control-mode=explicit');
  if (o.loadModels.includes('*') && o.loadModels.length > 1) problems.push("--load-model=* cannot be combined with other model names");
  if (o.modelLoadOnDemand && o.modelControlMode === 'none') problems.push('--model-load-on-demand requires --model-control-mode=explicit or poll');
  if (!Number.isSafeInteger(o.modelMemoryBudgetBytes) || o.modelMemoryBudgetBytes < 0) problems.push(`--model-memory-budget must be a byte count >= 0, got ${o.modelMemoryBudgetBytes}`);
  if (!(o.repositoryPollSecs > 0)) problems.push(`--repository-poll-secs must be > 0, got ${o.repositoryPollSecs}`);
  if (!Number.isInteger(o.modelLoadThreadCount) || o.modelLoadThreadCount < 1) problems.push(`--model-load-thread-count must be an integer >= 1, got ${o.modelLoadThreadCount}`);
  if (!Number.isInteger(o.workerPoolSize) || o.workerPoolSize < 0) problems.push(`--worker-pool-size must be an integer >= 0, got ${o.workerPoolSize}`);
  if (!Number.isInteger(o.workerHeapLimitMb) || o.workerHeapLimitMb < 16) problems.push(`--worker-heap-limit-mb must be an integer >= 16, got ${o.workerHeapLimitMb}`);
  if (!(o.workerWatchdogSecs >= 0)) problems.push(`--worker-watchdog-secs must be >= 0, got ${o.workerWatchdogSecs}`);
  if (o.workerChannel !== undefined && o.workerChannel !== 'ring' && o.workerChannel !== 'port') problems.push(`--worker-channel must be ring or port, got ${String(o.workerChannel)}`);
  if (!(o.exitTimeoutSecs >= 0)) problems.push(`--exit-timeout-secs must be >= 0, got ${o.exitTimeoutSecs}`);
  if (!Number.isInteger(o.metricsIntervalMs) || o.metricsIntervalMs < 100) problems.push(`--metrics-interval-ms must be an integer >= 100, got ${o.metricsIntervalMs}`);
  if (!Number.isInteger(o.logVerbose) || o.logVerbose < 0) problems.push(`--log-verbose must be an integer >= 0, got ${o.logVerbose}`);
  try {
    parseTraceConfig(o.traceConfig);
  } catch (e) {
    problems.push((e as Error).message);
  }
  if (problems.length > 0) throw errors.invalidArg(problems.join('; '));
  return Object.freeze(o);
}

function httpTimeoutProblems(o: ServerOptions): string[] {
  const out: string[] = [];
  const whole = (v: number) => Number.isInteger(v) && v >= 0 && v <= 86_400;
  if (!whole(o.httpHeaderTimeoutSecs) || o.httpHeaderTimeoutSecs === 0) out.push(`--http-header-timeout-secs must be an integer in [1, 86400], got ${o.httpHeaderTimeoutSecs}`);
  if (!whole(o.httpRequestTimeoutSecs)) out.push(`--http-request-timeout-secs must be an integer in [0, 86400], got ${o.httpRequestTimeoutSecs}`);
  if (!whole(o.httpIdleTimeoutSecs)) out.push(`--http-idle-timeout-secs must be an integer in [0, 86400], got ${o.httpIdleTimeoutSecs}`);
  if (o.httpRequestTimeoutSecs > 0 && o.httpHeaderTimeoutSecs > o.httpRequestTimeoutSecs) {
    out.push(`--http-header-timeout-secs (${o.httpHeaderTimeoutSecs}) must not exceed --http-request-timeout-secs (${o.httpRequestTimeoutSecs})`);
  }
  return out;
}

/** The LogSettings the server starts with (Triton's logging extension names). */
export function initialLogSettings(o: Pick<ServerOptions, 'logVerbose' | 'logInfo' | 'logWarning' | 'logError' | 'logFile'>) {
  return { log_file: o.logFile, log_info: o.logInfo, log_warning: o.logWarning, log_error: o.logError, log_verbose_level: o.logVerbose };
}

export function logLevel(o: Pick<ServerOptions, 'logVerbose' | 'logInfo'>): string {
  if (o.logVerbose > 0) return 'debug';
  return o.logInfo ? 'info' : 'warn';
}
