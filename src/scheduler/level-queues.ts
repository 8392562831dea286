/**
 * The batcher's request queues: one per priority level that currently holds requests, plus the
 * DELAYED queue (requests moved by a DELAY timeout), which comes after every level.
 *
 * Sparse on purpose: a config may declare up to 2^64 - 1 priority levels (Triton's own QA configs
 * use 18446744073709551615), so a queue exists only while it holds requests and costs nothing
 * otherwise. Invariant: every queue listed is non-empty once the caller has called prune() after
 * removing items from the live arrays ordered() returns; push/remove keep it by themselves.
 * Levels are 1-based (1 = highest priority) and iterate in ascending order.
 */
export const DELAYED = Number.POSITIVE_INFINITY;

export class LevelQueues<T> {
  /** Levels that have a queue, ascending (DELAYED, being +Infinity, sorts last). */
  readonly #levels: number[] = [];
  readonly #byLevel = new Map<number, T[]>();

  size(level: number): number {
    return this.#byLevel.get(level)?.length ?? 0;
  }

  push(level: number, item: T): void {
    let q = this.#byLevel.get(level);
    if (q === undefined) {
      q = [];
      this.#byLevel.set(level, q);
      this.#levels.splice(this.#insertionPoint(level), 0, level);
    }
    q.push(item);
  }

  /** Removes `item` from `level`'s queue; false when it is not there. */
  remove(level: number, item: T): boolean {
    const q = this.#byLevel.get(level);
    const i = q === undefined ? -1 : q.indexOf(item);
    if (i < 0) return false;
    q!.splice(i, 1);
    if (q!.length === 0) this.#drop(level);
    return true;
  }

  /** The queues in level order, DELAYED last; live arrays (call prune() after splicing them). */
  ordered(): T[][] {
    return this.#levels.map((l) => this.#byLevel.get(l)!);
  }

  /** The levels that have a queue, in order (a copy, safe to iterate while pushing). */
  levels(): number[] {
    return [...this.#levels];
  }

  queue(level: number): T[] | undefined {
    return this.#byLevel.get(level);
  }

  /** Drops queues left empty by direct splices. */
  prune(): void {
    for (const l of this.levels()) if (this.#byLevel.get(l)!.length === 0) this.#drop(l);
  }

  /** Every item, in level order, leaving no queue behind. */
  drain(): T[] {
    const all = this.ordered().flat();
    this.#levels.length = 0;
    this.#byLevel.clear();
    return all;
  }

  #drop(level: number): void {
    this.#byLevel.delete(level);
    this.#levels.splice(this.#insertionPoint(level), 1);
  }

  /** Index of `level` in #levels, or where it would go (binary search). */
  #insertionPoint(level: number): number {
    let lo = 0;
    let hi = this.#levels.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#levels[mid]! < level) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
