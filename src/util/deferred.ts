/**
 * A promise with its settle functions; `settled` guards the settle-exactly-once invariant.
 * A class, so resolve/reject live on the prototype: one Deferred costs its promise and one executor
 * closure, not two more closures per instance (one is made per request on the hot path).
 */
export interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(v: T): void;
  reject(e: unknown): void;
  readonly settled: boolean;
}

class DeferredImpl<T> implements Deferred<T> {
  readonly promise: Promise<T>;
  settled = false;
  #res!: (v: T) => void;
  #rej!: (e: unknown) => void;

  constructor() {
    this.promise = new Promise<T>((a, b) => {
      this.#res = a;
      this.#rej = b;
    });
  }

  resolve(v: T): void {
    if (this.settled) return;
    this.settled = true;
    this.#res(v);
  }

  reject(e: unknown): void {
    if (this.settled) return;
    this.settled = true;
    this.#rej(e);
  }
}

export function deferred<T>(): Deferred<T> {
  return new DeferredImpl<T>();
}
