/** A promise with its settle functions; `settled` guards the settle-exactly-once invariant. */
export interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(v: T): void;
  reject(e: unknown): void;
  readonly settled: boolean;
}

export function deferred<T>(): Deferred<T> {
  let res!: (v: T) => void;
  let rej!: (e: unknown) => void;
  const promise = new Promise<T>((a, b) => {
    res = a;
    rej = b;
  });
  const d = {
    promise,
    settled: false,
    resolve(v: T) {
      if (d.settled) return;
      d.settled = true;
      res(v);
    },
    reject(e: unknown) {
      if (d.settled) return;
      d.settled = true;
      rej(e);
    },
  };
  return d;
}
