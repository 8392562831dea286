// Triton's simple_identity as a TypeScript model: OUTPUT0 = INPUT0 (BYTES elements as Uint8Array views).
import type { InferRequest, InferResponse } from 'infera';

export default class SimpleIdentity {
  execute(requests: InferRequest[]): InferResponse[] {
    return requests.map((r) => ({ outputs: { OUTPUT0: r.inputs.get('INPUT0')! } }));
  }
}
