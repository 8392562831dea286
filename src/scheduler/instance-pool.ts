/**
 * Idle/busy tracking for a model's instances. Invariant: an instance is either in `#idle` or
 * checked out by exactly one batch, so execute() never overlaps on one instance. Idle instances
 * are handed out in FIFO order, which spreads load round-robin across instances.
 */
import type { ModelInstance } from '../backends/backend.js';

export class InstancePool {
  readonly #idle: ModelInstance[];

  constructor(instances: readonly ModelInstance[]) {
    this.#idle = [...instances];
  }

  get hasIdle(): boolean {
    return this.#idle.length > 0;
  }

  /** Precondition: hasIdle. */
  acquire(): ModelInstance {
    const i = this.#idle.shift();
    if (i === undefined) throw new Error('InstancePool.acquire() called with no idle instance');
    return i;
  }

  release(i: ModelInstance): void {
    this.#idle.push(i);
  }
}
