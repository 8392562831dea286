/**
 * `node dist/bench/channel-bench.js`: the worker channel's own cost, main → worker → main, for
 * each transport (worker-pool.ts `channel`: 'port' = MessagePort + structured clone, 'ring' =
 * shared rings + Atomics.waitAsync). One WorkerInstanceProxy on a one-worker pool runs a runner
 * that answers its inputs as outputs (bench/channel-echo-runner.ts), so nothing but the channel
 * is measured: the two INT32 [1,16] inputs of `simple` at c=1 (round-trip p50/p99/mean) and at
 * c=16 (round trips per second with 16 batches outstanding), then one 4 KiB, 16 KiB, 64 KiB and 1 MiB
 * input at c=1 (a frame over the ring's frame limit goes by the port). Each row also prints the
 * process's CPU time (all threads) per round trip.
 *
 * Options (env): CHANNEL_BENCH_N (round trips per row, default 20 000), CHANNEL_BENCH_ONLY=port|ring.
 * Prints a markdown table and writes bench-results/channel.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { pino } from 'pino';
import type { ExecuteBatch } from '../src/backends/backend.js';
import type { Tensor } from '../src/core/tensor.js';
import { WorkerInstanceProxy } from '../src/workers/worker-instance-proxy.js';
import { WorkerPool, WORKER_CHANNELS, type WorkerChannel } from '../src/workers/worker-pool.js';

const N = Number(process.env['CHANNEL_BENCH_N'] ?? 20_000);
const ONLY = process.env['CHANNEL_BENCH_ONLY'] ?? '';
const RUNNER = new URL('./channel-echo-runner.js', import.meta.url).href;

interface Row {
  channel: WorkerChannel;
  payload: string;
  concurrency: number;
  n: number;
  perSecond: number;
  p50Us: number;
  p99Us: number;
  meanUs: number;
  /** Process CPU (every thread: main, worker) per round trip, from process.cpuUsage(). */
  cpuUs: number;
}

function int32(name: string, elements: number): Tensor {
  const data = new Uint8Array(elements * 4);
  return { name, datatype: 'INT32', shape: [1, elements], data };
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
}

async function run(proxy: WorkerInstanceProxy, batch: () => ExecuteBatch, n: number, concurrency: number): Promise<Omit<Row, 'channel' | 'payload'>> {
  const lat: number[] = [];
  let next = 0;
  const cpu0 = process.cpuUsage();
  const start = process.hrtime.bigint();
  const lane = async (): Promise<void> => {
    while (next++ < n) {
      const t0 = process.hrtime.bigint();
      await proxy.execute(batch());
      lat.push(Number(process.hrtime.bigint() - t0) / 1000);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  lat.sort((a, b) => a - b);
  const mean = lat.reduce((a, b) => a + b, 0) / lat.length;
  return { concurrency, n: lat.length, perSecond: lat.length / seconds, p50Us: quantile(lat, 0.5), p99Us: quantile(lat, 0.99), meanUs: mean,
    cpuUs: (cpu.user + cpu.system) / lat.length };
}

async function benchChannel(channel: WorkerChannel): Promise<Row[]> {
  const pool = new WorkerPool({ size: 1, guard: false, channel });
  const proxy = await WorkerInstanceProxy.create({
    name: 'echo_0', modelName: 'echo', version: 1, runnerModule: RUNNER, init: {}, logger: pino({ level: 'silent' }), pool,
  });
  const rows: Row[] = [];
  try {
    // Fresh tensors per batch, as the server's decoded requests are (the port path detaches them).
    const simple = (): ExecuteBatch => ({ batchSize: 1, inputs: [int32('INPUT0', 16), int32('INPUT1', 16)], outputNames: ['OUTPUT0', 'OUTPUT1'] });
    // Each row runs a warm-up of its own first (JIT, slabs, first ring wraps), not measured.
    for (const c of [1, 16]) {
      await run(proxy, simple, Math.min(5000, N), c);
      rows.push({ channel, payload: '2 × INT32 [1,16]', ...(await run(proxy, simple, N, c)) });
    }
    for (const [label, elements] of [['INT32 4 KiB', 1024], ['INT32 16 KiB', 4096], ['INT32 64 KiB', 16_384], ['INT32 1 MiB', 262_144]] as const) {
      const big = (): ExecuteBatch => ({ batchSize: 1, inputs: [int32('INPUT0', elements)], outputNames: ['OUTPUT0'] });
      const n = Math.max(200, Math.floor(N / 10));
      await run(proxy, big, n, 1);
      rows.push({ channel, payload: label, ...(await run(proxy, big, n, 1)) });
    }
  } finally {
    await proxy.finalize();
    await pool.stop();
  }
  return rows;
}

const rows: Row[] = [];
for (const c of WORKER_CHANNELS) if (ONLY === '' || ONLY === c) rows.push(...(await benchChannel(c)));
const f = (x: number, d = 0): string => x.toFixed(d);
console.log(`worker channel round trips (load average ${loadavg().map((l) => l.toFixed(2)).join(' ')})`);
console.log('| channel | payload | c | round trips | per s | p50 µs | p99 µs | mean µs | CPU µs / round trip |');
console.log('|---|---|---|---|---|---|---|---|---|');
for (const r of rows) console.log(`| ${r.channel} | ${r.payload} | ${r.concurrency} | ${r.n} | ${f(r.perSecond)} | ${f(r.p50Us, 1)} | ${f(r.p99Us, 1)} | ${f(r.meanUs, 1)} | ${f(r.cpuUs, 1)} |`);
mkdirSync('bench-results', { recursive: true });
writeFileSync('bench-results/channel.json', JSON.stringify({ loadavg: loadavg(), rows }, null, 2));
