// The nv_gpu_* gauges: values from the latest poll with the gpu_uuid label, [N/A] left out, empty
// (not stale) after a failed poll such as nvidia-smi printing garbage, and back after recovery.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { queryNvidiaSmi, visibleDevices, type GpuDevice } from '../../../src/backends/gpu/gpu-devices.js';
import { GpuMetrics } from '../../../src/observability/gpu-metrics.js';
import { fakeSmiDir, TWO_GPUS, type FakeSmiDir } from './fake-nvidia-smi.js';

const A = 'GPU-aaaaaaaa-1111-2222-3333-444444444444';
const B = 'GPU-bbbbbbbb-1111-2222-3333-444444444444';

function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^(nv_gpu_\w+)\{gpu_uuid="([^"]+)"\} (\S+)$/.exec(line);
    if (m) out.set(`${m[1]}/${m[2]}`, Number(m[3]));
  }
  return out;
}

describe('GpuMetrics', () => {
  let fake: FakeSmiDir;
  before(async () => {
    fake = await fakeSmiDir();
  });
  after(() => fake.cleanup());

  it('exposes the three gauges per GPU from nvidia-smi; [N/A] utilization is left out', async () => {
    const smi = await fake.script('ok', TWO_GPUS);
    const registry = new Registry();
    const m = new GpuMetrics({ query: async () => visibleDevices(await queryNvidiaSmi(smi), undefined), intervalMs: 60_000 });
    m.register(registry);
    await m.start();
    m.stop();
    const text = await registry.metrics();
    assert.match(text, /# TYPE nv_gpu_utilization gauge/);
    assert.deepEqual(Object.fromEntries(samples(text)), {
      [`nv_gpu_utilization/${A}`]: 0.42,
      [`nv_gpu_memory_total_bytes/${A}`]: 81559 * 1048576,
      [`nv_gpu_memory_used_bytes/${A}`]: 1024 * 1048576,
      [`nv_gpu_memory_total_bytes/${B}`]: 81559 * 1048576,
      [`nv_gpu_memory_used_bytes/${B}`]: 2048 * 1048576,
    });
  });

  it('empties the gauges when a poll fails (garbage output), logs once, and recovers', async () => {
    const warnings: string[] = [];
    const logger = pino({ level: 'info' }, { write: (l: string) => void warnings.push(l) });
    const good = await fake.script('good', TWO_GPUS);
    const garbage = await fake.script('garbage', 'Unable to determine the device handle for GPU 0000:3B:00.0: Unknown Error');
    let command = good;
    const registry = new Registry();
    const m = new GpuMetrics({ query: async () => visibleDevices(await queryNvidiaSmi(command), undefined), intervalMs: 60_000, logger });
    m.register(registry);
    await m.poll();
    assert.equal(samples(await registry.metrics()).size, 5);
    command = garbage;
    await m.poll();
    await m.poll();
    assert.equal(samples(await registry.metrics()).size, 0);
    assert.equal(warnings.filter((l) => l.includes('poll failed')).length, 1);
    assert.match(warnings[0]!, /nvidia-smi output line 1, column 1/);
    command = good;
    await m.poll();
    assert.equal(samples(await registry.metrics()).size, 5);
    assert.ok(warnings.some((l) => l.includes('polling works again')));
  });

  it('polls on its interval and shares a poll in flight', async () => {
    let calls = 0;
    const device: GpuDevice = { id: 0, smiIndex: 0, uuid: 'GPU-x', name: 'x', memoryTotalBytes: 1, memoryUsedBytes: 0, utilization: 0 };
    const m = new GpuMetrics({ query: async () => { calls++; await new Promise((r) => setTimeout(r, 5)); return [{ ...device, memoryUsedBytes: calls }]; }, intervalMs: 100 });
    await Promise.all([m.poll(), m.poll()]);
    assert.equal(calls, 1);
    await m.start();
    await new Promise((r) => setTimeout(r, 350));
    m.stop();
    const seen = calls;
    assert.ok(seen >= 3 && seen <= 6, `calls ${seen}`);
    await new Promise((r) => setTimeout(r, 250));
    assert.equal(calls, seen, 'stop() ends the polling');
    assert.equal(m.latest[0]!.memoryUsedBytes, seen);
  });
});
