/**
 * A cheap change detector for poll mode: the model folder's config text plus every file's
 * relative path, size and modification time. Any added, removed or rewritten file (config, label,
 * version folder, model file) changes the fingerprint, except the typescript backend's transient
 * type-stripped copies (`.<file>.infera-<pid>-<thread>-<n>.mjs`, backends/typescript/typescript-source.ts),
 * which exist only while a model loads and would otherwise make poll mode reload it.
 */
import { createHash } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { ModelSource } from './model-repository.js';

const MAX_ENTRIES = 10_000;
const TRANSIENT_TS_COPY = /^\..+\.infera-\d+-\d+-\d+\.mjs$/;

export async function fingerprintModel(src: ModelSource): Promise<string> {
  const h = createHash('sha256');
  h.update(src.configText ?? '<no config>');
  let seen = 0;
  const walk = async (dir: string): Promise<void> => {
    const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const e of entries) {
      if (++seen > MAX_ENTRIES) return;
      if (TRANSIENT_TS_COPY.test(e.name)) continue;
      const p = path.join(dir, e.name);
      if (e.isDirectory()) {
        h.update(`d:${path.relative(src.dir, p)}\n`);
        await walk(p);
      } else {
        const s = await stat(p).catch(() => undefined);
        h.update(`f:${path.relative(src.dir, p)}:${s?.size ?? -1}:${s?.mtimeMs ?? -1}\n`);
      }
    }
  };
  await walk(src.dir);
  return h.digest('hex');
}
