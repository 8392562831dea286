/**
 * The metrics listener (--metrics-port, default 8002): `GET /metrics` (or `/metrics/`) answers
 * the Prometheus text exposition. As Triton's, any other GET path answers 200 with an empty
 * body; other methods get 405.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { InferenceMetrics } from './metrics.js';

export class MetricsServer {
  readonly #server: Server;
  #port = 0;

  private constructor(server: Server) {
    this.#server = server;
  }

  static create(metrics: InferenceMetrics): MetricsServer {
    const server = createServer((req, res) => void respond(metrics, req, res));
    return new MetricsServer(server);
  }

  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, host, () => {
        this.#server.off('error', reject);
        this.#port = (this.#server.address() as AddressInfo).port;
        resolve(this.#port);
      });
    });
  }

  get port(): number {
    return this.#port;
  }

  /** Scrapes are short: idle keep-alive connections are dropped, running ones finish. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.#server.listening) return resolve();
      this.#server.close(() => resolve());
      this.#server.closeIdleConnections();
    });
  }
}

async function respond(metrics: InferenceMetrics, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  if (req.method !== 'GET') {
    res.writeHead(405, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'Method Not Allowed' }));
    return;
  }
  if (path !== '/metrics' && path !== '/metrics/') {
    res.writeHead(200).end();
    return;
  }
  try {
    const text = await metrics.scrape();
    res.writeHead(200, { 'content-type': metrics.contentType }).end(text);
  } catch (e) {
    res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end(`metrics collection failed: ${(e as Error).message}\n`);
  }
}
