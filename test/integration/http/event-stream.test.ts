/**
 * Server-sent events over the real HTTP front-end, driven by a scripted InferenceService whose
 * inferStream sends several responses per request (what a decoupled model does through the core's
 * ResponseSink): order and the final flag on `…/infer` with `Accept: text/event-stream` and on
 * `…/generate_stream`, the empty final, errors before and after the first event, /generate on a
 * model that answers more than once, a client disconnect mid-stream aborting the request, and the
 * bound on what a client that stops reading can make the server hold.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { InferenceService, type ModelMetadata } from '../../../src/core/inference-service.js';
import type { InferenceRequest, InferenceResponse } from '../../../src/core/inference-request.js';
import type { ResponseSink } from '../../../src/core/response-stream.js';
import { ModelRegistry } from '../../../src/repository/model-registry.js';
import { HttpFrontend } from '../../../src/frontends/http/http-server.js';
import { MAX_UNSENT_BYTES } from '../../../src/frontends/http/event-stream.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { encodeTypedValues } from '../../../src/core/tensor-codec.js';
import { encodeBytesElements } from '../../../src/core/bytes-tensor.js';
import { errors } from '../../../src/errors/catalogue.js';
import { InferenceError } from '../../../src/errors/inference-error.js';
import { errorOf, http, postJson } from './http-client.js';
import { openStream, sseEvents } from './sse-client.js';

type Script = (req: InferenceRequest, sink: ResponseSink) => Promise<void>;

/** Every request goes to `script`; metadata is one INT32 input `IN` [-1] and one output `OUT`. */
class ScriptedService extends InferenceService {
  script: Script = async () => {};
  readonly seen: InferenceRequest[] = [];

  constructor() {
    super(new ModelRegistry(), { name: 'scripted', version: '0', extensions: [] });
  }

  override async inferStream(req: InferenceRequest, sink: ResponseSink): Promise<void> {
    this.seen.push(req);
    return this.script(req, sink);
  }

