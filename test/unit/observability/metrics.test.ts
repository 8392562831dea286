import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { InferenceMetrics } from '../../../src/observability/metrics.js';
import { InferenceStats, type ModelMetricSample } from '../../../src/observability/inference-stats.js';

function sample(name: string, version: string, build: (s: InferenceStats) => void, pendingCount = 0): ModelMetricSample {
  const s = new InferenceStats();
  build(s);
  return { name, version, stats: s.snapshot(), failures: s.failureCounts(), pendingCount };
}

describe('InferenceMetrics', () => {
  it('exposes Triton families from the statistics of each scrape, durations in whole microseconds', async () => {
    let samples = [
      sample('a', '1', (s) => {
        s.recordExecution(3, 2, { computeInputNs: 1500, computeInferNs: 10_000, computeOutputNs: 999 });
        s.recordQueue(2_500);
        s.recordSuccess(40_999);
        s.recordSuccess(1_000);
        s.recordFailure(5, 0, 'BACKEND');
        s.recordFailure(5, 0, 'REJECTED');
        s.recordFailure(5, 0, 'REJECTED');
      }, 4),
      sample('b', '2', () => {}),
    ];
    const m = new InferenceMetrics(() => samples, { processMetrics: false });
    const text = await m.scrape();
    const line = (l: string) => assert.ok(text.split('\n').includes(l), `missing: ${l}\n${text}`);
    line('# TYPE nv_inference_request_success counter');
    line('nv_inference_request_success{model="a",version="1"} 2');
    line('nv_inference_request_success{model="b",version="2"} 0');
    line('nv_inference_count{model="a",version="1"} 3');
    line('nv_inference_exec_count{model="a",version="1"} 1');
    line('nv_inference_request_duration_us{model="a",version="1"} 41');
    line('nv_inference_queue_duration_us{model="a",version="1"} 2');
    line('nv_inference_compute_input_duration_us{model="a",version="1"} 3');
    line('nv_inference_compute_infer_duration_us{model="a",version="1"} 20');
    line('nv_inference_compute_output_duration_us{model="a",version="1"} 1');
    line('nv_inference_request_failure{model="a",version="1",reason="REJECTED"} 2');
    line('nv_inference_request_failure{model="a",version="1",reason="BACKEND"} 1');
    line('nv_inference_request_failure{model="a",version="1",reason="CANCELED"} 0');
    line('# TYPE nv_inference_pending_request_count gauge');
    line('nv_inference_pending_request_count{model="a",version="1"} 4');
    assert.ok(!text.includes('process_cpu'), 'process metrics off');
    samples = [samples[1]!];
    assert.ok(!(await m.scrape()).includes('model="a"'), 'an unloaded version disappears');
  });

  it('observes successful requests in the first-response histogram (ms)', async () => {
    const m = new InferenceMetrics(() => [], { processMetrics: false });
    m.observe({ model: 'a', version: '1', durationNs: 3_000_000, failure: undefined });
    m.observe({ model: 'a', version: '1', durationNs: 700_000_000, failure: undefined });
    m.observe({ model: 'a', version: '1', durationNs: 1, failure: 'OTHER' });
    const text = await m.scrape();
    assert.match(text, /nv_inference_first_response_histogram_ms_bucket\{le="5",model="a",version="1"\} 1\n/);
    assert.match(text, /nv_inference_first_response_histogram_ms_bucket\{le="1000",model="a",version="1"\} 2\n/);
    assert.match(text, /nv_inference_first_response_histogram_ms_count\{model="a",version="1"\} 2\n/);
    assert.match(text, /nv_inference_first_response_histogram_ms_sum\{model="a",version="1"\} 703\n/);
  });

  it('adds Node process metrics by default', async () => {
    const text = await new InferenceMetrics(() => []).scrape();
    assert.match(text, /^process_cpu_user_seconds_total /m);
    assert.match(text, /^nodejs_heap_size_used_bytes /m);
  });
});
