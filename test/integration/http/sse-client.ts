/**
 * Reading text/event-stream answers in the HTTP tests: the `data:` payloads of a whole body, and a
 * streaming reader that hands events over as they arrive (for disconnect and backpressure tests).
 */
import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';

/** The JSON of every `data:` event of `body`, in order (comment lines, the heartbeat, are skipped). */
export function sseEvents(body: Buffer | string): unknown[] {
  const text = typeof body === 'string' ? body : body.toString('utf8');
  const out: unknown[] = [];
  for (const block of text.split('\n\n')) {
    const data = block.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6));
    if (data.length > 0) out.push(JSON.parse(data.join('\n')));
  }
  return out;
}

export interface OpenStream {
  req: ClientRequest;
  res: IncomingMessage;
  /** Resolves with the next `n` complete events' JSON (buffering what arrives beyond them). */
  next(n: number): Promise<unknown[]>;
}

/** POSTs `body` and resolves once the response headers arrive; events are then read with next(). */
export function openStream(url: string, body: string, headers: Record<string, string> = {}): Promise<OpenStream> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...headers }, agent: false });
    req.on('error', reject);
    req.on('response', (res) => {
      let buffered = '';
      const ready: unknown[] = [];
      let waiter: { n: number; resolve: (v: unknown[]) => void } | undefined;
      const flush = () => {
        if (waiter !== undefined && ready.length >= waiter.n) {
          const w = waiter;
          waiter = undefined;
          w.resolve(ready.splice(0, w.n));
        }
      };
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffered += chunk;
        const cut = buffered.lastIndexOf('\n\n');
        if (cut === -1) return;
        ready.push(...sseEvents(buffered.slice(0, cut + 2)));
        buffered = buffered.slice(cut + 2);
        flush();
      });
      resolve({
        req,
        res,
        next: (n) => new Promise((r) => {
          waiter = { n, resolve: r };
          flush();
        }),
      });
    });
    req.end(body);
  });
}
