/**
 * An incremental, bounded parser of server-sent events (text/event-stream, WHATWG HTML §9.2) for
 * the HTTP transport's inferStream: bytes go in as the response body delivers them, split
 * anywhere; each complete event's `data` comes out as bytes (the JSON of one v2 response).
 *
 * Invariants:
 * - Lines end in LF, CRLF or CR, also when the CR and the LF arrive in different chunks; a leading
 *   UTF-8 BOM is skipped. `data:` values of one event are joined with LF; one `data` line (what
 *   servers send) comes out as a view of its chunk, without a copy.
 * - Bounded memory: an event (its lines so far, unterminated line included) longer than
 *   `maxEventBytes` is an error at once, so a server or proxy that never ends a line cannot make
 *   the client buffer without end.
 * - Strict where the spec is lenient: a line that is not a comment (`:`) nor one of the spec's
 *   fields (`data`, `event`, `id`, `retry`) is an error, not ignored. A KServe server sends only
 *   `data` and comments; anything else is a proxy's page or the wrong endpoint, and saying so
 *   beats waiting for events that never come. `event`, `id` and `retry` are accepted and ignored.
 * - Every failure is an InferenceClientError with code INTERNAL (malformed response); after one
 *   the parser must not be fed again.
 */
import { Buffer } from 'node:buffer';
import { malformedResponse } from './client-error.js';

/** The largest event the HTTP transport accepts (the server itself stops a stream 32 MiB behind its reader). */
export const MAX_EVENT_BYTES = 64 * 1024 * 1024;

const LF = 0x0a;
const CR = 0x0d;
const COLON = 0x3a;
const SPACE = 0x20;
const BOM = Uint8Array.of(0xef, 0xbb, 0xbf);
const IGNORED_FIELDS = new Set(['event', 'id', 'retry']);

export class EventStreamParser {
  readonly #maxEventBytes: number;
  /** Pieces of the line not terminated yet (views of the chunks they came in). */
  #line: Uint8Array[] = [];
  /** `data` values of the event being read. */
  #data: Uint8Array[] = [];
  /** Bytes of the event being read, terminators and the unterminated line included. */
  #eventBytes = 0;
  /** The last chunk ended in CR: a LF starting the next one belongs to it. */
  #skipLf = false;
  /** BOM bytes seen at the start of the stream; -1 once past it. */
  #bom = 0;

  constructor(maxEventBytes = MAX_EVENT_BYTES) {
    this.#maxEventBytes = maxEventBytes;
  }

  /** The data of every event `chunk` completes, in order. */
  push(chunk: Uint8Array): Uint8Array[] {
    const out: Uint8Array[] = [];
    let start = 0;
    if (this.#bom >= 0) {
      // The BOM's bytes may come in separate chunks; held back until they are known not to be one.
      while (this.#bom >= 0 && this.#bom < 3 && start < chunk.byteLength) {
        if (chunk[start] === BOM[this.#bom]) {
          this.#bom++;
          start++;
        } else {
          const held = BOM.subarray(0, this.#bom);
          this.#bom = -1;
          if (held.byteLength > 0) this.push(held);
        }
      }
      if (this.#bom === 3) this.#bom = -1;
      if (start === chunk.byteLength) return [];
    }
    if (this.#skipLf && chunk.byteLength > 0) {
      this.#skipLf = false;
      if (chunk[0] === LF) start = 1;
    }
    let lf = chunk.indexOf(LF, start);
    let cr = chunk.indexOf(CR, start);
    while (lf !== -1 || cr !== -1) {
      const end = lf === -1 ? cr : cr === -1 ? lf : Math.min(lf, cr);
      this.#piece(chunk.subarray(start, end));
      this.#eventBytes++;
      this.#lineEnd(out);
      start = end + 1;
      if (chunk[end] === CR) {
        if (end + 1 === chunk.byteLength) this.#skipLf = true;
        else if (chunk[end + 1] === LF) start++;
      }
      if (lf !== -1 && lf < start) lf = chunk.indexOf(LF, start);
      if (cr !== -1 && cr < start) cr = chunk.indexOf(CR, start);
    }
    if (start < chunk.byteLength) this.#piece(chunk.subarray(start));
    return out;
  }

  /** The body ended: an event begun and not finished by a blank line is an error. */
  end(): void {
    if (this.#line.length > 0 || this.#data.length > 0) throw malformedResponse('the event stream ended inside an event');
  }

  #piece(bytes: Uint8Array): void {
    if (bytes.byteLength === 0) return;
    this.#eventBytes += bytes.byteLength;
    if (this.#eventBytes > this.#maxEventBytes) throw malformedResponse(`an event of the event stream is over ${this.#maxEventBytes} bytes`);
    this.#line.push(bytes);
  }

  #lineEnd(out: Uint8Array[]): void {
    const pieces = this.#line;
    const line = pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces);
    this.#line = [];
    if (line.byteLength === 0) {
      if (this.#data.length > 0) out.push(this.#data.length === 1 ? this.#data[0]! : joinLines(this.#data));
      this.#data = [];
      this.#eventBytes = 0;
      return;
    }
    if (line[0] === COLON) return;
    const colon = line.indexOf(COLON);
    const field = Buffer.from(line.buffer, line.byteOffset, colon === -1 ? line.byteLength : colon).toString('latin1');
    let value = colon === -1 ? line.subarray(line.byteLength) : line.subarray(colon + 1);
    if (value[0] === SPACE) value = value.subarray(1);
    if (field === 'data') this.#data.push(value);
    else if (!IGNORED_FIELDS.has(field)) {
      const text = Buffer.from(line.buffer, line.byteOffset, Math.min(line.byteLength, 80)).toString('utf8');
      throw malformedResponse(`a line that is not server-sent events: ${JSON.stringify(text)}`);
    }
  }
}

function joinLines(lines: Uint8Array[]): Buffer {
  const parts: Uint8Array[] = [];
  for (const l of lines) parts.push(l, NEWLINE);
  parts.pop();
  return Buffer.concat(parts);
}

const NEWLINE = Uint8Array.of(LF);
