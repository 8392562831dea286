/**
 * inferStream against the real server over both transports: the decoupled repeat_int32 answers n
 * responses in order with `triton_final_response` as gRPC's ModelStreamInfer shows it (the
 * output-less final only when the request asks for it), `simple` one response, concurrent
 * requests interleave and are matched by id, errors carry code, status and the server's message,
 * and breaking out of the loop ends the request on the server (its statistics count a failure).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { InferenceClient, InferenceClientError, type InferInput, type InferRequest, type InferResult } from 'infera/client';
import { TempRepo } from '../../helpers/repo.js';
import { startServer, type TestServer } from '../../helpers/start-server.js';

let ts: TestServer;
const repo = new TempRepo();
before(async () => {
  repo.addBundled('repeat_int32').addBundled('simple');
  ts = await startServer([repo.dir]);
});
after(async () => {
  await ts?.close();
  repo.remove();
});

const repeat = (id: string, values: number[], delays: number[], parameters: InferRequest['parameters'] = {}): InferRequest => ({
  model: 'repeat_int32', id, parameters,
  inputs: [
    { name: 'IN', datatype: 'INT32', shape: [values.length], data: Int32Array.from(values) },
    { name: 'DELAY', datatype: 'UINT32', shape: [delays.length], data: Uint32Array.from(delays) },
    { name: 'WAIT', datatype: 'UINT32', shape: [1], data: Uint32Array.of(0) },
  ],
});
const a16 = Int32Array.from({ length: 16 }, (_, i) => i);
const simple = (id: string, k: number): InferRequest => ({
  model: 'simple', id,
  inputs: [
    { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: Int32Array.from(a16, (v) => v * k) },
    { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: new Int32Array(16).fill(1) },
  ] as InferInput[],
});

/** What a test compares: id, OUT/IDX values (or OUTPUT0), the final flag. */
function summary(r: InferResult): [string, number[], boolean | undefined] {
  const names = r.outputs.map((o) => o.name);
  const values = names.includes('OUT')
    ? [r.output('OUT', 'INT32').data[0]!, r.output('IDX', 'UINT32').data[0]!]
    : names.includes('OUTPUT0') ? Array.from(r.output('OUTPUT0', 'INT32').data) : [];
  return [r.id, values, r.parameters['triton_final_response'] as boolean | undefined];
}

async function collect(c: InferenceClient, requests: Iterable<InferRequest> | AsyncIterable<InferRequest>): Promise<ReturnType<typeof summary>[]> {
  const out: ReturnType<typeof summary>[] = [];
  for await (const r of c.inferStream(requests)) out.push(summary(r));
  return out;
}

