/** A pino logger whose JSON records land in `records`, for tests that assert on log lines. */
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';

export function captureLogger(level: pino.LevelWithSilent = 'debug'): { logger: Logger; records: Record<string, unknown>[] } {
  const records: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) if (line !== '') records.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  return { logger: pino({ level }, stream), records };
}
