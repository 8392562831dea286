// Stands in for Dawn's Node binding on a machine without a usable GPU: no adapter.
export function create(_options: string[]): unknown {
  return { requestAdapter: async () => null };
}
export const globals = {};
