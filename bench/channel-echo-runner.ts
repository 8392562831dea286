/**
 * The runner of bench/channel-bench.ts: answers each input as an output of the same bytes, so a
 * round trip measures the worker channel (main → worker → main) and nothing else.
 */
import type { Tensor } from '../src/core/tensor.js';
import type { Runner, RunnerResult } from '../src/workers/worker-messages.js';

export function createRunner(): Promise<Runner> {
  return Promise.resolve({
    execute(inputs: Tensor[], outputNames: string[]): Promise<RunnerResult> {
      const outputs = outputNames.map((name, i) => ({ ...inputs[i % inputs.length]!, name }));
      return Promise.resolve({ outputs, timings: { computeInputNs: 0, computeInferNs: 0, computeOutputNs: 0 } });
    },
    dispose: () => Promise.resolve(),
  });
}
