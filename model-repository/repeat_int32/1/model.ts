// Triton's repeat_int32 decoupled example as a TypeScript model: n responses per request, then
// the final flag. Responses are sent after execute() returned (as Triton's example does from a
// thread), so the instance takes the next request while this one is still answering. A cancelled
// request stops at once: its pending timers see the signal.
import type { InferRequest, ResponseSender } from 'infera';

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (ms === 0 || signal.aborted) return resolve();
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
  });
}

async function repeat(request: InferRequest, sender: ResponseSender): Promise<void> {
  const values = request.inputs.get('IN')!.data as Int32Array;
  const delays = request.inputs.get('DELAY')!.data as Uint32Array;
  const wait = (request.inputs.get('WAIT')!.data as Uint32Array)[0] ?? 0;
  if (delays.length !== values.length) {
    sender.send(new Error(`DELAY has ${delays.length} elements, IN has ${values.length}: they must match`), { final: true });
    return;
  }
  for (let i = 0; i < values.length; i++) {
    await sleep(delays[i]!, request.signal);
    if (request.signal.aborted) return;
    sender.send({ outputs: {
      OUT: { shape: [1], data: Int32Array.of(values[i]!) },
      IDX: { shape: [1], data: Uint32Array.of(i) },
    } });
  }
  await sleep(wait, request.signal);
  sender.send(undefined, { final: true });
}

export default class RepeatInt32 {
  execute(requests: InferRequest[]): void {
    for (const r of requests) {
      const sender = r.responseSender!;
      // Nothing may reject unhandled in a worker (it would end the thread): a failure ends the request.
      repeat(r, sender).catch((e: unknown) => {
        try { sender.send(e instanceof Error ? e : new Error(String(e))); } catch { /* already ended */ }
      });
    }
  }
}
