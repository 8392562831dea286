/**
 * Name-keyed registry of framework backends. Filled once by setupBackends(); nothing else in the
 * server switches on backend or platform names.
 */
import type { Backend } from './backend.js';

export class BackendRegistry {
  readonly #byName = new Map<string, Backend>();
  readonly #byPlatform = new Map<string, Backend>();

  register(b: Backend): void {
    this.#byName.set(b.name, b);
    for (const p of b.platforms) this.#byPlatform.set(p, b);
  }

  byName(name: string): Backend | undefined {
    return this.#byName.get(name);
  }

  byPlatform(platform: string): Backend | undefined {
    return this.#byPlatform.get(platform);
  }

  /** The backend whose default model file is among `entries` (a version folder's listing). */
  byArtifact(entries: readonly string[]): Backend | undefined {
    for (const b of this.#byName.values()) if (entries.includes(b.defaultModelFilename)) return b;
    return undefined;
  }

  get names(): string[] {
    return [...this.#byName.keys()];
  }
}
