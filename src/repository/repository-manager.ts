/**
 * Load / unload / poll orchestration over the registry, with Triton's model control modes
 * (PROTOCOL.md §8.4): `none` loads everything once, `poll` also rescans every N seconds, and
 * `explicit` loads what --load-model names and then only what the load/unload API asks for.
 *
 * Invariants:
 * - Operations on one model are serialised (#lock); different models load in parallel, at most
 *   `loadThreads` at a time (#slots).
 * - Start-up registers every model it will load as LOADING first, so RepositoryIndex lists them
 *   and readiness says "not ready" while they load; progress is logged in summary lines
 *   (load-progress.ts). Once stop() ran, queued loads are skipped.
 * - A reload builds the new versions beside the old ones and swaps the registry entry in one
 *   synchronous step; requests already resolved to an old version finish on it (its scheduler
 *   drains) before its instances are finalized. A failed reload keeps the old versions serving.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Logger } from 'pino';
import type { BackendRegistry } from '../backends/backend-registry.js';
import type { InternalInfer } from '../backends/backend.js';
import type { ModelConfig } from '../config/model-config.js';
import { errors } from '../errors/catalogue.js';
import { InferenceError } from '../errors/inference-error.js';
import { discoverModels, readModelSource, type ModelSource } from './model-repository.js';
import { loadModel, unloadVersion, type LoaderGpus } from './model-loader.js';
import type { LoadedVersion, ModelEntry, ModelRegistry } from './model-registry.js';
import { fingerprintModel } from './model-fingerprint.js';
import { writeOverrideFiles, assertModelName, refuseSymlinkOut } from './load-overrides.js';
import { parseModelConfigText } from '../config/pbtxt.js';
import { ensembleDependencies, ensembleLoadWaves } from '../ensemble/ensemble-order.js';
import { Semaphore } from '../util/semaphore.js';
import type { EnsembleHost } from '../ensemble/ensemble-loader.js';
import { LoadProgress } from './load-progress.js';
import { folderBytes, formatBytes, idle, lastUsedMs, measuredBytes } from './memory-budget.js';
import { ErrorCode } from '../errors/error-codes.js';

export type ControlMode = 'none' | 'poll' | 'explicit';

export interface RepositoryManagerOptions {
  repositories: readonly string[];
  mode: ControlMode;
  /** --load-model names for explicit mode; ['*'] = every model. */
  startupModels: readonly string[];
  pollSecs: number;
  loadThreads: number;
  autoComplete: boolean;
  /** How long an old version may take to finish its in-flight requests before they are failed. */
  drainTimeoutMs: number;
  backends: BackendRegistry;
  registry: ModelRegistry;
  logger: Logger;
  /** Lets ensembles load (graph checked against this registry) and run their steps. */
  ensembles?: EnsembleHost;
  /** GPUs models may use (KIND_AUTO / KIND_GPU); absent = none. */
  gpus?: LoaderGpus;
  /** Passed to backends (ModelLoadContext.infer) so that model code can call other models (BLS). */
  infer?: InternalInfer;
  /**
   * --model-load-on-demand (explicit and poll modes): models load on their first request
   * (ensureLoaded); poll mode then registers new models without loading them.
   */
  loadOnDemand?: boolean;
  /** --model-memory-budget in bytes: loads evict idle, unpinned models to stay within it (memory-budget.ts). */
  memoryBudgetBytes?: number;
}

export interface LoadOverride {
  /** Replaces config.pbtxt for this load (Triton's `config` load parameter, already parsed). */
  config?: ModelConfig;
  /** `<version>/<relative path>` → contents; requires `config` (Triton's `file:` parameters). */
  files?: ReadonlyMap<string, Uint8Array>;
}

