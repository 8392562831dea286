/**
 * Triton-mode traces written as Triton's trace JSON: one JSON array per file, two objects per
 * trace,
 *
 *   {"id":1,"model_name":"simple","model_version":1,"request_id":"r1"}            (+ "parent_id" for ensemble steps)
 *   {"id":1,"timestamps":[{"name":"REQUEST_START","ns":…},{"name":"QUEUE_START","ns":…},…]}
 *
 * plus, at the TENSORS level, {"id":1,"activity":"TENSOR_QUEUE_INPUT","tensor":{"name","data","shape","dtype"}}
 * per input and TENSOR_BACKEND_OUTPUT per output. Traces are appended to the file as they finish
 * (a write stream, so the event loop never waits on the disk and memory stays bounded); the
 * array is closed at server stop, or, with log_frequency N > 0, after every N traces, when the
 * next trace starts `<trace_file>.<k+1>` (files are `<trace_file>.0`, `.1`, …). With no
 * trace_file, triton-mode traces are not written anywhere; a file that cannot be written stops
 * the writing, with one warning (requests are never affected).
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import type { Logger } from 'pino';
import type { TraceSettings } from './trace-settings.js';
import type { RequestTrace } from './request-trace.js';
import type { TraceSink } from './tracer.js';

export class TraceFileSink implements TraceSink {
  readonly #settings: TraceSettings;
  readonly #log: Logger;
  #stream: WriteStream | undefined;
  #inFile = 0;
  #fileIndex = 0;
  /** Set after a write failed: tracing to files stops (one warning, not one per trace). */
  #broken = false;
  readonly #closing: Promise<void>[] = [];

  constructor(settings: TraceSettings, log: Logger) {
    this.#settings = settings;
    this.#log = log;
  }

  begin(): void {
    // Nothing to do until the trace finished: the file gets whole records only.
  }

  end(t: RequestTrace): void {
    const { trace_file: file, log_frequency: every } = this.#settings.values('');
    if (file === '' || this.#broken) return;
    let stream = this.#stream;
    if (stream === undefined) {
      const path = every > 0 ? `${file}.${this.#fileIndex}` : file;
      stream = this.#stream = createWriteStream(path);
      stream.on('error', (e) => {
        if (!this.#broken) this.#log.warn({ err: e.message, file: path }, 'trace file write failed: no more traces are written');
        this.#broken = true;
      });
      stream.write('[');
    } else {
      stream.write(',');
    }
    stream.write(records(t));
    if (every > 0 && ++this.#inFile >= every) this.#closeFile();
  }

  async close(): Promise<void> {
    this.#closeFile();
    await Promise.all(this.#closing);
  }

  #closeFile(): void {
    const s = this.#stream;
    if (s === undefined) return;
    this.#stream = undefined;
    this.#inFile = 0;
    this.#fileIndex++;
    this.#closing.push(new Promise((resolve) => {
      if (s.destroyed) resolve();
      else s.end(']\n', () => resolve()).once('error', () => resolve());
    }));
  }
}

function records(t: RequestTrace): string {
  const head: Record<string, unknown> = { id: t.id, model_name: t.model, model_version: Number(t.version) };
  if (t.requestId !== '') head['request_id'] = t.requestId;
  if (t.parent !== undefined) head['parent_id'] = t.parent.id;
  const parts = [JSON.stringify(head)];
  for (const x of t.tensors.filter((x) => x.activity === 'TENSOR_QUEUE_INPUT')) parts.push(tensorRecord(t.id, x));
  parts.push(JSON.stringify({ id: t.id, timestamps: t.timestamps }));
  for (const x of t.tensors.filter((x) => x.activity === 'TENSOR_BACKEND_OUTPUT')) parts.push(tensorRecord(t.id, x));
  return parts.join(',');
}

function tensorRecord(id: number, x: RequestTrace['tensors'][number]): string {
  return JSON.stringify({ id, activity: x.activity, tensor: { name: x.name, data: x.data, shape: x.shape, dtype: x.datatype } });
}
