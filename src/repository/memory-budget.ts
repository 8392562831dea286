/**
 * --model-memory-budget: what the loaded models may hold, and which of them make room for a load.
 *
 * A model's footprint is the sum over its loaded versions of max(measured memory, bytes of the
 * version folder on disk). The measured figure is the RSS growth of its instances' loads (the
 * worker pool's, shown as ModelStatistics memory_usage): it is the real cost, but RSS moves for
 * many reasons, so the files (which a session must at least read) are the floor. Before a model
 * has loaded, its need is its footprint from its last load, else the size of its version folders.
 *
 * Eviction is per model (Triton's load and unload are), least recently used first, and only of
 * models that are READY, not pinned, not an ensemble (they hold nothing), not being loaded or
 * unloaded, and with no request in flight or queued on any version; the caller unloads a victim
 * in the same synchronous step as this check, so no request can resolve to it in between.
 */
import { readdir, stat } from 'node:fs/promises';
import { totalmem } from 'node:os';
import path from 'node:path';
import type { LoadedVersion, ModelEntry } from './model-registry.js';

/** `<bytes>` (k/m/g suffixes, powers of 1024 as Triton's memory flags) or `<n>%` of the machine's memory. */
export function parseMemoryBudget(text: string, machineBytes: number = totalmem()): number {
  const t = text.trim();
  const pct = /^([0-9]+(?:\.[0-9]+)?)\s*%$/.exec(t);
  if (pct !== null) {
    const p = Number(pct[1]);
    if (!(p > 0 && p <= 100)) throw new Error(`--model-memory-budget percent must be in (0, 100], got '${text}'`);
    return Math.floor((machineBytes * p) / 100);
  }
  const m = /^([0-9]{1,15})\s*([kmg]i?b?)?$/i.exec(t);
  if (m === null) throw new Error(`--model-memory-budget must be bytes (e.g. 8000000000, 512m, 4g) or a percent of memory (e.g. 60%), got '${text}'`);
  const unit = (m[2] ?? '').toLowerCase()[0];
  const scale = unit === 'k' ? 1024 : unit === 'm' ? 1024 ** 2 : unit === 'g' ? 1024 ** 3 : 1;
  const bytes = Number(m[1]) * scale;
  if (!(bytes > 0) || !Number.isSafeInteger(bytes)) throw new Error(`--model-memory-budget must be > 0 bytes, got '${text}'`);
  return bytes;
}

/** Total size of the regular files under `dir` (0 when it cannot be read). */
export async function folderBytes(dir: string): Promise<number> {
  let total = 0;
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) total += await folderBytes(p);
    else if (e.isFile()) total += await stat(p).then((s) => s.size, () => 0);
  }
  return total;
}

export function measuredBytes(lv: LoadedVersion): number {
  return (lv.instances ?? []).reduce((n, i) => n + (i.memoryBytes ?? 0), 0);
}

/** Whether nothing runs or waits on any version of `entry`. */
export function idle(entry: ModelEntry): boolean {
  return [...entry.versions.values()].every((v) => (v.inFlight ?? 0) === 0 && (v.scheduler?.pendingCount ?? 0) === 0);
}

/** When `entry` was last used: its newest inference, else when it loaded. */
export function lastUsedMs(entry: ModelEntry, loadedAtMs: number): number {
  let t = loadedAtMs;
  for (const v of entry.versions.values()) t = Math.max(t, v.stats?.snapshot().last_inference ?? 0);
  return t;
}

export function formatBytes(n: number): string {
  return n >= 1024 ** 3 ? `${(n / 1024 ** 3).toFixed(2)} GiB` : n >= 1024 ** 2 ? `${(n / 1024 ** 2).toFixed(1)} MiB` : `${n} B`;
}
