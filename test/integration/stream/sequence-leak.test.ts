/**
 * Leak check: 10,000 sequences on simple_dyna_sequence (oldest, 2 instances) over gRPC streams,
 * one in fifty abandoned without sequence_end. Afterwards the batcher holds no sequence, slot,
 * state buffer or queued request, and the heap is back where it was after the warm-up.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { BUNDLED_REPO, TempRepo } from '../../helpers/repo.js';
import { call, serveDuringTests, type TestServer } from '../../helpers/start-server.js';
import { StreamClient, readInt32 } from '../../helpers/stream-client.js';
import { NOTHING_HELD, seqRequest, sequenceBatcher } from '../../helpers/sequence-requests.js';
import type { ModelStatisticsResponse__Output } from '../../../src/generated/inference/ModelStatisticsResponse.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const IDLE_MS = 500;
const config = readFileSync(path.join(BUNDLED_REPO, 'simple_dyna_sequence', 'config.pbtxt'), 'utf8')
  .replace(/max_sequence_idle_microseconds: \d+/, `max_sequence_idle_microseconds: ${IDLE_MS * 1000}`);
const repo = new TempRepo().add('simple_dyna_sequence', {
  config, files: { '1/model.onnx': readFileSync(path.join(BUNDLED_REPO, 'simple_dyna_sequence', '1', 'model.onnx')) },
});
let ts: TestServer;
serveDuringTests(repo, (s) => (ts = s));

const STREAMS = 4;
const WORKERS_PER_STREAM = 8;

/** Runs sequences [from, to) on STREAMS streams; returns how many requests were sent. */
async function runSequences(from: number, to: number): Promise<number> {
  let next = from;
  let sent = 0;
  const worker = async (s: StreamClient) => {
    for (let k = next++; k < to; k = next++) {
      const id = 1_000_000 + k;
      const abandoned = k % 50 === 7;
      const r1 = await s.infer(seqRequest('simple_dyna_sequence', id, 2, { start: true }, `${k}a`));
      sent++;
      assert.equal(r1.error_message, '', `sequence ${id}: ${r1.error_message}`);
      if (abandoned) continue;
      const r2 = await s.infer(seqRequest('simple_dyna_sequence', id, 3, { end: true }, `${k}b`));
      sent++;
      assert.equal(r2.error_message, '', `sequence ${id}: ${r2.error_message}`);
      assert.equal(readInt32(r2.infer_response!.raw_output_contents[0]!)[0], (5 + id) | 0);
    }
  };
  const streams = Array.from({ length: STREAMS }, () => new StreamClient(ts.client));
  await Promise.all(streams.flatMap((s) => Array.from({ length: WORKERS_PER_STREAM }, () => worker(s))));
  await Promise.all(streams.map((s) => s.end()));
  return sent;
}

async function settled(): Promise<void> {
  const b = sequenceBatcher(ts.server, 'simple_dyna_sequence');
  const until = Date.now() + 5000;
  while (b.counts().live > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 25));
  assert.deepEqual(b.counts(), NOTHING_HELD);
}

function heapMb(): number {
  gc();
  return process.memoryUsage().heapUsed / 2 ** 20;
}

it('10,000 sequences, some abandoned, leave no slot, state or queue entry behind', { timeout: 240_000 }, async () => {
  const before = await stats();
  let sent = await runSequences(0, 1000);
  await settled();
  const warmHeap = heapMb();
  const warmRss = process.memoryUsage().rss / 2 ** 20;
  sent += await runSequences(1000, 10_000);
  await settled();
  const endHeap = heapMb();
  const endRss = process.memoryUsage().rss / 2 ** 20;
  const after = await stats();
  assert.equal(Number(after.inference_stats!.success!.count) - Number(before.inference_stats!.success!.count), sent);
  assert.equal(Number(after.inference_stats!.fail!.count) - Number(before.inference_stats!.fail!.count), 0);
  assert.ok(endHeap - warmHeap < 16, `heap grew from ${warmHeap.toFixed(1)} MiB to ${endHeap.toFixed(1)} MiB`);
  assert.ok(endRss - warmRss < 128, `RSS grew from ${warmRss.toFixed(0)} MiB to ${endRss.toFixed(0)} MiB`);
});

async function stats() {
  const r = await call<{ name: string }, ModelStatisticsResponse__Output>(ts.client.ModelStatistics.bind(ts.client), { name: 'simple_dyna_sequence' });
  return r.model_stats[0]!;
}
