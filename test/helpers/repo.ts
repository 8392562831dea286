/**
 * Builds throwaway Triton-layout repositories for tests in a temp folder, from the generated
 * fixture models (test/fixtures/models) and the bundled model-repository/.
 */
import { cpSync, mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { findPackageRoot } from '../../src/util/package-root.js';

export const ROOT = findPackageRoot();
export const BUNDLED_REPO = path.join(ROOT, 'model-repository');
export const FIXTURE_MODELS = path.join(ROOT, 'test', 'fixtures', 'models');

/** A batching FP32 identity ([-1] in, [-1] out, one CPU instance) for the fixture identity_fp32.onnx. */
export const IDENTITY_FP32_CONFIG = `
platform: "onnxruntime_onnx"
max_batch_size: 4
input [ { name: "IN" data_type: TYPE_FP32 dims: [ -1 ] } ]
output [ { name: "OUT" data_type: TYPE_FP32 dims: [ -1 ] } ]
instance_group [ { count: 1 kind: KIND_CPU } ]
`;

/** The `slow` fixtures' config (slow.onnx, slow-model.ts): one instance, [4] FP32 IN → OUT, batching up to 4. */
export const SLOW_CONFIG = `
platform: "onnxruntime_onnx"
max_batch_size: 4
input [ { name: "IN" data_type: TYPE_FP32 dims: [ 4 ] } ]
output [ { name: "OUT" data_type: TYPE_FP32 dims: [ 4 ] } ]
instance_group [ { count: 1 kind: KIND_CPU } ]
`;

export interface ModelSpec {
  /** config.pbtxt text; omit for a model without one. */
  config?: string;
  /** Fixture file name (in test/fixtures/models) per version: { 1: 'identity_fp32.onnx' }. */
  versions?: Record<number, string>;
  /** Extra files, path relative to the model folder → contents. */
  files?: Record<string, string | Uint8Array>;
}

export class TempRepo {
  readonly dir: string;

  constructor() {
    this.dir = mkdtempSync(path.join(tmpdir(), 'infera-repo-'));
  }

  add(name: string, spec: ModelSpec): this {
    const m = path.join(this.dir, name);
    mkdirSync(m, { recursive: true });
    if (spec.config !== undefined) writeFileSync(path.join(m, 'config.pbtxt'), spec.config);
    for (const [v, file] of Object.entries(spec.versions ?? {})) {
      mkdirSync(path.join(m, v), { recursive: true });
      cpSync(path.join(FIXTURE_MODELS, file), path.join(m, v, 'model.onnx'));
    }
    for (const [rel, data] of Object.entries(spec.files ?? {})) {
      mkdirSync(path.dirname(path.join(m, rel)), { recursive: true });
      writeFileSync(path.join(m, rel), data);
    }
    return this;
  }

  /** Copies a model folder from the bundled repository. */
  addBundled(name: string): this {
    cpSync(path.join(BUNDLED_REPO, name), path.join(this.dir, name), { recursive: true });
    return this;
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