  override modelMetadata(name: string): ModelMetadata {
    return { name, versions: ['1'], platform: 'scripted', inputs: [{ name: 'IN', datatype: 'INT32', shape: [-1] }], outputs: [{ name: 'OUT', datatype: 'INT32', shape: [-1] }] };
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function response(req: InferenceRequest, values: number[]): InferenceResponse {
  return {
    id: req.id, modelName: req.modelName, modelVersion: '1', parameters: {},
    outputs: [{ name: 'OUT', datatype: 'INT32', shape: [values.length], data: encodeTypedValues('INT32', values), parameters: {} }],
  };
}

/** Sends one response per input element, `OUT` = [element], `gapMs` apart; the last one final. */
const repeat = (gapMs: number): Script => async (req, sink) => {
  sink.accepted();
  const values = [...new Int32Array(req.inputs[0]!.data.slice().buffer)];
  for (let i = 0; i < values.length; i++) {
    if (req.cancellation?.aborted === true) throw req.cancellation.reason as InferenceError;
    if (gapMs > 0) await sleep(gapMs);
    sink.send(response(req, [values[i]!]), i === values.length - 1);
  }
};

const svc = new ScriptedService();
let http1: HttpFrontend;
let base = '';
before(async () => {
  http1 = HttpFrontend.create(svc, silentLogger(), { maxInputBytes: 64 * 1024 * 1024 });
  base = `http://127.0.0.1:${await http1.listen('127.0.0.1', 0)}/v2/models/rep`;
});
after(() => http1.close(1000));

const inferBody = (values: number[], extra: Record<string, unknown> = {}) => ({ id: 'r1', inputs: [{ name: 'IN', datatype: 'INT32', shape: [values.length], data: values }], ...extra });
const SSE = { accept: 'text/event-stream' };

interface Event {
  id?: string;
  model_name?: string;
  model_version?: string;
  parameters?: Record<string, unknown>;
  outputs?: { name: string; data: unknown[] }[];
  error?: string;
  OUT?: unknown;
}

describe('POST …/infer with Accept: text/event-stream', () => {
  it('streams every response in order, triton_final_response false until the last', async () => {
    svc.script = repeat(5);
    const r = await postJson(`${base}/infer`, inferBody([4, 5, 6, 7, 8]), SSE);
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'text/event-stream; charset=utf-8');
    assert.equal(r.headers['cache-control'], 'no-cache');
    const events = sseEvents(r.body) as Event[];
    assert.deepEqual(events.map((e) => e.outputs?.[0]?.data), [[4], [5], [6], [7], [8]]);
    assert.deepEqual(events.map((e) => e.parameters?.['triton_final_response']), [false, false, false, false, true]);
    assert.ok(events.every((e) => e.id === 'r1' && e.model_name === 'rep' && e.model_version === '1'));
  });

  it('an empty final (no last response) is an event without outputs carrying the final flag', async () => {
    svc.script = async (req, sink) => {
      sink.accepted();
      sink.send(response(req, [1]), false);
      sink.send(response(req, [2]), false);
      sink.send(undefined, true);
    };
    const events = sseEvents((await postJson(`${base}/infer`, inferBody([0]), SSE)).body) as Event[];
    assert.equal(events.length, 3);
    assert.deepEqual(events[2], { id: 'r1', model_name: 'rep', model_version: '1', parameters: { triton_final_response: true }, outputs: [] });
  });

  it('zero responses then an empty final: one event, final', async () => {
    svc.script = async (_req, sink) => {
      sink.accepted();
      sink.send(undefined, true);
    };
    const events = sseEvents((await postJson(`${base}/infer`, inferBody([0]), SSE)).body) as Event[];
    assert.deepEqual(events.map((e) => [e.outputs, e.parameters]), [[[], { triton_final_response: true }]]);
  });

  it('an error before the first event is a plain JSON error with its mapped status', async () => {
    svc.script = async () => {
      throw errors.unavailable("model 'rep' is busy");
    };
    const r = await postJson(`${base}/infer`, inferBody([1]), SSE);
    assert.equal(r.status, 503);
    assert.match(String(r.headers['content-type']), /^application\/json/);
    assert.equal(errorOf(r), "model 'rep' is busy");
  });

  it('an error after the first event is an error event, then the stream ends', async () => {
    svc.script = async (req, sink) => {
      sink.accepted();
      sink.send(response(req, [1]), false);
      await sleep(5);
      throw errors.internal("model 'rep' failed at response 2");
    };
    const r = await postJson(`${base}/infer`, inferBody([1]), SSE);
    assert.equal(r.status, 200);
    const events = sseEvents(r.body) as Event[];
    assert.equal(events.length, 2);
    assert.deepEqual(events[0]!.outputs?.[0]?.data, [1]);
    assert.deepEqual(events[1], { error: "model 'rep' failed at response 2" });
  });

  it('a response that cannot be written fails the request (the producer\'s send does not throw)', async () => {
    let threw = false;
    let signal: AbortSignal | undefined;
    svc.script = async (req, sink) => {
      signal = req.cancellation?.signal;
      sink.accepted();
      try {
        sink.send(response(req, [1]), false);
        sink.send({ ...response(req, []), outputs: [{ name: 'OUT', datatype: 'BYTES', shape: [1], data: new Uint8Array([9, 0]), parameters: {} }] }, false);
        sink.send(response(req, [3]), true);
      } catch {
        threw = true;
      }
    };
    const r = await postJson(`${base}/infer`, inferBody([1]), SSE);
    const events = sseEvents(r.body) as Event[];
    assert.equal(threw, false);
    assert.equal(signal?.aborted, true);
    assert.equal(events.length, 2);
    assert.deepEqual(events[0]!.outputs?.[0]?.data, [1]);
    assert.equal(typeof events[1]!.error, 'string');
  });

  it('binary outputs cannot travel as events: 400 before anything runs', async () => {
    const before = svc.seen.length;
    const one = await postJson(`${base}/infer`, inferBody([1], { outputs: [{ name: 'OUT', parameters: { binary_data: true } }] }), SSE);
    assert.equal(one.status, 400);
    assert.match(errorOf(one), /output 'OUT' asks for binary_data, which Accept: text\/event-stream cannot carry/);
    const all = await postJson(`${base}/infer`, inferBody([1], { parameters: { binary_data_output: true } }), SSE);
    assert.equal(all.status, 400);
    assert.match(errorOf(all), /'binary_data_output' cannot be used with Accept: text\/event-stream/);
    assert.equal(svc.seen.length, before);
  });

  it('a client that disconnects mid-stream aborts the request (CANCELLED) and later sends are dropped', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    let signal: AbortSignal | undefined;
    let sentAfter = 0;
    svc.script = async (req, sink) => {
      signal = req.cancellation?.signal;
      sink.accepted();
      sink.send(response(req, [1]), false);
      await gate;
      for (let i = 0; i < 3; i++) {
        sink.send(response(req, [2 + i]), false);
        sentAfter++;
      }
      sink.send(undefined, true);
    };
    const s = await openStream(`${base}/infer`, JSON.stringify(inferBody([1])));
    assert.deepEqual(((await s.next(1))[0] as Event).outputs?.[0]?.data, [1]);
    s.req.destroy();
    for (let i = 0; i < 100 && signal?.aborted !== true; i++) await sleep(10);
    assert.equal(signal?.aborted, true);
    assert.equal((signal?.reason as InferenceError).code, 'CANCELLED');
    release();
    await sleep(20);
    assert.equal(sentAfter, 3);
  });

  it('a client that stops reading cannot make the server hold more than MAX_UNSENT_BYTES', async () => {
    const big = 'x'.repeat(4 * 1024 * 1024);
    let signal: AbortSignal | undefined;
    let sends = 0;
    svc.script = async (req, sink) => {
      signal = req.cancellation?.signal;
      sink.accepted();
      for (let i = 0; i < 64 && req.cancellation?.aborted !== true; i++) {
        sink.send({ ...response(req, []), outputs: [{ name: 'OUT', datatype: 'BYTES', shape: [1], data: encodeBytesElements([big]), parameters: {} }] }, false);
        sends++;
        await sleep(1);
      }
      sink.send(undefined, true);
    };
    const s = await openStream(`${base}/infer`, JSON.stringify(inferBody([1])));
    s.res.pause();
    for (let i = 0; i < 500 && signal?.aborted !== true; i++) await sleep(10);
    assert.equal(signal?.aborted, true);
    assert.equal((signal?.reason as InferenceError).code, 'RESOURCE_EXHAUSTED');
    assert.ok(sends * big.length <= MAX_UNSENT_BYTES + 32 * 1024 * 1024, `${sends} sends of 4 MiB before the abort`);
    s.req.destroy();
  });
});

