/**
 * The command line: Triton's flag names where they exist, parsed into ServerOptions. Kept apart
 * from main.ts so every flag can be tested without starting a process. Reads process.env only for
 * the two GPU discovery variables, and the terminal state for the default log format.
 */
import path from 'node:path';
import { Command, Option, InvalidArgumentError } from 'commander';
import { DEFAULT_OPTIONS, resolveOptions, type ServerOptions } from './config/server-options.js';
import { findPackageRoot } from './util/package-root.js';
import { parseMemoryBudget } from './repository/memory-budget.js';

function memoryBudget(v: string): number {
  try {
    return parseMemoryBudget(v);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
}

function int(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n)) throw new InvalidArgumentError(`expected an integer, got '${v}'`);
  return n;
}

/** Triton's boolean flags take values: --strict-model-config=true, --allow-grpc=false. */
function bool(v: string | undefined): boolean {
  if (v === undefined) return true;
  if (/^(true|1|on|yes)$/i.test(v)) return true;
  if (/^(false|0|off|no)$/i.test(v)) return false;
  throw new InvalidArgumentError(`expected true or false, got '${v}'`);
}

function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}

export function buildCli(): Command {
  const d = DEFAULT_OPTIONS;
  return new Command('infera')
    .description('Triton-compatible inference server (KServe v2 gRPC and HTTP/REST) for ONNX models')
    .option('--model-repository <path>', 'model repository folder; repeat for several (default: the bundled model-repository/)', collect, [])
    .option('--grpc-port <port>', 'gRPC port (0 = any free port)', int, d.grpcPort)
    .option('--grpc-address <host>', 'address the gRPC listener binds', d.host)
    .option('--grpc-max-input-size <bytes>', 'largest gRPC request message, as sent and after decompression', int, d.grpcMaxInputBytes)
    .option('--http-port <port>', 'HTTP/REST port (0 = any free port)', int, d.httpPort)
    .option('--http-address <host>', 'address the HTTP listener binds', d.httpAddress)
    .option('--http-max-input-size <bytes>', 'largest HTTP request body, before and after decompression', int, d.httpMaxInputBytes)
    .option('--http-header-timeout-secs <secs>', 'a request\'s headers must arrive within this, else 408', int, d.httpHeaderTimeoutSecs)
    .option('--http-request-timeout-secs <secs>', 'a whole request (headers and body) must arrive within this, else 408; 0 = no limit', int, d.httpRequestTimeoutSecs)
    .option('--http-idle-timeout-secs <secs>', 'close a connection whose request has moved no bytes for this long; 0 = never', int, d.httpIdleTimeoutSecs)
    .option('--metrics-port <port>', 'Prometheus metrics port, GET /metrics (0 = any free port)', int, d.metricsPort)
    .option('--metrics-address <host>', 'address the metrics listener binds', d.metricsAddress)
    .option('--allow-grpc [bool]', 'serve gRPC', bool, d.allowGrpc)
    .option('--allow-http [bool]', 'serve HTTP/REST', bool, d.allowHttp)
    .option('--allow-metrics [bool]', 'serve Prometheus metrics', bool, d.allowMetrics)
    .option('--allow-gpu-metrics [bool]', 'add nv_gpu_* gauges (nvidia-smi) to the metrics when GPUs are present', bool, d.allowGpuMetrics)
    .option('--metrics-interval-ms <ms>', 'how often GPU metrics are polled', int, d.metricsIntervalMs)
    .option('--strict-model-config [bool]', 'require a complete config.pbtxt: no auto-complete from the model file', bool, false)
    .option('--disable-auto-complete-config', 'same as --strict-model-config=true')
    .addOption(new Option('--model-control-mode <mode>', 'none: load all once; poll: also rescan; explicit: load only --load-model and API requests').choices(['none', 'poll', 'explicit']).default(d.modelControlMode))
    .option('--load-model <name>', 'model to load at startup in explicit mode; repeat; * = all', collect, [])
    .option('--repository-poll-secs <secs>', 'poll mode: seconds between repository scans', int, d.repositoryPollSecs)
    .option('--model-load-thread-count <n>', 'models loaded in parallel', int, d.modelLoadThreadCount)
    .option('--model-memory-budget <bytes|%>', 'memory the loaded models may hold (bytes, k/m/g, or % of RAM); loads evict idle unpinned models, least recently used first', memoryBudget)
    .option('--model-load-on-demand [bool]', 'explicit/poll mode: a request for a repository model that is not loaded loads it', bool, d.modelLoadOnDemand)
    .option('--allow-client-shm [bool]', 'let clients register system shared memory regions for inputs and outputs', bool, d.allowClientShm)
    .option('--trace-config <setting>', 'tracing: [<mode>,]<setting>=<value>, e.g. level=TIMESTAMPS, rate=1, triton,file=/tmp/trace.json, mode=opentelemetry, opentelemetry,url=http://host:4318/v1/traces; repeat', collect, [])
    .option('--worker-pool-size <n>', 'shared worker threads hosting model instances (0 = one per CPU core)', int, d.workerPoolSize)
    .option('--worker-heap-limit-mb <mb>', 'V8 heap limit of each worker thread; a worker that exceeds it is restarted', int, d.workerHeapLimitMb)
    .option('--worker-watchdog-secs <secs>', 'restart a worker whose batch has run this long (0 = off)', Number, d.workerWatchdogSecs)
    .addOption(new Option('--worker-channel <channel>', 'how instances exchange batches with their worker: ring (shared memory rings) or port (MessagePort); default INFERA_WORKER_CHANNEL, else ring').choices(['ring', 'port']))
    .option('--exit-timeout-secs <secs>', 'on SIGINT/SIGTERM, wait this long for in-flight requests', int, d.exitTimeoutSecs)
    .option('--log-verbose <level>', 'verbose logging level (0 = off, 1+ = debug)', int, d.logVerbose)
    .option('--log-info [bool]', 'log informational messages', bool, d.logInfo)
    .option('--log-warning [bool]', 'log warnings', bool, d.logWarning)
    .option('--log-error [bool]', 'log errors', bool, d.logError)
    .option('--log-file <path>', 'write JSON log lines to this file instead of stdout', d.logFile)
    .addOption(new Option('--log-format <format>', 'log format: json lines or pretty (default: pretty on a terminal)').choices(['json', 'pretty']))
    .allowExcessArguments(false);
}