export class RepositoryManager {
  readonly #o: RepositoryManagerOptions;
  readonly #locks = new Map<string, Promise<unknown>>();
  readonly #slots: Semaphore;
  readonly #fingerprints = new Map<string, string>();
  /** On-demand loads in progress: concurrent first requests share one. */
  readonly #onDemand = new Map<string, Promise<boolean>>();
  /** Memory budget bookkeeping: each loaded model's footprint and load time, bytes reserved by loads under way, evictions. */
  readonly #footprints = new Map<string, number>();
  readonly #loadedAt = new Map<string, number>();
  #reserved = 0;
  readonly #evictions = new Map<string, number>();
  /** Evictions under way: an on-demand load of that model waits for its drain first. */
  readonly #evicting = new Map<string, Promise<void>>();
  #pollTimer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(o: RepositoryManagerOptions) {
    this.#o = o;
    this.#slots = new Semaphore(Math.max(1, o.loadThreads));
  }

  get mode(): ControlMode {
    return this.#o.mode;
  }

  /** Initial load for the mode; resolves when every model has settled (READY or UNAVAILABLE). */
  async startup(): Promise<void> {
    const { sources, duplicates } = await discoverModels(this.#o.repositories);
    for (const [name, dirs] of duplicates) this.#markDuplicate(name, dirs);
    let wanted = sources;
    if (this.#o.mode === 'explicit' && !this.#o.startupModels.includes('*')) {
      const names = new Set(this.#o.startupModels);
      for (const n of names) {
        if (!sources.some((s) => s.name === n) && !duplicates.has(n)) {
          this.#o.registry.set({ name: n, state: 'UNAVAILABLE', reason: `failed to load '${n}', failed to poll from model repository`, versions: new Map() });
        }
      }
      wanted = sources.filter((s) => names.has(s.name));
    }
    if (this.#onDemandPoll) wanted = [];
    if (this.#o.mode === 'explicit' || this.#onDemandPoll) {
      for (const s of sources) {
        if (!wanted.includes(s) && this.#o.registry.get(s.name) === undefined) {
          this.#o.registry.set({ name: s.name, state: 'UNAVAILABLE', reason: 'unloaded', versions: new Map(), unloaded: true });
        }
      }
    }
    for (const s of wanted) {
      if (this.#o.registry.get(s.name) === undefined) this.#o.registry.set({ name: s.name, state: 'LOADING', reason: '', versions: new Map() });
    }
    const progress = new LoadProgress(this.#o.logger, wanted.length);
    const load = (s: ModelSource): Promise<unknown> => this.#serial(s.name, async () => {
      progress.settled((await this.#loadSource(s).catch((e: unknown) => this.#refused(s.name, e))).state === 'READY');
    });
    // Ensembles load after the models they compose (their validation reads those configs).
    const first = wanted.filter((s) => !isEnsembleSource(s));
    await Promise.all(first.map(load));
    const ensembles = new Map(wanted.flatMap((s) => {
      const cfg = sourceConfig(s);
      return cfg !== undefined && isEnsembleConfig(cfg) ? [[s.name, { s, deps: ensembleDependencies(cfg) }] as const] : [];
    }));
    // Nested ensembles load after the ensembles they use.
    for (const wave of ensembleLoadWaves(new Map([...ensembles].map(([n, e]) => [n, e.deps])))) {
      await Promise.all(wave.map((n) => ensembles.get(n)!.s).map(load));
    }
    progress.done();
    if (this.#o.mode === 'poll') this.#schedulePoll();
  }

  get loadOnDemand(): boolean {
    return this.#o.loadOnDemand === true && this.#o.mode !== 'none';
  }

  get #onDemandPoll(): boolean {
    return this.#o.mode === 'poll' && this.loadOnDemand;
  }

  /**
   * Loads `name` for a request (--model-load-on-demand). Resolves false when the repository has
   * no such model, true once it is READY; concurrent callers share one load. Throws UNAVAILABLE
   * with the reason when the load fails.
   */
  ensureLoaded(name: string): Promise<boolean> {
    const pending = this.#onDemand.get(name);
    if (pending !== undefined) return pending;
    const load = this.#serial(name, async () => {
      if (this.#stopped) throw errors.serverStopping();
      await this.#evicting.get(name);
      const current = this.#o.registry.get(name);
      if (current !== undefined && current.unloaded !== true && current.state === 'READY') return true;
      const { sources } = await discoverModels(this.#o.repositories);
      const source = sources.find((s) => s.name === name);
      if (source === undefined) return false;
      const t0 = performance.now();
      const entry = await this.#loadSource(source);
      if (entry.state !== 'READY') throw errors.unavailable(`model '${name}' failed to load on demand: ${entry.reason}`);
      this.#o.logger.info({ model: name, versions: [...entry.versions.keys()], ms: Math.round(performance.now() - t0) }, 'model loaded on demand');
      return true;
    }).finally(() => this.#onDemand.delete(name));
    this.#onDemand.set(name, load);
    return load;
  }

  /** Names of every model folder in the repositories, loaded or not (for RepositoryIndex). */
  async repositoryModelNames(): Promise<string[]> {
    const { sources, duplicates } = await discoverModels(this.#o.repositories);
    return [...sources.map((s) => s.name), ...duplicates.keys()];
  }

  /** Triton's RepositoryModelLoad: load or reload `name`. Throws InferenceError. */
  load(name: string, override: LoadOverride = {}): Promise<void> {
    this.#requireExplicit();
    assertModelName(name);
    if (override.files !== undefined && override.files.size > 0 && override.config === undefined) {
      return Promise.reject(errors.invalidArg("Load parameter 'config' must be specified for model file override"));
    }
    return this.#serial(name, async () => {
      const { source, cleanup } = await this.#sourceFor(name, override);
      try {
        const entry = await this.#loadSource(source);
        if (entry.state !== 'READY') throw errors.internal(`failed to load '${name}': ${entry.reason}`);
        this.#o.logger.info({ model: name, versions: [...entry.versions.keys()] }, 'model loaded');
      } finally {
        await cleanup();
      }
    });
  }

  /**
   * Triton's RepositoryModelUnload. With `unloadDependents`, ensembles that use the model are
   * unloaded first (they would fail without it anyway).
   */
  async unload(name: string, unloadDependents = false): Promise<void> {
    this.#requireExplicit();
    assertModelName(name);
    if (unloadDependents) {
      for (const d of dependentsOf(this.#o.registry, name)) await this.#serial(d, () => this.#unloadEntry(d, 'unloaded'));
    }
    await this.#serial(name, () => this.#unloadEntry(name, 'unloaded'));
  }

  /** Stops polling and unloads every model (drain first). */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#pollTimer);
    await Promise.allSettled([...this.#locks.values()]);
  }

  /** One poll pass: load new models, reload changed ones, unload removed ones. */
  async poll(): Promise<void> {
    const { sources, duplicates } = await discoverModels(this.#o.repositories);
    const present = new Set([...sources.map((s) => s.name), ...duplicates.keys()]);
    const work: Promise<unknown>[] = [];
    for (const s of sources) {
      const known = this.#o.registry.get(s.name);
      if (this.#onDemandPoll && (known === undefined || known.unloaded === true)) {
        // Loads on its first request; until then only listed.
        if (known === undefined) this.#o.registry.set({ name: s.name, state: 'UNAVAILABLE', reason: 'unloaded', versions: new Map(), unloaded: true });
        continue;
      }
      const fp = await fingerprintModel(s);
      if (this.#fingerprints.get(s.name) === fp && this.#o.registry.get(s.name) !== undefined) continue;
      this.#o.logger.info({ model: s.name }, this.#fingerprints.has(s.name) ? 'model changed: reloading' : 'new model: loading');
      work.push(this.#serial(s.name, () => this.#loadSource(s).catch((e: unknown) => this.#refused(s.name, e))));
    }
    for (const [name, dirs] of duplicates) this.#markDuplicate(name, dirs);
    for (const e of this.#o.registry.all()) {
      if (!present.has(e.name)) {
        this.#o.logger.info({ model: e.name }, 'model removed: unloading');
        work.push(this.#serial(e.name, async () => {
          await this.#unloadEntry(e.name, 'removed from the model repository');
          this.#o.registry.delete(e.name);
          this.#fingerprints.delete(e.name);
        }));
      }
    }
    await Promise.allSettled(work);
  }

  #schedulePoll(): void {
    if (this.#stopped) return;
    this.#pollTimer = setTimeout(() => {
      this.poll().catch((e: unknown) => this.#o.logger.error({ err: InferenceError.from(e).message }, 'repository poll failed'))
        .finally(() => this.#schedulePoll());
    }, this.#o.pollSecs * 1000);
    this.#pollTimer.unref();
  }

  #requireExplicit(): void {
    if (this.#o.mode === 'none') throw errors.unavailable('explicit model load / unload is not allowed if model control mode is NONE (start with --model-control-mode=explicit)');
    if (this.#o.mode === 'poll') throw errors.unavailable('explicit model load / unload is not allowed if polling is enabled');
  }

  #markDuplicate(name: string, dirs: readonly string[]): void {
    if (this.#o.registry.get(name)?.state === 'READY') return; // keep serving what was loaded before the clash
    this.#o.registry.set({ name, state: 'UNAVAILABLE', reason: `model '${name}' appears in several repositories: ${dirs.join(', ')}`, versions: new Map() });
  }

  /** Runs `fn` after every earlier operation on the same model has finished. */
  #serial<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.#locks.get(name) ?? Promise.resolve();
    const next = prev.catch(() => undefined).then(() => this.#slots.run(fn));
    const tail = next.catch(() => undefined);
    this.#locks.set(name, tail);
    void tail.then(() => {
      if (this.#locks.get(name) === tail) this.#locks.delete(name);
    });
    return next;
  }

  async #sourceFor(name: string, override: LoadOverride): Promise<{ source: ModelSource; cleanup: () => Promise<void> }> {
    if (override.files !== undefined && override.files.size > 0) {
      const dir = await mkdtemp(path.join(tmpdir(), 'infera-override-'));
      try {
        await writeOverrideFiles(path.join(dir, name), override.files);
        const source = { ...(await readModelSource(dir, name)), configOverride: override.config };
        return { source, cleanup: () => rm(dir, { recursive: true, force: true }) };
      } catch (e) {
        await rm(dir, { recursive: true, force: true });
        throw e;
      }
    }
    const { sources, duplicates } = await discoverModels(this.#o.repositories);
    if (duplicates.has(name)) throw errors.internal(`failed to load '${name}': it appears in several repositories`);
    const found = sources.find((s) => s.name === name);
    if (found === undefined) {
      await refuseSymlinkOut(this.#o.repositories, name);
      throw errors.internal(`failed to load '${name}', failed to poll from model repository`);
    }
    const source = override.config === undefined ? found : { ...found, configOverride: override.config };
    return { source, cleanup: async () => undefined };
  }

  /**
   * Loads `src` beside whatever is serving, then swaps. Versions that failed to load keep their
   * old READY counterpart, so a broken update never replaces a working version.
   */
  async #loadSource(src: ModelSource): Promise<ModelEntry> {
    const { registry, backends, autoComplete, logger } = this.#o;
    if (this.#stopped) {
      const skipped: ModelEntry = { name: src.name, state: 'UNAVAILABLE', reason: 'the server is stopping', versions: new Map() };
      if (registry.get(src.name)?.state === 'LOADING') registry.set(skipped);
      return skipped;
    }
    const old = registry.get(src.name);
    const reservation = await this.#makeRoom(src);
    let fresh: ModelEntry;
    try {
      fresh = await loadModel(src, { backends, autoComplete, logger, ensembles: this.#o.ensembles, gpus: this.#o.gpus, infer: this.#o.infer });
    } finally {
      this.#reserved -= reservation;
    }
    if (this.#o.memoryBudgetBytes !== undefined) {
      this.#footprints.set(src.name, await this.#footprint(src, fresh));
      this.#loadedAt.set(src.name, Date.now());
    }
    this.#fingerprints.set(src.name, await fingerprintModel(src).catch(() => ''));
    if (old === undefined || old.versions.size === 0) {
      registry.set(fresh);
      return fresh;
    }
    const retired: LoadedVersion[] = [];
    if (fresh.state !== 'READY') {
      if ([...old.versions.values()].some((v) => v.state === 'READY')) {
        old.reason = `reload failed, still serving the previous load: ${fresh.reason}`;
        logger.warn({ model: src.name, reason: fresh.reason }, 'reload failed: keeping the loaded versions');
        return { ...fresh, state: 'UNAVAILABLE' };
      }
      registry.set(fresh);
      retired.push(...old.versions.values());
    } else {
      for (const [v, lv] of old.versions) {
        const replacement = fresh.versions.get(v);
        if (replacement !== undefined && replacement.state !== 'READY' && lv.state === 'READY') fresh.versions.set(v, lv);
        else retired.push(lv);
      }
      registry.set(fresh); // the atomic switch: new requests resolve to the new versions from here on
    }
    await Promise.all(retired.map((lv) => this.#drainAndRelease(lv, 'replaced by a reload')));
    return fresh;
  }

  /** Evictions per model since start (the infera_model_evictions_total metric). */
  evictionCounts(): ReadonlyMap<string, number> {
    return this.#evictions;
  }

  /** A load refused by the budget: the model is listed UNAVAILABLE with the reason (and may load on demand later). */
  #refused(name: string, e: unknown): ModelEntry {
    const err = InferenceError.from(e);
    const current = this.#o.registry.get(name);
    if (current !== undefined && current.state === 'READY' && current.unloaded !== true) return { ...current, state: 'UNAVAILABLE', reason: err.message };
    const entry: ModelEntry = { name, state: 'UNAVAILABLE', reason: err.message, versions: new Map(), unloaded: true };
    this.#o.registry.set(entry);
    this.#o.logger.warn({ model: name, reason: err.message }, 'model load refused');
    return entry;
  }

  /**
   * With a budget: evicts least recently used idle, unpinned models until `src` fits, then
   * reserves its need (returned; the caller releases it once the load settled). Throws
   * RESOURCE_EXHAUSTED naming what holds the memory when nothing more can be evicted.
   */
  async #makeRoom(src: ModelSource): Promise<number> {
    const budget = this.#o.memoryBudgetBytes;
    if (budget === undefined) return 0;
    const need = this.#footprints.get(src.name)
      ?? (await Promise.all(src.versions.map((v) => folderBytes(path.join(src.dir, String(v)))))).reduce((a, b) => a + b, 0);
    for (;;) {
      const used = this.#usedBytes(src.name);
      if (used + need <= budget) break;
      const victim = this.#victim(src.name);
      if (victim === undefined) {
        const holders = this.#o.registry.all().filter((e) => e.name !== src.name && this.#holds(e))
          .map((e) => `${e.name} (${formatBytes(this.#footprints.get(e.name) ?? 0)}, ${this.#whyKept(e)})`);
        throw new InferenceError(ErrorCode.RESOURCE_EXHAUSTED,
          `cannot load model '${src.name}': it needs about ${formatBytes(need)} and --model-memory-budget is ${formatBytes(budget)}, ` +
          `with ${formatBytes(used)} held by models that cannot be evicted now: ${holders.join(', ') || 'none'}`);
      }
      const freed = this.#footprints.get(victim.name) ?? 0;
      this.#evictions.set(victim.name, (this.#evictions.get(victim.name) ?? 0) + 1);
      this.#o.logger.info({ model: victim.name, freedBytes: freed, for: src.name, budgetBytes: budget, usedBytes: used }, 'model evicted: least recently used, to stay within the memory budget');
      // #unloadEntry marks the versions UNLOADING synchronously, before any request can resolve to them.
      const eviction = this.#unloadEntry(victim.name, `evicted to stay within --model-memory-budget (to load '${src.name}')`);
      this.#evicting.set(victim.name, eviction.catch(() => undefined));
      try {
        await eviction;
      } finally {
        this.#evicting.delete(victim.name);
      }
    }
    this.#reserved += need;
    return need;
  }

  #holds(e: ModelEntry): boolean {
    return e.unloaded !== true && [...e.versions.values()].some((v) => v.state === 'READY' || v.state === 'UNLOADING');
  }

  #usedBytes(except: string): number {
    let used = this.#reserved;
    for (const e of this.#o.registry.all()) if (e.name !== except && this.#holds(e)) used += this.#footprints.get(e.name) ?? 0;
    return used;
  }

  #pinned(e: ModelEntry): boolean {
    const byFlag = this.#o.mode === 'explicit' && this.#o.startupModels.includes(e.name);
    return byFlag || e.config?.parameters?.['memory_pinned']?.string_value?.trim().toLowerCase() === 'true';
  }

  #whyKept(e: ModelEntry): string {
    if (this.#pinned(e)) return 'pinned';
    if (!idle(e)) return 'requests in flight';
    if (this.#locks.has(e.name)) return 'loading or unloading';
    return 'not evictable';
  }

  /** The least recently used model that may be evicted now, if any. */
  #victim(except: string): ModelEntry | undefined {
    const candidates = this.#o.registry.all().filter((e) => e.name !== except && e.state === 'READY' && this.#holds(e)
      && (e.config === undefined || !isEnsembleConfig(e.config)) && !this.#pinned(e) && !this.#locks.has(e.name) && idle(e));
    let best: ModelEntry | undefined;
    let bestT = Infinity;
    for (const e of candidates) {
      const t = lastUsedMs(e, this.#loadedAt.get(e.name) ?? 0);
      if (t < bestT) [best, bestT] = [e, t];
    }
    return best;
  }

  /** Sum over the loaded versions of max(measured memory, version folder bytes). */
  async #footprint(src: ModelSource, entry: ModelEntry): Promise<number> {
    let total = 0;
    for (const lv of entry.versions.values()) {
      if (lv.state !== 'READY') continue;
      total += Math.max(measuredBytes(lv), await folderBytes(path.join(src.dir, String(lv.version))));
    }
    return total;
  }

  async #unloadEntry(name: string, reason: string): Promise<void> {
    const entry = this.#o.registry.get(name);
    if (entry === undefined) return;
    const versions = [...entry.versions.values()];
    for (const lv of versions) if (lv.state === 'READY') lv.state = 'UNLOADING';
    entry.state = 'UNLOADING';
    await Promise.all(versions.map((lv) => this.#drainAndRelease(lv, reason)));
    entry.state = 'UNAVAILABLE';
    entry.reason = reason;
    entry.unloaded = true;
  }

  async #drainAndRelease(lv: LoadedVersion, reason: string): Promise<void> {
    const s = lv.scheduler;
    if (s !== undefined) {
      let timer: NodeJS.Timeout | undefined;
      const drained = await Promise.race([
        s.stop().then(() => true),
        new Promise<false>((r) => (timer = setTimeout(() => r(false), this.#o.drainTimeoutMs))),
      ]);
      clearTimeout(timer);
      if (!drained) s.failQueued(errors.unavailable(`model version ${lv.version} was ${reason} before this request ran`));
    }
    await unloadVersion(lv);
    lv.reason = reason;
  }
}

/** Ensembles (platform "ensemble") among the loaded models whose steps use `name`. */
export function dependentsOf(registry: ModelRegistry, name: string): string[] {
  return registry.all()
    .filter((e) => e.config !== undefined && ensembleDependencies(e.config).includes(name))
    .map((e) => e.name);
}

function isEnsembleSource(src: ModelSource): boolean {
  const cfg = sourceConfig(src);
  return cfg !== undefined && isEnsembleConfig(cfg);
}

function isEnsembleConfig(cfg: ModelConfig): boolean {
  return cfg.platform === 'ensemble' || cfg.ensemble_scheduling !== undefined;
}

function sourceConfig(src: ModelSource): ModelConfig | undefined {
  return src.configOverride ?? tryParse(src);
}

function tryParse(src: ModelSource): ModelConfig | undefined {
  if (src.configText === undefined) return undefined;
  try {
    return parseModelConfigText(src.configText, src.configPath);
  } catch {
    return undefined; // the load itself reports the parse error
  }
}
