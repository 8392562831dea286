/**
 * The TensorFlow fixtures (../shared/fixtures/tensorflow/, made by TensorFlow's own tools) placed
 * into a temporary Triton-layout repository, and small helpers to read gRPC outputs.
 */
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT, TempRepo } from '../../helpers/repo.js';

export const TF_FIXTURES = path.join(ROOT, '..', 'shared', 'fixtures', 'tensorflow');
export const SAVED_MODELS = path.join(TF_FIXTURES, 'saved_model');
export const TFJS_MODELS = path.join(TF_FIXTURES, 'tfjs');

/** `<repo>/<name>/1/model.savedmodel/` from a fixture folder, with an optional config.pbtxt. */
export function addSavedModel(repo: TempRepo, name: string, fixture: string, config?: string): string {
  const dir = path.join(repo.dir, name, '1', 'model.savedmodel');
  mkdirSync(dir, { recursive: true });
  cpSync(path.join(SAVED_MODELS, fixture), dir, { recursive: true });
  if (config !== undefined) writeFileSync(path.join(repo.dir, name, 'config.pbtxt'), config);
  return dir;
}

/** `<repo>/<name>/1/` holding a TF.js fixture's files, with an optional config.pbtxt. */
export function addTfjsModel(repo: TempRepo, name: string, fixture: string, config?: string): string {
  const dir = path.join(repo.dir, name, '1');
  mkdirSync(dir, { recursive: true });
  cpSync(path.join(TFJS_MODELS, fixture), dir, { recursive: true });
  if (config !== undefined) writeFileSync(path.join(repo.dir, name, 'config.pbtxt'), config);
  return dir;
}

/** One instance: the tests run on two cores. */
export const ONE_INSTANCE = 'instance_group [ { count: 1, kind: KIND_CPU } ]\n';

export function f32(b: Buffer | Uint8Array): number[] {
  return [...new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength))];
}
export function i32(b: Buffer | Uint8Array): number[] {
  return [...new Int32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength))];
}
export function i64(b: Buffer | Uint8Array): bigint[] {
  return [...new BigInt64Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength))];
}
export function raw(a: ArrayBufferView): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

export function readFixture(...parts: string[]): Buffer {
  return readFileSync(path.join(TF_FIXTURES, ...parts));
}
