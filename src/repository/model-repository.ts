/**
 * Filesystem discovery of Triton-layout repositories (PROTOCOL.md §8.1). Finds models and their
 * numeric version folders; never loads anything.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { ModelConfig } from '../config/model-config.js';

export interface ModelSource {
  name: string;
  /** Absolute path of `<repo>/<name>`. */
  dir: string;
  repository: string;
  /** config.pbtxt contents, or undefined when the model has none. */
  configText: string | undefined;
  configPath: string;
  /** Every numeric version folder, ascending. */
  versions: number[];
  /** A config given with the load request; replaces config.pbtxt for this load. */
  configOverride?: ModelConfig | undefined;
}

export interface Discovery {
  sources: ModelSource[];
  /** Model names found in more than one repository, with the folders (such models are UNAVAILABLE). */
  duplicates: Map<string, string[]>;
}

/** "0", "1", "17"; not "01", "1abc" or "-1" (leading-zero names are ignored, as Triton). */
const VERSION_DIR = /^(0|[1-9][0-9]{0,15})$/;
const SKIPPED = new Set(['warmup', 'initial_state', 'configs']);

export async function discoverModels(repositories: readonly string[]): Promise<Discovery> {
  const byName = new Map<string, ModelSource[]>();
  for (const repo of repositories) {
    const abs = path.resolve(repo);
    const entries = await readdir(abs, { withFileTypes: true });
    for (const e of entries) {
      if (!e.isDirectory() || e.name.startsWith('.')) continue;
      const src = await readModelSource(abs, e.name);
      const list = byName.get(e.name) ?? [];
      list.push(src);
      byName.set(e.name, list);
    }
  }
  const sources: ModelSource[] = [];
  const duplicates = new Map<string, string[]>();
  for (const [name, list] of [...byName].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (list.length > 1) duplicates.set(name, list.map((s) => s.dir));
    else sources.push(list[0]!);
  }
  return { sources, duplicates };
}

export async function readModelSource(repository: string, name: string): Promise<ModelSource> {
  const dir = path.join(repository, name);
  const configPath = path.join(dir, 'config.pbtxt');
  let configText: string | undefined;
  try {
    configText = await readFile(configPath, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const versions: number[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (SKIPPED.has(e.name) || !VERSION_DIR.test(e.name)) continue;
    if (e.isDirectory() || (e.isSymbolicLink() && (await stat(path.join(dir, e.name))).isDirectory())) {
      versions.push(Number(e.name));
    }
  }
  versions.sort((a, b) => a - b);
  return { name, dir, repository, configText, configPath, versions };
}
