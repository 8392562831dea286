/**
 * Idle/busy tracking for a model's instances. Invariant: an instance is either in `#idle` or
 * checked out by exactly one batch, so execute() never overlaps on one instance. Among idle
 * instances the least contended one (ModelInstance.contention: its thread's other work) is
 * handed out, the longest idle on a tie, which spreads load round-robin across instances.
 *
 * Why contention matters: instances of several models share worker threads, and a synchronous
 * run (ONNX Runtime's session.run) holds its thread. A model with two instances, one of them on
 * the thread of another model's only instance, should run on the other thread: round-robin alone
 * sent every second big request there and held the small model's requests for its whole run.
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
    const idle = this.#idle;
    if (idle.length === 0) throw new Error('InstancePool.acquire() called with no idle instance');
    let at = 0;
    if (idle.length > 1 && idle[0]!.contention !== undefined) {
      let best = idle[0]!.contention();
      for (let k = 1; k < idle.length && best > 0; k++) {
        const c = idle[k]!.contention?.() ?? Infinity;
        if (c < best) {
          best = c;
          at = k;
        }
      }
    }
    return at === 0 ? idle.shift()! : idle.splice(at, 1)[0]!;
  }

  release(i: ModelInstance): void {
    this.#idle.push(i);
  }
}