/**
 * argv (as process.argv: node, script, flags…) → validated, frozen ServerOptions. Throws
 * commander's error for unknown flags or bad values, InferenceError(INVALID_ARG) for bad
 * combinations. `env` and `isTTY` are parameters so tests can pass their own.
 */
export function parseCommandLine(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>> = process.env,
  isTTY: boolean = process.stdout.isTTY === true,
): Readonly<ServerOptions> {
  const cli = buildCli().exitOverride().configureOutput({ writeErr: () => undefined }).parse([...argv]);
  const f = cli.opts<Record<string, unknown>>();
  const repos = (f['modelRepository'] as string[]).length > 0
    ? (f['modelRepository'] as string[])
    : [path.join(findPackageRoot(), 'model-repository')];
  const format = f['logFormat'] as string | undefined;
  const partial = {
    modelRepositories: repos,
    grpcPort: f['grpcPort'] as number,
    host: f['grpcAddress'] as string,
    grpcMaxInputBytes: f['grpcMaxInputSize'] as number,
    httpPort: f['httpPort'] as number,
    httpAddress: f['httpAddress'] as string,
    httpMaxInputBytes: f['httpMaxInputSize'] as number,
    httpHeaderTimeoutSecs: f['httpHeaderTimeoutSecs'] as number,
    httpRequestTimeoutSecs: f['httpRequestTimeoutSecs'] as number,
    httpIdleTimeoutSecs: f['httpIdleTimeoutSecs'] as number,
    metricsPort: f['metricsPort'] as number,
    metricsAddress: f['metricsAddress'] as string,
    allowGrpc: f['allowGrpc'] as boolean,
    allowHttp: f['allowHttp'] as boolean,
    allowMetrics: f['allowMetrics'] as boolean,
    autoCompleteConfig: !(f['strictModelConfig'] as boolean) && f['disableAutoCompleteConfig'] !== true,
    exitTimeoutSecs: f['exitTimeoutSecs'] as number,
    modelControlMode: f['modelControlMode'] as 'none' | 'poll' | 'explicit',
    loadModels: f['loadModel'] as string[],
    repositoryPollSecs: f['repositoryPollSecs'] as number,
    modelLoadThreadCount: f['modelLoadThreadCount'] as number,
    modelLoadOnDemand: f['modelLoadOnDemand'] as boolean,
    modelMemoryBudgetBytes: (f['modelMemoryBudget'] as number | undefined) ?? 0,
    workerPoolSize: f['workerPoolSize'] as number,
    workerHeapLimitMb: f['workerHeapLimitMb'] as number,
    workerWatchdogSecs: f['workerWatchdogSecs'] as number,
    ...(f['workerChannel'] === undefined ? {} : { workerChannel: f['workerChannel'] as 'ring' | 'port' }),
    logVerbose: f['logVerbose'] as number,
    logInfo: f['logInfo'] as boolean,
    logWarning: f['logWarning'] as boolean,
    logError: f['logError'] as boolean,
    logFile: f['logFile'] as string,
    // A log file gets JSON lines; pretty output is for a terminal.
    logPretty: f['logFile'] !== '' ? false : format === undefined ? isTTY : format === 'pretty',
    allowGpuMetrics: f['allowGpuMetrics'] as boolean,
    metricsIntervalMs: f['metricsIntervalMs'] as number,
    allowClientShm: f['allowClientShm'] as boolean,
    traceConfig: f['traceConfig'] as string[],
    // GPU discovery: INFERA_NVIDIA_SMI replaces the nvidia-smi command ('' = no GPUs); CUDA's own
    // CUDA_VISIBLE_DEVICES decides which GPUs this process sees and how they are numbered.
    nvidiaSmi: env['INFERA_NVIDIA_SMI'] ?? DEFAULT_OPTIONS.nvidiaSmi,
    cudaVisibleDevices: env['CUDA_VISIBLE_DEVICES'],
  };
  return resolveOptions(partial);
}
