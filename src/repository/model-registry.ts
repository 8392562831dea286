/**
 * The read side of the repository: (name, version string) → a loaded version, with Triton's
 * resolution rules (PROTOCOL.md §5.1). The loader writes entries; everyone else reads.
 */
import type { BackendModel, ModelInstance } from '../backends/backend.js';
import type { ModelConfig } from '../config/model-config.js';
import type { ModelSignature } from '../core/model-signature.js';
import type { Scheduler } from '../scheduler/scheduler.js';
import type { InferenceStats } from '../observability/inference-stats.js';
import { errors } from '../errors/catalogue.js';
import { inSplit, NUMERIC_VERSION, type VersionRouting } from './version-routing.js';
import type { ShadowStats } from '../core/shadow-traffic.js';

export type ModelState = 'LOADING' | 'READY' | 'UNLOADING' | 'UNAVAILABLE';

export interface LoadedVersion {
  readonly version: number;
  state: ModelState;
  reason: string;
  /** Present while READY or draining. */
  signature?: ModelSignature;
  scheduler?: Scheduler;
  stats?: InferenceStats;
  backendModel?: BackendModel;
  instances?: ModelInstance[];
  /**
   * Ensembles: why a composing model cannot serve this version's steps now, or undefined when all
   * can. READY with a reason here means "loaded but not ready" for readiness and RepositoryIndex.
   * `seen` carries the ensembles already visited (nested ensembles).
   */
  unavailableDependency?: (seen?: Set<string>) => string | undefined;
  /** Requests (and shadow copies) resolved to this version and not yet answered. */
  inFlight?: number;
  /** Present once this version has served as a shadow (version-routing.ts). */
  shadowStats?: ShadowStats;
}

export interface ModelEntry {
  readonly name: string;
  /** Model-level state: UNAVAILABLE with a reason when the config or versions could not be read. */
  state: ModelState;
  reason: string;
  config?: Readonly<ModelConfig>;
  versions: Map<number, LoadedVersion>;
  /** Set when unloaded through the API: such models do not count against server readiness. */
  unloaded?: boolean;
  /** Version labels, canary and shadow splits from the config (version-routing.ts). */
  routing?: VersionRouting;
}

export class ModelRegistry {
  readonly #models = new Map<string, ModelEntry>();

  set(entry: ModelEntry): void {
    this.#models.set(entry.name, entry);
  }

  get(name: string): ModelEntry | undefined {
    return this.#models.get(name);
  }

  delete(name: string): void {
    this.#models.delete(name);
  }

  all(): ModelEntry[] {
    return [...this.#models.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Throws NOT_FOUND / UNAVAILABLE / INVALID_ARG exactly as Triton's GetModel. */
  resolve(name: string, version: string): { entry: ModelEntry; loaded: LoadedVersion } {
    const entry = this.#models.get(name);
    if (entry === undefined) throw errors.modelNotFound(name);
    if (version === '' || version === '-1') {
      const ready = readyVersions(entry);
      const latest = ready[ready.length - 1];
      if (latest === undefined) throw errors.noAvailableVersions(name);
      return { entry, loaded: latest };
    }
    const labelled = NUMERIC_VERSION.test(version) ? undefined : entry.routing?.labels.get(version);
    if (labelled === undefined && !NUMERIC_VERSION.test(version)) throw errors.badVersionString(name, version);
    const v = labelled ?? Number(version);
    const loaded = entry.versions.get(v);
    if (loaded === undefined) throw errors.versionNotFound(name, v);
    if (loaded.state !== 'READY') throw errors.versionNotReady(name, labelled === undefined ? v : `${v} (label '${version}')`);
    return { entry, loaded };
  }
}

/**
 * resolve() for an inference request. An unversioned request of a model with a canary goes to the
 * canary version for its share (sticky per request id); otherwise, and for a model with a shadow,
 * to the newest READY version that is neither the canary nor the shadow one (so "canary 10 %"
 * leaves 90 % on the version before it, and a shadow never answers by being the newest).
 */
export function resolveForInference(
  registry: ModelRegistry, name: string, version: string, requestId: string,
): { entry: ModelEntry; loaded: LoadedVersion } {
  const r = registry.resolve(name, version);
  const routing = r.entry.routing;
  if (routing === undefined || (version !== '' && version !== '-1')) return r;
  const { canary, shadow } = routing;
  if (canary !== undefined) {
    const lv = r.entry.versions.get(canary.version);
    if (lv?.state === 'READY' && inSplit(canary.basisPoints, requestId, 'canary')) return { entry: r.entry, loaded: lv };
  }
  if (r.loaded.version !== canary?.version && r.loaded.version !== shadow?.version) return r;
  const others = readyVersions(r.entry).filter((v) => v.version !== canary?.version && v.version !== shadow?.version);
  return { entry: r.entry, loaded: others[others.length - 1] ?? r.loaded };
}

/** READY versions, ascending. */
export function readyVersions(entry: ModelEntry): LoadedVersion[] {
  return [...entry.versions.values()].filter((v) => v.state === 'READY').sort((a, b) => a.version - b.version);
}
