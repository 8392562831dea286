// GPU discovery: nvidia-smi's csv parsed (and garbage refused with line/column), GPUs renumbered
// by CUDA_VISIBLE_DEVICES, and every way nvidia-smi can be absent or broken turned into "no GPUs"
// with a reason, using stand-in nvidia-smi scripts.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  discoverGpus, parseNvidiaSmiCsv, queryNvidiaSmi, visibleDevices, type SmiGpu,
} from '../../../src/backends/gpu/gpu-devices.js';
import { InferenceError } from '../../../src/errors/inference-error.js';
import { fakeSmiDir, TWO_GPUS, type FakeSmiDir } from './fake-nvidia-smi.js';

const MIB = 1024 * 1024;

function parseFails(text: string, pattern: RegExp): void {
  assert.throws(() => parseNvidiaSmiCsv(text), (e: unknown) => {
    assert.ok(e instanceof InferenceError);
    assert.match(e.message, pattern);
    return true;
  }, JSON.stringify(text));
}

describe('parseNvidiaSmiCsv', () => {
  it('reads index, uuid, name, memory in bytes and utilization as 0–1; [N/A] becomes undefined', () => {
    assert.deepEqual(parseNvidiaSmiCsv(`${TWO_GPUS}\n`), [
      { smiIndex: 0, uuid: 'GPU-aaaaaaaa-1111-2222-3333-444444444444', name: 'NVIDIA H100 80GB HBM3', memoryTotalBytes: 81559 * MIB, memoryUsedBytes: 1024 * MIB, utilization: 0.42 },
      { smiIndex: 1, uuid: 'GPU-bbbbbbbb-1111-2222-3333-444444444444', name: 'NVIDIA H100 80GB HBM3', memoryTotalBytes: 81559 * MIB, memoryUsedBytes: 2048 * MIB, utilization: undefined },
    ]);
  });

  it('accepts CRLF, blank lines, [Not Supported] memory, and a name with commas', () => {
    const gpus = parseNvidiaSmiCsv('\r\n3, GPU-x, Tesla, rev 2, A, [Not Supported], 0, 100\r\n\r\n');
    assert.deepEqual(gpus, [{ smiIndex: 3, uuid: 'GPU-x', name: 'Tesla, rev 2, A', memoryTotalBytes: undefined, memoryUsedBytes: 0, utilization: 1 }]);
    assert.deepEqual(parseNvidiaSmiCsv(''), []);
    assert.deepEqual(parseNvidiaSmiCsv('\n\n'), []);
  });

  it('refuses garbage, naming the line and column', () => {
    parseFails('No devices were found', /^nvidia-smi output line 1, column 1: expected 6 comma-separated fields/);
    parseFails(`${TWO_GPUS}\nNVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.`, /line 3, column 1: expected 6/);
    parseFails('x, GPU-a, T4, 1, 1, 1', /line 1, column 1: index 'x' is not a non-negative integer/);
    parseFails('-1, GPU-a, T4, 1, 1, 1', /index '-1'/);
    parseFails('0, GPU a, T4, 1, 1, 1', /column 4: uuid 'GPU a' is empty or contains spaces/);
    parseFails('0, , T4, 1, 1, 1', /uuid '' is empty/);
    parseFails('0, GPU-a, , 1, 1, 1', /column 11: name is empty/);
    parseFails('0, GPU-a, T4, 15109 MiB, 1, 1', /column 15: memory.total '15109 MiB' is not a number/);
    parseFails('0, GPU-a, T4, 1, -5, 1', /memory.used '-5' is not a number/);
    parseFails('0, GPU-a, T4, 1, 1, 101', /utilization.gpu '101' is not a number in \[0, 100\]/);
    parseFails('0, GPU-a, T4, 1, 1, 1e2', /utilization.gpu '1e2'/);
    parseFails('0, GPU-a, T4, 1, 1', /got 5/);
    parseFails('0, GPU-a, T4, 1, 1, 1\n0, GPU-b, T4, 1, 1, 1', /line 2, column 1: GPU 0 \(GPU-b\) is listed twice/);
    parseFails('0, GPU-a, T4, 1, 1, 1\n1, GPU-a, T4, 1, 1, 1', /listed twice/);
    parseFails('\u0000\u0001\u0002', /expected 6/);
  });
});