async function rejection(f: () => Promise<unknown>): Promise<InferenceClientError> {
  try {
    await f();
  } catch (e) {
    assert.ok(e instanceof InferenceClientError, `expected InferenceClientError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected a rejection');
}

async function failures(c: InferenceClient): Promise<number> {
  const [s] = await c.modelStatistics('repeat_int32');
  return Number(s!.inference_stats!.fail!.count);
}

for (const transport of ['grpc', 'http'] as const) {
  describe(`inferStream over ${transport}`, () => {
    let c: InferenceClient;
    before(() => {
      c = new InferenceClient(transport === 'grpc' ? ts.target : ts.httpUrl);
    });
    after(() => c.close());

    it('repeat_int32: n responses in order, each with triton_final_response false', async () => {
      const got = await collect(c, [repeat('r', [4, 5, 6], [0, 10, 0])]);
      assert.deepEqual(got, [['r', [4, 0], false], ['r', [5, 1], false], ['r', [6, 2], false]]);
    });

    it('repeat_int32 asking for the empty final response: it comes last, output-less, flagged final', async () => {
      const got = await collect(c, [repeat('e', [7, 8], [0, 0], { triton_enable_empty_final_response: true })]);
      assert.deepEqual(got, [['e', [7, 0], false], ['e', [8, 1], false], ['e', [], true]]);
    });

    it('simple: one response per request, several requests matched by id', async () => {
      const got = await collect(c, [simple('s3', 3), simple('s5', 5)]);
      assert.deepEqual(got.map((g) => g[0]).sort(), ['s3', 's5']);
      for (const [id, values] of got) assert.deepEqual(values, Array.from(a16, (v) => v * Number(id.slice(1)) + 1));
    });

    it('requests run concurrently: a fast request answers before a slow one sent first', async () => {
      const got = await collect(c, [repeat('slow', [1], [400]), repeat('fast', [2], [0])]);
      assert.deepEqual(got.map((g) => g[0]), ['fast', 'slow']);
    });

    it('an unknown model ends the iterator with the server\'s message', async () => {
      const e = await rejection(() => collect(c, [{ ...simple('x', 1), model: 'no_such_model' }]));
      assert.match(e.message, /no_such_model/);
      if (transport === 'http') {
        assert.equal(e.code, 'NOT_FOUND');
        assert.equal(e.httpStatus, 404);
      }
    });

    it('a bad input ends the iterator with the server\'s message', async () => {
      const bad: InferRequest = { ...simple('b', 1), inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 4], data: new Int32Array(4) }] };
      const e = await rejection(() => collect(c, [bad]));
      assert.match(e.message, /unexpected shape for input 'INPUT0' for model 'simple'/);
      if (transport === 'http') {
        assert.equal(e.code, 'INVALID_ARG');
        assert.equal(e.httpStatus, 400);
      }
    });

    it('breaking out of the loop ends the request on the server (counted as failed)', async () => {
      const before = await failures(c);
      const started = Date.now();
      for await (const r of c.inferStream([repeat('long', [1, 2, 3], [0, 30_000, 0])])) {
        assert.deepEqual(summary(r), ['long', [1, 0], false]);
        break;
      }
      let now = await failures(c);
      while (now === before && Date.now() - started < 10_000) {
        await new Promise((ok) => setTimeout(ok, 50));
        now = await failures(c);
      }
      assert.equal(now, before + 1, 'the abandoned request failed long before its 30 s delay');
    });

    it('an AbortSignal cancels the stream (CANCELLED)', async () => {
      const ac = new AbortController();
      const e = await rejection(async () => {
        for await (const r of c.inferStream([repeat('a', [1, 2], [0, 30_000])], { signal: ac.signal })) {
          assert.deepEqual(summary(r), ['a', [1, 0], false]);
          ac.abort();
        }
      });
      assert.equal(e.code, 'CANCELLED');
    });
  });
}

describe('inferStream over HTTP: what only it has to do', () => {
  it('requests of one sequence are sent one after the other, in order', async () => {
    // Two sequences interleaved: each one's responses must come in the order sent, and the slow
    // first request of sequence 1 holds back its second request only.
    const c = new InferenceClient(ts.httpUrl);
    try {
      const seq = (id: string, s: number, v: number, delay: number) => repeat(id, [v], [delay], { sequence_id: s });
      const got = await collect(c, [seq('1a', 1, 10, 300), seq('2a', 2, 20, 0), seq('1b', 1, 11, 0), seq('2b', 2, 21, 0)]);
      const ids = got.map((g) => g[0]);
      assert.ok(ids.indexOf('1a') < ids.indexOf('1b'), ids.join(','));
      assert.ok(ids.indexOf('2a') < ids.indexOf('2b'), ids.join(','));
      assert.ok(ids.indexOf('2b') < ids.indexOf('1a'), `sequence 2 did not wait for sequence 1: ${ids.join(',')}`);
    } finally {
      c.close();
    }
  });

  it('the caller\'s iterable failing ends the stream with its error and cancels what is in flight', async () => {
    const c = new InferenceClient(ts.httpUrl);
    try {
      const boom = new Error('no more requests');
      async function* requests(): AsyncIterable<InferRequest> {
        yield repeat('in-flight', [1, 2], [0, 30_000]);
        await new Promise((ok) => setTimeout(ok, 50));
        throw boom;
      }
      await assert.rejects(collect(c, requests()), (e) => e === boom);
    } finally {
      c.close();
    }
  });
});
