/**
 * Triton's trace extension over both protocols: the settings API (global and per model, clearing,
 * validation errors), Triton-format trace files with each request's phase timestamps (ensemble
 * steps as children, sampling by rate and count, log_frequency files, TENSORS), and the
 * OpenTelemetry mode exporting spans over OTLP/HTTP to a receiver on loopback, with the client's
 * W3C traceparent carried from gRPC metadata and HTTP headers into the ensemble's steps.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { TempRepo } from '../../helpers/repo.js';
import { call, startServer, type TestServer } from '../../helpers/start-server.js';
import { errorOf, http, json, postJson } from '../http/http-client.js';
import { InferenceServer } from '../../../src/server.js';
import { silentLogger } from '../../../src/observability/logger.js';

const repo = new TempRepo();
for (const m of ['simple', 'pipeline', 'preprocess', 'branch_a', 'branch_b', 'combine']) repo.addBundled(m);
const dir = mkdtempSync(path.join(tmpdir(), 'infera-trace-'));
after(() => {
  repo.remove();
  rmSync(dir, { recursive: true, force: true });
});

const int32s = (n: number) => Buffer.from(new Int32Array(16).fill(n).buffer);
const simpleRequest = (id = '') => ({
  model_name: 'simple', id,
  inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 16] }, { name: 'INPUT1', datatype: 'INT32', shape: [1, 16] }],
  raw_input_contents: [int32s(1), int32s(2)],
});
const pipelineJson = { id: 'pipe-1', inputs: [{ name: 'RAW', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] }] };

interface TraceRecord { id: number; model_name?: string; model_version?: number; request_id?: string; parent_id?: number; timestamps?: { name: string; ns: number }[]; activity?: string; tensor?: { name: string; data: string; shape: string; dtype: string } }

function readTraces(file: string): TraceRecord[] {
  return JSON.parse(readFileSync(file, 'utf8')) as TraceRecord[];
}

const PHASES = ['REQUEST_START', 'QUEUE_START', 'COMPUTE_START', 'COMPUTE_INPUT_END', 'COMPUTE_OUTPUT_START', 'COMPUTE_END', 'REQUEST_END'];

function fails(code: status, re: RegExp) {
  return (e: ServiceError) => {
    assert.equal(e.code, code, `${status[e.code]}: ${e.details}`);
    assert.match(e.details, re);
    return true;
  };
}

describe('trace settings API', () => {
  let ts: TestServer;
  const file = path.join(dir, 'api.json');
  before(async () => {
    ts = await startServer([repo.dir], { traceConfig: [`triton,file=${file}`] });
  });
  after(() => ts.close());
  const c = () => ts.client;

  it('GET answers Triton\'s settings; POST updates the global scope over both protocols', async () => {
    const r = await http(`${ts.httpUrl}/v2/trace/setting`);
    assert.deepEqual(json(r), { trace_level: ['OFF'], trace_rate: '1000', trace_count: '-1', log_frequency: '0', trace_file: file, trace_mode: 'triton' });
    const u = await postJson(`${ts.httpUrl}/v2/trace/setting`, { trace_level: ['TIMESTAMPS', 'TENSORS'], trace_rate: '5' });
    assert.equal(u.status, 200, u.body.toString());
    assert.deepEqual((json(u) as Record<string, unknown>)['trace_level'], ['TIMESTAMPS', 'TENSORS']);
    const g = await call(c().TraceSetting.bind(c()), { model_name: '', settings: { trace_count: { value: ['7'] } } });
    assert.deepEqual(g.settings, {
      trace_level: { value: ['TIMESTAMPS', 'TENSORS'] }, trace_rate: { value: ['5'] }, trace_count: { value: ['7'] },
      log_frequency: { value: ['0'] }, trace_file: { value: [file] }, trace_mode: { value: ['triton'] },
    });
    // Clearing a global setting restores its startup value.
    const cleared = json(await postJson(`${ts.httpUrl}/v2/trace/setting`, { trace_level: null, trace_rate: null, trace_count: null })) as Record<string, unknown>;
    assert.deepEqual([cleared['trace_level'], cleared['trace_rate'], cleared['trace_count']], [['OFF'], '1000', '-1']);
  });

  it('per-model settings override the global ones until cleared', async () => {
    await call(c().TraceSetting.bind(c()), { model_name: 'simple', settings: { trace_level: { value: ['TIMESTAMPS'] }, trace_rate: { value: ['1'] } } });
    const m = json(await http(`${ts.httpUrl}/v2/models/simple/trace/setting`)) as Record<string, unknown>;
    assert.deepEqual([m['trace_level'], m['trace_rate'], m['trace_count']], [['TIMESTAMPS'], '1', '-1']);
    assert.deepEqual((json(await http(`${ts.httpUrl}/v2/trace/setting`)) as Record<string, unknown>)['trace_level'], ['OFF']);
    // Models without an override follow the global scope.
    assert.deepEqual((json(await http(`${ts.httpUrl}/v2/models/pipeline/trace/setting`)) as Record<string, unknown>)['trace_level'], ['OFF']);
    const back = await call(c().TraceSetting.bind(c()), { model_name: 'simple', settings: { trace_level: { value: [] }, trace_rate: { value: [] } } });
    assert.deepEqual(back.settings['trace_level'], { value: ['OFF'] });
    assert.deepEqual(back.settings['trace_rate'], { value: ['1000'] });
  });

  it('bad settings get clear errors and change nothing', async () => {
    const bad: [Record<string, unknown>, number, RegExp][] = [
      [{ trace_level: ['LOUD'] }, 400, /unsupported trace level 'LOUD'/],
      [{ trace_level: ['OFF', 'TIMESTAMPS'] }, 400, /OFF cannot be combined/],
      [{ trace_rate: '0' }, 400, /unable to parse 'trace_rate', got: '0'/],
      [{ trace_rate: 'fast' }, 400, /trace_rate/],
      [{ trace_count: '-2' }, 400, /trace_count/],
      [{ log_frequency: ['1', '2'] }, 400, /takes one value/],
      [{ trace_rate: 5 }, 400, /must be a string, a list of strings or null/],
      [{ trace_verbosity: '1' }, 400, /unknown trace setting 'trace_verbosity'/],
      [{ trace_file: '/tmp/elsewhere.json' }, 501, /trace file location can not be updated/],
      [{ trace_mode: 'opentelemetry' }, 501, /trace mode can not be updated/],
      [{ trace_level: ['TIMESTAMPS'], trace_rate: 'x' }, 400, /trace_rate/],
    ];
    for (const [body, code, re] of bad) {
      const r = await postJson(`${ts.httpUrl}/v2/trace/setting`, body);
      assert.equal(r.status, code, JSON.stringify(body));
      assert.match(errorOf(r), re);
    }
    assert.deepEqual((json(await http(`${ts.httpUrl}/v2/trace/setting`)) as Record<string, unknown>)['trace_level'], ['OFF'], 'nothing applied');
    for (const body of ['{', '[1]', '"x"']) assert.equal((await http(`${ts.httpUrl}/v2/trace/setting`, { method: 'POST', body })).status, 400, body);
    assert.equal((await http(`${ts.httpUrl}/v2/models/nope/trace/setting`)).status, 404);
    assert.equal((await http(`${ts.httpUrl}/v2/models/simple/versions/1/trace/setting`)).status, 404);
    assert.equal((await http(`${ts.httpUrl}/v2/trace/setting`, { method: 'PUT' })).status, 405);
    await assert.rejects(call(c().TraceSetting.bind(c()), { model_name: 'nope', settings: {} }), fails(status.NOT_FOUND, /nope/));
    await assert.rejects(call(c().TraceSetting.bind(c()), { model_name: 'simple', settings: { log_frequency: { value: ['2'] } } }), fails(status.INVALID_ARGUMENT, /log_frequency is a global setting/));
    await assert.rejects(call(c().TraceSetting.bind(c()), { model_name: '', settings: { trace_rate: { value: ['-1'] } } }), fails(status.INVALID_ARGUMENT, /trace_rate/));
    await assert.rejects(call(c().TraceSetting.bind(c()), { model_name: '', settings: { trace_file: { value: ['/x'] } } }), fails(status.UNIMPLEMENTED, /trace file location/));
  });
});

describe('triton mode: trace files', () => {
  it('records every phase of each request, ensemble steps as children, in Triton\'s trace JSON', async () => {
    const file = path.join(dir, 'trace.json');
    const ts = await startServer([repo.dir], { traceConfig: ['level=TIMESTAMPS', 'rate=1', `triton,file=${file}`] });
    try {
      await call(ts.client.ModelInfer.bind(ts.client), simpleRequest('req-7'));
      assert.equal((await postJson(`${ts.httpUrl}/v2/models/pipeline/infer`, pipelineJson)).status, 200);
    } finally {
      await ts.close();
    }
    const records = readTraces(file);
    const heads = records.filter((r) => r.model_name !== undefined);
    const simple = heads.find((r) => r.model_name === 'simple')!;
    assert.deepEqual(simple, { id: simple.id, model_name: 'simple', model_version: 1, request_id: 'req-7' });
    const stamps = records.find((r) => r.id === simple.id && r.timestamps !== undefined)!.timestamps!;
    assert.deepEqual(stamps.map((s) => s.name), PHASES);
    for (let i = 1; i < stamps.length; i++) assert.ok(stamps[i]!.ns >= stamps[i - 1]!.ns, `${stamps[i]!.name} is not before ${stamps[i - 1]!.name}`);
    const ensemble = heads.find((r) => r.model_name === 'pipeline')!;
    assert.equal(ensemble.parent_id, undefined);
    const steps = heads.filter((r) => r.parent_id === ensemble.id);
    assert.deepEqual(steps.map((s) => s.model_name).sort(), ['branch_a', 'branch_b', 'combine', 'preprocess']);
    assert.ok(steps.every((s) => s.request_id === 'pipe-1'));
    const ensembleStamps = records.find((r) => r.id === ensemble.id && r.timestamps !== undefined)!.timestamps!;
    const step = records.find((r) => r.id === steps[0]!.id && r.timestamps !== undefined)!.timestamps!;
    assert.ok(step[0]!.ns >= ensembleStamps[0]!.ns && step.at(-1)!.ns <= ensembleStamps.at(-1)!.ns, 'steps run inside the ensemble request');
  });

  it('samples one request in trace_rate, stops after trace_count, starts a file every log_frequency traces, TENSORS adds tensors', async () => {
    const file = path.join(dir, 'sampled.json');
    const ts = await startServer([repo.dir], { traceConfig: ['level=TIMESTAMPS', 'rate=2', `triton,file=${file}`, 'triton,log-frequency=2'] });
    try {
      for (let i = 0; i < 8; i++) await call(ts.client.ModelInfer.bind(ts.client), simpleRequest(`r${i}`));
      // rate 2 over 8 requests: r0, r2, r4, r6 → files .0 and .1, two traces each.
      await call(ts.client.TraceSetting.bind(ts.client), { model_name: 'simple', settings: { trace_rate: { value: ['1'] }, trace_count: { value: ['1'] }, trace_level: { value: ['TENSORS'] } } });
      for (let i = 8; i < 11; i++) await call(ts.client.ModelInfer.bind(ts.client), simpleRequest(`r${i}`));
      const m = await call(ts.client.TraceSetting.bind(ts.client), { model_name: 'simple', settings: {} });
      assert.deepEqual(m.settings['trace_count'], { value: ['0'] });
    } finally {
      await ts.close();
    }
    const ids = (f: string) => readTraces(f).filter((r) => r.request_id !== undefined).map((r) => r.request_id);
    assert.deepEqual(ids(`${file}.0`), ['r0', 'r2']);
    assert.deepEqual(ids(`${file}.1`), ['r4', 'r6']);
    const last = readTraces(`${file}.2`);
    assert.deepEqual(last.filter((r) => r.request_id !== undefined).map((r) => r.request_id), ['r8']);
    const inputs = last.filter((r) => r.activity === 'TENSOR_QUEUE_INPUT').map((r) => r.tensor);
    assert.deepEqual(inputs[0], { name: 'INPUT0', data: new Array(16).fill(1).join(','), shape: '1,16', dtype: 'INT32' });
    const outputs = last.filter((r) => r.activity === 'TENSOR_BACKEND_OUTPUT').map((r) => r.tensor!.name).sort();
    assert.deepEqual(outputs, ['OUTPUT0', 'OUTPUT1']);
    assert.equal(existsSync(`${file}.3`), false);
  });

  it('a trace file that cannot be written never fails a request or the stop', async () => {
    const ts = await startServer([repo.dir], { traceConfig: ['level=TIMESTAMPS', 'rate=1', `triton,file=${path.join(dir, 'no', 'such', 'dir', 't.json')}`] });
    try {
      for (let i = 0; i < 3; i++) assert.equal((await call(ts.client.ModelInfer.bind(ts.client), simpleRequest())).outputs.length, 2);
    } finally {
      await ts.close();
    }
  });

  it('--trace-config errors stop the server from starting', async () => {
    for (const bad of [['level=LOUD'], ['rate=0'], ['mode=zipkin'], ['triton,colour=1'], ['opentelemetry,bsp_schedule_delay=-1'], ['nonsense'], ['jaeger,url=x']]) {
      await assert.rejects(InferenceServer.create({ modelRepositories: [repo.dir], traceConfig: bad }, silentLogger()), /--trace-config/, bad.join(' '));
    }
  });
});

interface OtlpSpan { traceId: string; spanId: string; parentSpanId?: string; name: string; events?: { name: string }[]; attributes?: { key: string; value: { stringValue?: string; intValue?: string | number } }[] }

describe('opentelemetry mode', () => {
  let receiver: Server;
  const bodies: { path: string; type: string; body: unknown }[] = [];
  let url = '';
  before(async () => {
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        bodies.push({ path: req.url ?? '', type: req.headers['content-type'] ?? '', body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const addr = receiver.address();
    url = `http://127.0.0.1:${typeof addr === 'object' && addr !== null ? addr.port : 0}/v1/traces`;
  });
  after(() => new Promise<void>((resolve) => receiver.close(() => resolve())));

  it('exports one span per request over OTLP/HTTP, parented on the client\'s traceparent, ensemble steps under the ensemble', async () => {
    const ts = await startServer([repo.dir], {
      traceConfig: ['mode=opentelemetry', 'level=TIMESTAMPS', 'rate=1', `opentelemetry,url=${url}`, 'opentelemetry,bsp_schedule_delay=100', 'opentelemetry,resource=deployment=test'],
    });
    const grpcTrace = 'aaaabbbbccccddddeeeeffff00001111';
    const grpcParent = '1234567890abcdef';
    const httpTrace = '0af7651916cd43dd8448eb211c80319c';
    try {
      const md = new Metadata();
      md.set('traceparent', `00-${grpcTrace}-${grpcParent}-01`);
      await new Promise((resolve, reject) => ts.client.ModelInfer({ model_name: 'pipeline', inputs: [{ name: 'RAW', datatype: 'FP32', shape: [1, 4], contents: { fp32_contents: [1, 2, 3, 4] } }] }, md, (e, r) => (e ? reject(e) : resolve(r))));
      const r = await postJson(`${ts.httpUrl}/v2/models/simple/infer`, {
        inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: new Array(16).fill(1) }, { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: new Array(16).fill(2) }],
      }, { traceparent: `00-${httpTrace}-b7ad6b7169203331-01` });
      assert.equal(r.status, 200);
    } finally {
      await ts.close(); // flushes the batch processor
    }
    assert.ok(bodies.length > 0, 'the receiver got OTLP requests');
    assert.ok(bodies.every((b) => b.path === '/v1/traces' && b.type.startsWith('application/json')));
    type Export = { resourceSpans: { resource: { attributes: { key: string; value: { stringValue?: string } }[] }; scopeSpans: { spans: OtlpSpan[] }[] }[] };
    const resources = bodies.flatMap((b) => (b.body as Export).resourceSpans);
    const attrs = Object.fromEntries(resources[0]!.resource.attributes.map((a) => [a.key, a.value.stringValue]));
    assert.equal(attrs['service.name'], 'infera');
    assert.equal(attrs['deployment'], 'test');
    const spans = resources.flatMap((rs) => rs.scopeSpans.flatMap((s) => s.spans));
    const ensemble = spans.find((s) => s.name === 'pipeline')!;
    assert.equal(ensemble.traceId, grpcTrace);
    assert.equal(ensemble.parentSpanId, grpcParent);
    assert.deepEqual(ensemble.events!.map((e) => e.name), ['REQUEST_START', 'QUEUE_START', 'REQUEST_END']);
    const steps = spans.filter((s) => s.parentSpanId === ensemble.spanId && s.name !== 'compute');
    assert.deepEqual(steps.map((s) => s.name).sort(), ['branch_a', 'branch_b', 'combine', 'preprocess']);
    assert.ok(steps.every((s) => s.traceId === grpcTrace));
    const pre = steps.find((s) => s.name === 'preprocess')!;
    const compute = spans.find((s) => s.name === 'compute' && s.parentSpanId === pre.spanId)!;
    assert.deepEqual(compute.events!.map((e) => e.name), ['COMPUTE_START', 'COMPUTE_INPUT_END', 'COMPUTE_OUTPUT_START', 'COMPUTE_END']);
    const simple = spans.find((s) => s.name === 'simple')!;
    assert.equal(simple.traceId, httpTrace);
    assert.equal(simple.parentSpanId, 'b7ad6b7169203331');
    const version = simple.attributes!.find((a) => a.key === 'triton.model_version')!;
    assert.equal(version.value.stringValue, '1');
  });

  it('a collector that is down loses spans, never requests, and does not hold up the stop', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const addr = closed.address();
    const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const ts = await startServer([repo.dir], { traceConfig: ['mode=opentelemetry', 'level=TIMESTAMPS', 'rate=1', `opentelemetry,url=http://127.0.0.1:${port}/v1/traces`, 'opentelemetry,bsp_schedule_delay=50'] });
    let stopped = false;
    try {
      for (let i = 0; i < 3; i++) await call(ts.client.ModelInfer.bind(ts.client), simpleRequest(`down-${i}`));
      await new Promise((r) => setTimeout(r, 200)); // let an export fail
      assert.equal((await call(ts.client.ModelInfer.bind(ts.client), simpleRequest())).outputs.length, 2);
      const t = Date.now();
      await ts.close();
      stopped = true;
      assert.ok(Date.now() - t < 10_000, 'stop is bounded');
    } finally {
      if (!stopped) await ts.close();
    }
  });
});
