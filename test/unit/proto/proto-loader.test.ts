// The run-time shapes the gRPC front-end receives from proto-loader, and the guarantee that
// src/generated/ describes exactly those shapes (same options, regenerated output up to date).
import assert from 'node:assert/strict';
import { findPackageRoot } from '../../../src/util/package-root.js';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import protobuf from 'protobufjs';
import {
  PROTO_FILES,
  PROTO_LOADER_OPTIONS,
  loadInferenceProtos,
  resolveProtoDir,
} from '../../../src/frontends/grpc/proto-loader.js';

const PACKAGE_ROOT = findPackageRoot(dirname(fileURLToPath(import.meta.url)));

/** Turns generator CLI flags back into proto-loader options, for comparison. */
function flagsToOptions(flags: readonly string[]): Record<string, unknown> {
  const ctor: Record<string, unknown> = { String, Number, Array, Buffer };
  const opts: Record<string, unknown> = {};
  for (const flag of flags) {
    const [key = '', value] = flag.replace(/^--/, '').split('=');
    if (key === 'grpcLib' || key === 'importFileExtension') continue;
    opts[key] = value === undefined ? true : ctor[value];
  }
  return opts;
}

describe('PROTO_LOADER_OPTIONS', () => {
  it('match the flags scripts/gen-types.mjs generates src/generated/ with', async () => {
    const script = (await import(pathToFileURL(join(PACKAGE_ROOT, 'scripts', 'gen-types.mjs')).href)) as {
      GENERATOR_FLAGS: readonly string[];
      PROTO_FILES: readonly string[];
    };
    assert.deepEqual(flagsToOptions(script.GENERATOR_FLAGS), { ...PROTO_LOADER_OPTIONS });
    assert.deepEqual(script.PROTO_FILES, PROTO_FILES);
  });

  it('decode 64-bit integers as numbers, enums as names, bytes as Buffers', () => {
    assert.equal(PROTO_LOADER_OPTIONS.longs, Number);
    assert.equal(PROTO_LOADER_OPTIONS.enums, String);
    assert.equal(PROTO_LOADER_OPTIONS.bytes, undefined);
    assert.equal(PROTO_LOADER_OPTIONS.keepCase, true);
  });
});

describe('loadInferenceProtos', () => {
  const protos = loadInferenceProtos();

  it('returns the same frozen definitions on every call', () => {
    assert.equal(loadInferenceProtos(), protos);
    assert.ok(Object.isFrozen(protos));
  });

  it('gives grpc-js method paths for all 20 inference RPCs and both health RPCs', () => {
    const paths = Object.values(protos.inference).map((m) => m.path);
    assert.equal(paths.length, 20);
    assert.ok(paths.every((p) => p.startsWith('/inference.GRPCInferenceService/')));
    assert.equal(protos.inference.ModelInfer.path, '/inference.GRPCInferenceService/ModelInfer');
    assert.equal(protos.inference.ModelStreamInfer.requestStream, true);
    assert.equal(protos.inference.ModelStreamInfer.responseStream, true);
    assert.equal(protos.inference.ModelInfer.requestStream, false);
    assert.equal(protos.health.Check.path, '/grpc.health.v1.Health/Check');
    assert.equal(protos.health.Watch.responseStream, true);
    assert.ok(protos.packageDefinition['inference.ModelConfig'], 'model_config.proto is loaded too');
  });

  it('decodes int64 shapes and uint64 counters to JS numbers', () => {
    const codec = protos.inference.ModelInfer;
    const req = codec.requestDeserialize(
      codec.requestSerialize({ inputs: [{ name: 'x', datatype: 'INT64', shape: [-1, 3, '8'] }] }),
    );
    assert.deepEqual(req.inputs[0]?.shape, [-1, 3, 8]);
    const stats = protos.inference.ModelStatistics;
    const res = stats.responseDeserialize(
      stats.responseSerialize({ model_stats: [{ inference_count: 12, inference_stats: { success: { count: 2, ns: 900 } } }] }),
    );
    assert.equal(res.model_stats[0]?.inference_count, 12);
    assert.deepEqual(res.model_stats[0]?.inference_stats?.success, { count: 2, ns: 900 });
  });

  it('encodes a uint64 given as a decimal string exactly, beyond 2^53', () => {
    const bytes = protos.inference.ModelStatistics.responseSerialize({
      model_stats: [{ inference_count: '18446744073709551615' }],
    });
    const root = new protobuf.Root();
    root.resolvePath = (_origin, target) => join(resolveProtoDir(), target);
    root.loadSync('grpc_service.proto', { keepCase: true });
    const type = root.lookupType('inference.ModelStatisticsResponse');
    const back = type.toObject(type.decode(bytes), { longs: String }) as { model_stats: { inference_count: string }[] };
    assert.equal(back.model_stats[0]?.inference_count, '18446744073709551615');
  });

  it('fills proto3 defaults for omitted fields but never for oneof members', () => {
    const codec = protos.inference.ModelInfer;
    const req = codec.requestDeserialize(
      codec.requestSerialize({ parameters: { flag: { bool_param: false }, none: {} }, inputs: [{}] }),
    );
    assert.equal(req.model_name, '');
    assert.deepEqual(req.raw_input_contents, []);
    assert.deepEqual(req.outputs, []);
    assert.equal(req.inputs[0]?.contents, null);
    assert.deepEqual(req.parameters['flag'], { bool_param: false, parameter_choice: 'bool_param' });
    assert.deepEqual(req.parameters['none'], {}, 'an empty InferParameter has no member and no choice');
  });

  it('decodes enums to names and bytes to Buffers', () => {
    assert.deepEqual(protos.health.Check.responseDeserialize(Buffer.from([0x08, 0x02])), { status: 'NOT_SERVING' });
    assert.deepEqual(protos.health.Check.responseDeserialize(Buffer.alloc(0)), { status: 'UNKNOWN' });
    const reg = protos.inference.CudaSharedMemoryRegister.requestDeserialize(Buffer.from([0x12, 0x02, 0xab, 0xcd]));
    assert.ok(Buffer.isBuffer(reg.raw_handle));
    assert.equal(reg.raw_handle.toString('hex'), 'abcd');
  });
});

describe('findPackageRoot / resolveProtoDir', () => {
  it('walks up to the nearest folder with package.json', () => {
    const tmp = mkdtempSync(join(tmpdir(), 'infera-root-'));
    try {
      const pkg = join(tmp, 'pkg');
      mkdirSync(join(pkg, 'dist', 'src', 'frontends', 'grpc'), { recursive: true });
      writeFileSync(join(pkg, 'package.json'), '{}');
      assert.equal(findPackageRoot(join(pkg, 'dist', 'src', 'frontends', 'grpc')), pkg);
      assert.equal(resolveProtoDir(join(pkg, 'dist', 'src')), join(pkg, 'proto'));
      assert.equal(findPackageRoot(pkg), pkg);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('finds this repository proto folder from compiled code by default', () => {
    assert.equal(resolveProtoDir(), join(PACKAGE_ROOT, 'proto'));
  });
});

describe('src/generated', () => {
  it('is exactly what `npm run gen:types` produces from proto/ now', () => {
    const res = spawnSync(process.execPath, [join(PACKAGE_ROOT, 'scripts', 'gen-types.mjs'), '--check'], {
      cwd: PACKAGE_ROOT,
      encoding: 'utf8',
    });
    assert.equal(res.status, 0, `${res.stdout}${res.stderr}`);
  });
});
