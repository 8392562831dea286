/**
 * Writes stand-in `nvidia-smi` shell scripts for tests: each prints fixed csv (or garbage, or
 * fails, or hangs) the way the real tool answers the query gpu-devices.ts sends. The scripts also
 * check that they were called with that query, so a changed query cannot pass unnoticed.
 */
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { NVIDIA_SMI_ARGS } from '../../../src/backends/gpu/gpu-devices.js';

export const TWO_GPUS = [
  '0, GPU-aaaaaaaa-1111-2222-3333-444444444444, NVIDIA H100 80GB HBM3, 81559, 1024, 42',
  '1, GPU-bbbbbbbb-1111-2222-3333-444444444444, NVIDIA H100 80GB HBM3, 81559, 2048, [N/A]',
].join('\n');

export interface FakeSmiDir {
  dir: string;
  /** A script printing `stdout` and exiting with `code` (after `sleepSecs`). */
  script(name: string, stdout: string, o?: { code?: number; stderr?: string; sleepSecs?: number }): Promise<string>;
  cleanup(): Promise<void>;
}

const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

export async function fakeSmiDir(): Promise<FakeSmiDir> {
  const dir = await mkdtemp(path.join(tmpdir(), 'infera-fake-smi-'));
  return {
    dir,
    async script(name, stdout, o = {}) {
      const file = path.join(dir, name);
      const body = [
        '#!/bin/sh',
        `[ "$*" = ${quote(NVIDIA_SMI_ARGS.join(' '))} ] || { echo "unexpected arguments: $*" >&2; exit 9; }`,
        o.sleepSecs === undefined ? '' : `sleep ${o.sleepSecs}`,
        `printf '%s\\n' ${quote(stdout)}`,
        o.stderr === undefined ? '' : `printf '%s\\n' ${quote(o.stderr)} >&2`,
        `exit ${o.code ?? 0}`,
      ].join('\n');
      await writeFile(file, `${body}\n`);
      await chmod(file, 0o755);
      return file;
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}
