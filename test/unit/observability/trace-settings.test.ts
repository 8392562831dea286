import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_TRACE_VALUES, TraceSettings } from '../../../src/observability/trace/trace-settings.js';
import { parseTraceConfig } from '../../../src/observability/trace/trace-config.js';
import { noise } from '../../helpers/noise.js';

const on = () => new TraceSettings({ ...DEFAULT_TRACE_VALUES, trace_level: ['TIMESTAMPS'], trace_rate: 3 });
const picks = (s: TraceSettings, model: string, n: number) => Array.from({ length: n }, () => s.sample(model));

describe('TraceSettings', () => {
  it('off by default: nothing is sampled and tracing is false', () => {
    const s = new TraceSettings(DEFAULT_TRACE_VALUES);
    assert.equal(s.tracing, false);
    assert.deepEqual(picks(s, 'm', 3), [false, false, false]);
  });

  it('samples the first of every trace_rate requests until trace_count runs out', () => {
    const s = on();
    assert.deepEqual(picks(s, 'm', 7), [true, false, false, true, false, false, true]);
    s.update('', { trace_count: ['2'], trace_rate: ['1'] });
    assert.deepEqual(picks(s, 'm', 3), [true, true, false]);
    assert.equal(s.tracing, false, 'a spent count turns tracing off');
    assert.equal(s.view().trace_count, '0');
  });

  it('a model override has its own sampler and follows later global changes it does not override', () => {
    const s = on();
    s.update('a', { trace_rate: ['1'] });
    assert.deepEqual(picks(s, 'a', 3), [true, true, true]);
    assert.deepEqual(picks(s, 'b', 4), [true, false, false, true]);
    s.update('', { trace_level: ['OFF'] });
    assert.deepEqual(s.values('a').trace_level, ['OFF']);
    assert.equal(s.tracing, false);
    s.update('a', { trace_level: ['TENSORS'] });
    assert.equal(s.tracing, true);
    s.update('a', { trace_level: null, trace_rate: [] });
    assert.deepEqual(s.view('a'), s.view(''));
  });

  it('garbage values are refused and change nothing', () => {
    const s = on();
    const before = s.view();
    for (let i = 0; i < 200; i++) {
      const text = Buffer.from(noise(1 + (i % 12), i + 1)).toString('latin1');
      for (const key of ['trace_level', 'trace_rate', 'trace_count', 'log_frequency', text]) {
        try {
          s.update('', { [key]: [text] });
          assert.ok(/^-?[0-9]+$/.test(text) || ['OFF', 'TIMESTAMPS', 'TENSORS'].includes(text), `accepted ${JSON.stringify(text)} for ${key}`);
        } catch (e) {
          assert.equal((e as { code?: string }).code === 'INVALID_ARG' || (e as { code?: string }).code === 'UNSUPPORTED', true);
        }
      }
    }
    assert.deepEqual(s.view(), before);
  });
});

describe('--trace-config', () => {
  it('parses Triton\'s syntax', () => {
    const c = parseTraceConfig(['level=TIMESTAMPS', 'level=TENSORS', 'rate=1', 'count=5', 'mode=opentelemetry', 'triton,file=/tmp/t.json', 'triton,log-frequency=3',
      'opentelemetry,url=http://c:4318/v1/traces', 'opentelemetry,resource=a=b=c', 'opentelemetry,bsp_schedule_delay=250']);
    assert.deepEqual(c.values, { trace_level: ['TIMESTAMPS', 'TENSORS'], trace_rate: 1, trace_count: 5, log_frequency: 3, trace_file: '/tmp/t.json', trace_mode: 'opentelemetry' });
    assert.deepEqual([c.otel.url, c.otel.resource, c.otel.scheduleDelayMs], ['http://c:4318/v1/traces', { a: 'b=c' }, 250]);
  });

  it('refuses garbage with a message naming the entry', () => {
    for (let i = 0; i < 300; i++) {
      const entry = Buffer.from(noise(1 + (i % 20), i + 99)).toString('latin1');
      try {
        parseTraceConfig([entry]);
      } catch (e) {
        assert.match((e as Error).message, /^--trace-config '/);
      }
    }
  });
});
