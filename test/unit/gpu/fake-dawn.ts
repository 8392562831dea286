// Stands in for Dawn's Node binding (npm `webgpu`) on a machine with a GPU: create() answers an
// adapter; `globals` carries a GPU* constant the way the real binding's does.
export function create(_options: string[]): unknown {
  return { requestAdapter: async () => ({ info: { vendor: 'fake-vendor', architecture: '', description: 'Fake GPU' } }) };
}
export const globals = { GPUMapMode: { READ: 1, WRITE: 2 } };
