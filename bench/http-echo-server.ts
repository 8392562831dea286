/**
 * The HTTP transport ceiling for the wrk rows: a bare node:http server that reads each request
 * body and answers a fixed JSON body of the given size, keep-alive. The HTTP analogue of
 * echo-server.ts. Run as a child: `node http-echo-server.js <responseBytes>`; prints
 * `{"port": N}` once listening.
 */
import { createServer } from 'node:http';

const responseBytes = Number(process.argv[2] ?? '2');
const response = Buffer.from(`{"x":"${'7'.repeat(Math.max(0, responseBytes - 8))}"}`);

const server = createServer((req, res) => {
  req.on('data', () => undefined);
  req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end(response));
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as { port: number }).port })}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
