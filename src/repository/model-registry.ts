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
    if (!/^[0-9]{1,15}$/.test(version)) throw errors.badVersionString(name, version);
    const loaded = entry.versions.get(Number(version));
    if (loaded === undefined) throw errors.versionNotFound(name, Number(version));
    if (loaded.state !== 'READY') throw errors.versionNotReady(name, Number(version));
    return { entry, loaded };
  }
}

/** READY versions, ascending. */
export function readyVersions(entry: ModelEntry): LoadedVersion[] {
  return [...entry.versions.values()].filter((v) => v.state === 'READY').sort((a, b) => a.version - b.version);
}