describe('generate and generate_stream with several responses', () => {
  it('generate_stream: one generate object per response, in order; the stream end is the end', async () => {
    svc.script = repeat(2);
    const r = await postJson(`${base}/generate_stream`, { IN: [3, 1, 2] });
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'text/event-stream; charset=utf-8');
    assert.deepEqual(sseEvents(r.body), [
      { model_name: 'rep', model_version: '1', OUT: 3 },
      { model_name: 'rep', model_version: '1', OUT: 1 },
      { model_name: 'rep', model_version: '1', OUT: 2 },
    ]);
  });

  it('generate_stream writes no event for an empty final', async () => {
    svc.script = async (req, sink) => {
      sink.accepted();
      sink.send(response(req, [9]), false);
      sink.send(undefined, true);
    };
    assert.deepEqual(sseEvents((await postJson(`${base}/generate_stream`, { IN: 1 })).body), [{ model_name: 'rep', model_version: '1', OUT: 9 }]);
  });

  it('generate_stream: an error after the first event is a data: {"error"} event', async () => {
    svc.script = async (req, sink) => {
      sink.accepted();
      sink.send(response(req, [9]), false);
      throw errors.invalidArg('bad step');
    };
    const r = await postJson(`${base}/generate_stream`, { IN: 1 });
    assert.equal(r.status, 200);
    assert.deepEqual(sseEvents(r.body), [{ model_name: 'rep', model_version: '1', OUT: 9 }, { error: 'bad step' }]);
  });

  it('generate on a model answering more than once: 400 naming generate_stream, request stopped at the second response', async () => {
    let signal: AbortSignal | undefined;
    svc.script = async (req, sink) => {
      signal = req.cancellation?.signal;
      await repeat(0)(req, sink);
    };
    const r = await postJson(`${base}/generate`, { IN: [1, 2, 3, 4] });
    assert.equal(r.status, 400);
    assert.match(errorOf(r), /generate expects model 'rep' to produce exactly 1 response, use generate_stream/);
    assert.equal(signal?.aborted, true);
  });

  it('generate on a model answering with only an empty final: 400', async () => {
    svc.script = async (_req, sink) => sink.send(undefined, true);
    const r = await postJson(`${base}/generate`, { IN: 1 });
    assert.equal(r.status, 400);
    assert.match(errorOf(r), /exactly 1 response/);
  });

  it('GET on the generate routes is 405', async () => {
    assert.equal((await http(`${base}/generate`)).status, 405);
    assert.equal((await http(`${base}/generate_stream`)).status, 405);
  });
});
