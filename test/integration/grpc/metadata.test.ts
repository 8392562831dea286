/**
 * Health, metadata, config, repository index and statistics RPCs against a repository that mixes
 * good models with broken ones (which must show UNAVAILABLE with a reason and not stop the rest).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { status, type ServiceError } from '@grpc/grpc-js';
import { TempRepo } from '../../helpers/repo.js';
import { call, startServer, type TestServer } from '../../helpers/start-server.js';

const GOOD = `
platform: "onnxruntime_onnx"
max_batch_size: 4
input [ { name: "IN" data_type: TYPE_FP32 dims: [ -1 ] } ]
output [ { name: "OUT" data_type: TYPE_FP32 dims: [ -1 ] } ]
`;

let ts: TestServer;
const repo = new TempRepo();
before(async () => {
  repo.addBundled('simple').addBundled('autocomplete_add').addBundled('classifier');
  repo.add('versions', {
    config: `${GOOD}\nversion_policy: { latest: { num_versions: 2 } }`,
    versions: { 1: 'identity_fp32.onnx', 2: 'identity_fp32.onnx', 3: 'identity_fp32.onnx' },
    files: { '04/model.onnx': new Uint8Array(1) }, // leading zero: not a version folder
  });
  repo.add('bad_pbtxt', { config: 'max_batch_size: 4\ninput [ { name: "IN" data_type: TYPE_NOPE } ]', versions: { 1: 'identity_fp32.onnx' } });
  repo.add('garbage_onnx', { config: GOOD, versions: { 1: 'invalid.onnx' } });
  repo.add('no_versions', { config: GOOD });
  ts = await startServer([repo.dir]);
});
after(async () => {
  await ts.close();
  repo.remove();
});

const c = () => ts.client;

describe('health and server metadata', () => {
  it('is live; not ready while some model is unavailable (strict readiness)', async () => {
    assert.deepEqual(await call(c().ServerLive.bind(c()), {}), { live: true });
    assert.deepEqual(await call(c().ServerReady.bind(c()), {}), { ready: false });
    const h = await call(ts.health.Check.bind(ts.health), { service: '' });
    assert.equal(h.status, 'NOT_SERVING');
  });

  it('reports name, version and only the extensions it implements', async () => {
    const m = await call(c().ServerMetadata.bind(c()), {});
    assert.equal(m.name, 'infera');
    assert.match(m.version, /^\d+\.\d+\.\d+/);
    // Triton's order (PROTOCOL.md §6.7); system_shared_memory only with --allow-client-shm=true.
    assert.deepEqual(m.extensions, ['classification', 'sequence', 'model_repository', 'model_repository(unload_dependents)', 'schedule_policy', 'model_configuration', 'binary_tensor_data', 'statistics', 'trace', 'logging']);
  });

  it('ModelReady: true, false for a version that is not served, NOT_FOUND for an unknown model', async () => {
    assert.equal((await call(c().ModelReady.bind(c()), { name: 'simple', version: '' })).ready, true);
    assert.equal((await call(c().ModelReady.bind(c()), { name: 'versions', version: '1' })).ready, false);
    assert.equal((await call(c().ModelReady.bind(c()), { name: 'garbage_onnx', version: '' })).ready, false);
    await assert.rejects(call(c().ModelReady.bind(c()), { name: 'ghost', version: '' }), (e: ServiceError) => e.code === status.NOT_FOUND);
  });
});

describe('model metadata and config', () => {
  it('reports [-1]+dims for a batching model and every ready version', async () => {
    const m = await call(c().ModelMetadata.bind(c()), { name: 'simple', version: '' });
    assert.equal(m.platform, 'onnxruntime_onnx');
    assert.deepEqual(m.versions, ['1']);
    assert.deepEqual(m.inputs.map((i) => [i.name, i.datatype, i.shape]), [['INPUT0', 'INT32', [-1, 16]], ['INPUT1', 'INT32', [-1, 16]]]);
    const v = await call(c().ModelMetadata.bind(c()), { name: 'versions', version: '' });
    assert.deepEqual(v.versions, ['2', '3']);
    const v2 = await call(c().ModelMetadata.bind(c()), { name: 'versions', version: '2' });
    assert.deepEqual(v2.versions, ['2']);
  });

  it('returns the normalized config with Triton defaults filled in', async () => {
    const { config } = await call(c().ModelConfig.bind(c()), { name: 'simple', version: '' });
    assert.ok(config);
    assert.equal(config.name, 'simple');
    assert.equal(config.max_batch_size, 8);
    assert.equal(config.backend, 'onnxruntime');
    assert.deepEqual(config.dynamic_batching?.preferred_batch_size, [8]);
    assert.equal(config.version_policy?.latest?.num_versions, 1);
    assert.equal(config.instance_group[0]?.kind, 'KIND_CPU');
    assert.equal(config.instance_group[0]?.count, 1);
    assert.equal(config.input[0]?.data_type, 'TYPE_INT32');
    assert.deepEqual(config.input[0]?.dims, [16]);
  });

  it('auto-completes inputs, outputs and max_batch_size from the ONNX model', async () => {
    const { config } = await call(c().ModelConfig.bind(c()), { name: 'autocomplete_add', version: '' });
    assert.ok(config);
    assert.equal(config.max_batch_size, 4);
    assert.equal(config.platform, 'onnxruntime_onnx');
    assert.deepEqual(config.input.map((i) => [i.name, i.data_type, i.dims]), [['A', 'TYPE_FP32', [3]], ['B', 'TYPE_FP32', [3]]]);
    assert.deepEqual(config.output.map((o) => [o.name, o.data_type, o.dims]), [['SUM', 'TYPE_FP32', [3]]]);
    assert.ok(config.dynamic_batching, 'dynamic_batching added for max_batch_size > 1');
  });

  it('unknown model → NOT_FOUND; unavailable model → NOT_FOUND (no ready version)', async () => {
    await assert.rejects(call(c().ModelConfig.bind(c()), { name: 'ghost', version: '' }), (e: ServiceError) => e.code === status.NOT_FOUND);
    await assert.rejects(call(c().ModelMetadata.bind(c()), { name: 'garbage_onnx', version: '' }), (e: ServiceError) =>
      e.code === status.NOT_FOUND && /has no available versions/.test(e.details));
  });
});

describe('repository index', () => {
  it('lists every model with state and reason; broken ones UNAVAILABLE', async () => {
    const { models } = await call(c().RepositoryIndex.bind(c()), { repository_name: '', ready: false });
    const by = (n: string) => models.filter((m) => m.name === n);
    assert.deepEqual(by('simple').map((m) => [m.version, m.state]), [['1', 'READY']]);
    assert.deepEqual(by('versions').map((m) => [m.version, m.state]), [['2', 'READY'], ['3', 'READY']]);
    const bad = by('bad_pbtxt')[0]!;
    assert.equal(bad.state, 'UNAVAILABLE');
    assert.match(bad.reason, /config\.pbtxt:2:\d+/);
    assert.match(bad.reason, /TYPE_NOPE/);
    const garbage = by('garbage_onnx')[0]!;
    assert.equal(garbage.state, 'UNAVAILABLE');
    assert.match(garbage.reason, /garbage_onnx/);
    assert.match(by('no_versions')[0]!.reason, /at least one version must be available/);
  });

  it('ready=true lists only READY versions', async () => {
    const { models } = await call(c().RepositoryIndex.bind(c()), { repository_name: '', ready: true });
    assert.ok(models.every((m) => m.state === 'READY'));
    assert.ok(!models.some((m) => m.name === 'bad_pbtxt'));
  });

  it('a repository_name → UNIMPLEMENTED', async () => {
    await assert.rejects(call(c().RepositoryIndex.bind(c()), { repository_name: 'other', ready: false }), (e: ServiceError) => e.code === status.UNIMPLEMENTED);
  });
});

describe('ModelStreamInfer is served', () => {
  it('an empty stream the client half-closes ends with OK', async () => {
    const stream = c().ModelStreamInfer();
    const end = await new Promise<ServiceError | null>((resolve) => {
      stream.on('error', resolve);
      stream.on('data', () => undefined);
      stream.on('end', () => resolve(null));
      stream.end();
    });
    assert.equal(end, null);
  });
});

describe('statistics', () => {
  it('counts requests, batch elements and executions with Triton semantics', async () => {
    const input = Buffer.from(new Float32Array(12).buffer);
    const req = { model_name: 'versions', model_version: '3', inputs: [{ name: 'IN', datatype: 'FP32', shape: [3, 1] }], raw_input_contents: [input.subarray(0, 12)] };
    await call(c().ModelInfer.bind(c()), req);
    await call(c().ModelInfer.bind(c()), req);
    await assert.rejects(call(c().ModelInfer.bind(c()), { ...req, raw_input_contents: [input.subarray(0, 8)] }));
    const { model_stats } = await call(c().ModelStatistics.bind(c()), { name: 'versions', version: '' });
    assert.deepEqual(model_stats.map((s) => s.version), ['2', '3']);
    const s = model_stats[1]!;
    assert.equal(s.inference_count, 6);
    assert.equal(s.execution_count, 2);
    assert.equal(s.inference_stats!.success!.count, 2);
    assert.equal(s.inference_stats!.fail!.count, 1);
    assert.equal(s.inference_stats!.queue!.count, 2);
    assert.equal(s.inference_stats!.compute_infer!.count, 2);
    assert.ok(s.inference_stats!.compute_infer!.ns > 0);
    assert.deepEqual(s.batch_stats.map((b) => [b.batch_size, b.compute_infer!.count]), [[3, 2]]);
    assert.ok(s.last_inference > Date.now() - 60_000);
    assert.equal(model_stats[0]!.inference_count, 0);
  });

  it('empty name lists every model; an unavailable model → INVALID_ARGUMENT', async () => {
    const { model_stats } = await call(c().ModelStatistics.bind(c()), { name: '', version: '' });
    assert.ok(model_stats.some((s) => s.name === 'simple'));
    await assert.rejects(call(c().ModelStatistics.bind(c()), { name: 'garbage_onnx', version: '' }), (e: ServiceError) => e.code === status.INVALID_ARGUMENT);
  });
});
