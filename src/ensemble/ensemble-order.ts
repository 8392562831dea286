/**
 * Load and drain order for ensembles. An ensemble's graph is validated against the composing
 * models already in the registry, so it must load after them (nested ensembles after the
 * ensembles they use); and in-flight pipelines must be able to finish during a drain, so an
 * ensemble must drain before its composing models stop accepting work.
 */
import type { ModelConfig } from '../config/model-config.js';
import { isEnsemble } from '../config/model-config-normalize.js';
import type { ModelEntry } from '../repository/model-registry.js';
import type { Scheduler } from '../scheduler/scheduler.js';

/** The distinct models an ensemble's steps use, in step order; [] for other models. */
export function ensembleDependencies(config: Readonly<ModelConfig>): string[] {
  if (!isEnsemble(config)) return [];
  const names = (config.ensemble_scheduling?.step ?? []).map((s) => s.model_name ?? '').filter((n) => n !== '');
  return [...new Set(names)];
}

/**
 * Groups ensembles into waves: each wave uses only plain models and ensembles of earlier waves.
 * Ensembles caught in a dependency cycle come last, in one wave, and fail their validation.
 */
export function ensembleLoadWaves(dependencies: ReadonlyMap<string, readonly string[]>): string[][] {
  const waves: string[][] = [];
  const placed = new Set<string>();
  let left = [...dependencies.keys()];
  while (left.length > 0) {
    const wave = left.filter((n) => dependencies.get(n)!.every((d) => !dependencies.has(d) || placed.has(d)));
    if (wave.length === 0) {
      waves.push(left);
      break;
    }
    wave.forEach((n) => placed.add(n));
    waves.push(wave);
    left = left.filter((n) => !placed.has(n));
  }
  return waves;
}

/**
 * Schedulers grouped for draining: ensembles that no other ensemble uses first, then the
 * ensembles they use, …, and every other model last.
 */
export function drainWaves(entries: readonly ModelEntry[]): Scheduler[][] {
  const deps = new Map<string, string[]>();
  for (const e of entries) if (e.config !== undefined && isEnsemble(e.config)) deps.set(e.name, ensembleDependencies(e.config));
  const schedulersOf = (list: readonly ModelEntry[]) =>
    list.flatMap((e) => [...e.versions.values()].flatMap((v) => (v.scheduler ? [v.scheduler] : [])));
  const byName = new Map(entries.map((e) => [e.name, e]));
  const waves = ensembleLoadWaves(deps).reverse().map((w) => schedulersOf(w.map((n) => byName.get(n)!)));
  waves.push(schedulersOf(entries.filter((e) => !deps.has(e.name))));
  return waves.filter((w) => w.length > 0);
}
