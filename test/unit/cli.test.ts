/** Every documented flag parses into the option it controls (README "Flags" table). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { buildCli, parseCommandLine } from '../../src/cli.js';
import { DEFAULT_OPTIONS } from '../../src/config/server-options.js';
import { ROOT } from '../helpers/repo.js';

const parse = (...flags: string[]) => parseCommandLine(['node', 'infera', ...flags], {}, false);

describe('command line', () => {
  it('defaults: the bundled repository and Triton ports', () => {
    const o = parse();
    assert.deepEqual(o.modelRepositories, [path.join(ROOT, 'model-repository')]);
    assert.equal(o.grpcPort, 8001);
    assert.equal(o.httpPort, 8000);
    assert.equal(o.metricsPort, 8002);
    assert.equal(o.modelControlMode, 'none');
    assert.equal(o.autoCompleteConfig, true);
    assert.equal(o.exitTimeoutSecs, DEFAULT_OPTIONS.exitTimeoutSecs);
    assert.equal(o.logPretty, false, 'json when stdout is not a terminal');
  });

  it('every flag reaches its option', () => {
    const o = parse(
      '--model-repository', '/a', '--model-repository', '/b',
      '--grpc-port', '9001', '--grpc-address', '127.0.0.1',
      '--http-port', '9000', '--http-address', '127.0.0.2', '--http-max-input-size', '1024',
      '--metrics-port', '9002', '--metrics-address', '127.0.0.3',
      '--allow-grpc=true', '--allow-http=false', '--allow-metrics=false', '--allow-gpu-metrics=false', '--metrics-interval-ms', '500',
      '--model-control-mode', 'explicit', '--load-model', 'a', '--load-model', 'b',
      '--repository-poll-secs', '3', '--model-load-thread-count', '2',
      '--worker-pool-size', '3', '--worker-heap-limit-mb', '512', '--worker-watchdog-secs', '2.5',
      '--exit-timeout-secs', '7', '--log-verbose', '1', '--log-info=false', '--log-format', 'pretty',
    );
    assert.deepEqual(o.modelRepositories, ['/a', '/b']);
    assert.deepEqual([o.grpcPort, o.host, o.httpPort, o.httpAddress, o.httpMaxInputBytes], [9001, '127.0.0.1', 9000, '127.0.0.2', 1024]);
    assert.deepEqual([o.metricsPort, o.metricsAddress, o.metricsIntervalMs], [9002, '127.0.0.3', 500]);
    assert.deepEqual([o.allowGrpc, o.allowHttp, o.allowMetrics, o.allowGpuMetrics], [true, false, false, false]);
    assert.deepEqual([o.modelControlMode, o.loadModels, o.repositoryPollSecs, o.modelLoadThreadCount], ['explicit', ['a', 'b'], 3, 2]);
    assert.deepEqual([o.exitTimeoutSecs, o.logVerbose, o.logInfo, o.logPretty], [7, 1, false, true]);
    assert.deepEqual([o.workerPoolSize, o.workerHeapLimitMb, o.workerWatchdogSecs], [3, 512, 2.5]);
  });

  it('--grpc-max-input-size reaches its option and is checked', () => {
    assert.equal(parse().grpcMaxInputBytes, 2_147_483_647);
    assert.equal(parse('--grpc-max-input-size', '1048576').grpcMaxInputBytes, 1_048_576);
    assert.throws(() => parse('--grpc-max-input-size', '10'), /--grpc-max-input-size must be an integer in \[1024, 2147483647\]/);
  });

  it('the HTTP timeout flags reach their options and are checked', () => {
    const o = parse('--http-header-timeout-secs', '5', '--http-request-timeout-secs', '0', '--http-idle-timeout-secs', '9');
    assert.deepEqual([o.httpHeaderTimeoutSecs, o.httpRequestTimeoutSecs, o.httpIdleTimeoutSecs], [5, 0, 9]);
    const d = parse();
    assert.deepEqual([d.httpHeaderTimeoutSecs, d.httpRequestTimeoutSecs, d.httpIdleTimeoutSecs], [30, 300, 60]);
    assert.throws(() => parse('--http-header-timeout-secs', '0'), /--http-header-timeout-secs must be an integer in \[1, 86400\]/);
    assert.throws(() => parse('--http-header-timeout-secs', '20', '--http-request-timeout-secs', '10'), /must not exceed --http-request-timeout-secs/);
    assert.throws(() => parse('--http-idle-timeout-secs', '-1'), /--http-idle-timeout-secs must be an integer in \[0, 86400\]/);
  });

  it('shared memory, trace and log flags', () => {
    const o = parse(
      '--allow-client-shm=true', '--trace-config', 'level=TIMESTAMPS', '--trace-config', 'rate=10', '--trace-config', 'triton,file=/tmp/t.json',
      '--log-warning=false', '--log-error=false', '--log-file', '/tmp/infera.log', '--log-format', 'pretty',
    );
    assert.equal(o.allowClientShm, true);
    assert.deepEqual(o.traceConfig, ['level=TIMESTAMPS', 'rate=10', 'triton,file=/tmp/t.json']);
    assert.deepEqual([o.logWarning, o.logError, o.logFile], [false, false, '/tmp/infera.log']);
    assert.equal(o.logPretty, false, 'a log file gets JSON lines');
    assert.deepEqual([parse().allowClientShm, parse().traceConfig, parse().logFile], [false, [], '']);
    assert.throws(() => parse('--trace-config', 'level=LOUD'), /--trace-config 'level=LOUD': unsupported trace level/);
  });

  it('--strict-model-config and --disable-auto-complete-config turn auto-complete off', () => {
    assert.equal(parse('--strict-model-config').autoCompleteConfig, false);
    assert.equal(parse('--strict-model-config=true').autoCompleteConfig, false);
    assert.equal(parse('--strict-model-config=false').autoCompleteConfig, true);
    assert.equal(parse('--disable-auto-complete-config').autoCompleteConfig, false);
  });

  it('GPU discovery reads INFERA_NVIDIA_SMI and CUDA_VISIBLE_DEVICES', () => {
    const o = parseCommandLine(['node', 'infera'], { INFERA_NVIDIA_SMI: '/opt/fake-smi', CUDA_VISIBLE_DEVICES: '1' }, false);
    assert.equal(o.nvidiaSmi, '/opt/fake-smi');
    assert.equal(o.cudaVisibleDevices, '1');
  });

  it('refuses bad values and combinations with a message', () => {
    assert.throws(() => parse('--grpc-port', 'x'), /expected an integer/);
    assert.throws(() => parse('--grpc-port', '70000'), /--grpc-port must be an integer in \[0, 65535\]/);
    assert.throws(() => parse('--allow-http=maybe'), /expected true or false/);
    assert.throws(() => parse('--model-control-mode', 'sometimes'), /Allowed choices are none, poll, explicit/);
    assert.throws(() => parse('--load-model', 'a'), /--load-model requires --model-control-mode=explicit/);
    assert.throws(() => parse('--model-control-mode', 'explicit', '--load-model', '*', '--load-model', 'a'), /cannot be combined/);
    assert.throws(() => parse('--worker-pool-size', '-1'), /--worker-pool-size must be an integer >= 0/);
    assert.throws(() => parse('--worker-heap-limit-mb', '8'), /--worker-heap-limit-mb must be an integer >= 16/);
    assert.throws(() => parse('--worker-watchdog-secs', 'soon'), /--worker-watchdog-secs must be >= 0/);
    assert.throws(() => parse('--no-such-flag'), /unknown option/);
    assert.throws(() => parse('stray'), /too many arguments|unknown command|excess/);
  });

  it('--worker-channel picks the worker transport; without it the pool decides (INFERA_WORKER_CHANNEL, else ring)', () => {
    assert.equal(parse('--worker-channel', 'port').workerChannel, 'port');
    assert.equal(parse('--worker-channel', 'ring').workerChannel, 'ring');
    assert.equal(parse().workerChannel, undefined);
    assert.throws(() => parse('--worker-channel', 'pipe'), /worker-channel/);
  });

  it('--model-load-on-demand reaches its option and needs explicit or poll mode', () => {
    assert.equal(parse('--model-control-mode', 'explicit', '--model-load-on-demand').modelLoadOnDemand, true);
    assert.equal(parse('--model-control-mode', 'poll', '--model-load-on-demand=false').modelLoadOnDemand, false);
    assert.throws(() => parse('--model-load-on-demand'), /--model-load-on-demand requires --model-control-mode=explicit or poll/);
  });

  it('--model-memory-budget takes bytes or a percent of memory', () => {
    assert.equal(parse('--model-memory-budget', '2g').modelMemoryBudgetBytes, 2 * 1024 ** 3);
    assert.ok(parse('--model-memory-budget', '50%').modelMemoryBudgetBytes > 0);
    assert.equal(parse().modelMemoryBudgetBytes, 0, 'no budget by default');
    assert.throws(() => parse('--model-memory-budget', 'lots'), /--model-memory-budget must be bytes/);
  });

  it('--help lists every flag with its description', () => {
    const help = buildCli().helpInformation();
    for (const o of buildCli().options) assert.ok(help.includes(o.long!), `${o.long} in --help`);
  });
});
