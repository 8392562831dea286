/**
 * The worker-hosted instances one BackendModel created, so that its finalize() ends those the
 * caller did not finalize (finalize is idempotent on each). One place for every backend whose
 * instances are WorkerInstanceProxy sessions (ONNX Runtime, TensorFlow, TypeScript).
 */
import { WorkerInstanceProxy, type WorkerInstanceOptions } from '../workers/worker-instance-proxy.js';

export class WorkerInstances {
  readonly #all = new Set<WorkerInstanceProxy>();

  async create(o: WorkerInstanceOptions): Promise<WorkerInstanceProxy> {
    const proxy = await WorkerInstanceProxy.create(o);
    this.#all.add(proxy);
    return proxy;
  }

  async finalizeAll(): Promise<void> {
    const all = [...this.#all];
    this.#all.clear();
    await Promise.all(all.map((i) => i.finalize()));
  }
}