describe('visibleDevices (CUDA_VISIBLE_DEVICES)', () => {
  const gpus: SmiGpu[] = parseNvidiaSmiCsv(`${TWO_GPUS}\n2, GPU-cccc, T4, 1, 1, 1`);
  const ids = (v: string | undefined) => visibleDevices(gpus, v).map((d) => [d.id, d.smiIndex]);

  it('unset: all GPUs, ids = nvidia-smi indexes in order', () => {
    assert.deepEqual(ids(undefined), [[0, 0], [1, 1], [2, 2]]);
  });

  it('lists by index or uuid (prefix) renumber from 0 in the listed order', () => {
    assert.deepEqual(ids('2,0'), [[0, 2], [1, 0]]);
    assert.deepEqual(ids('GPU-bbbbbbbb, cccc'), [[0, 1], [1, 2]]);
  });

  it('stops at the first entry that matches nothing or repeats, as CUDA does; empty hides all', () => {
    assert.deepEqual(ids('1,7,0'), [[0, 1]]);
    assert.deepEqual(ids('1,1,0'), [[0, 1]]);
    assert.deepEqual(ids('GPU-'), []); // ambiguous prefix
    assert.deepEqual(ids(''), []);
    assert.deepEqual(ids('-1'), []);
  });
});

describe('discoverGpus with a stand-in nvidia-smi', () => {
  let fake: FakeSmiDir;
  before(async () => {
    fake = await fakeSmiDir();
  });
  after(() => fake.cleanup());

  it('finds the GPUs nvidia-smi lists', async () => {
    const inv = await discoverGpus({ nvidiaSmi: await fake.script('ok', TWO_GPUS) });
    assert.equal(inv.reason, '');
    assert.deepEqual(inv.devices.map((d) => [d.id, d.uuid.slice(0, 12)]), [[0, 'GPU-aaaaaaaa'], [1, 'GPU-bbbbbbbb']]);
    const hidden = await discoverGpus({ nvidiaSmi: await fake.script('ok2', TWO_GPUS), cudaVisibleDevices: '1' });
    assert.deepEqual(hidden.devices.map((d) => [d.id, d.smiIndex]), [[0, 1]]);
  });

  it('answers no GPUs, with the reason, for every failure', async () => {
    const cases: Array<[string, Promise<string> | string, RegExp, string?]> = [
      ['missing', `${fake.dir}/no-such-nvidia-smi`, /no-such-nvidia-smi was not found \(no NVIDIA driver tools/],
      ['off', '', /GPU discovery is switched off/],
      ['exit', fake.script('exit', '', { code: 9, stderr: 'NVIDIA-SMI has failed because it couldn\'t communicate with the NVIDIA driver' }),
        /failed \(exit code 9\): NVIDIA-SMI has failed because it couldn't communicate/],
      ['garbage', fake.script('garbage', 'Segmentation fault\n'), /nvidia-smi output line 1, column 1: expected 6/],
      ['empty', fake.script('empty', ''), /lists no GPUs/],
      ['hidden', fake.script('hidden', TWO_GPUS), /CUDA_VISIBLE_DEVICES='' hides all 2 GPU\(s\)/, ''],
    ];
    for (const [what, command, pattern, visible] of cases) {
      const inv = await discoverGpus({ nvidiaSmi: await command, cudaVisibleDevices: visible });
      assert.deepEqual(inv.devices, [], what);
      assert.match(inv.reason, pattern, what);
    }
  });

  it('does not wait longer than the timeout for a hung nvidia-smi', async () => {
    const slow = await fake.script('slow', TWO_GPUS, { sleepSecs: 5 });
    const t0 = Date.now();
    const inv = await discoverGpus({ nvidiaSmi: slow, timeoutMs: 200 });
    assert.ok(Date.now() - t0 < 3000, `took ${Date.now() - t0} ms`);
    assert.match(inv.reason, /did not answer within 200 ms/);
  });

  it('queryNvidiaSmi rejects with the reason (the metrics poller logs it)', async () => {
    await assert.rejects(queryNvidiaSmi(await fake.script('bad', '0, GPU-a')), /nvidia-smi output line 1/);
  });
});
