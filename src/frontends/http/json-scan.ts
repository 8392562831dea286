/**
 * A pre-scan of request JSON bytes before JSON.parse builds anything: one pass over the bytes
 * (strings skipped whole) that refuses nesting beyond REQUEST_LIMITS.depth and more objects or
 * arrays than a real request has. `{"inputs":[{},{},…]}` of 43 MB, `[[],[],…]` or 5 M levels of
 * nesting are refused after the first few thousand containers, in microseconds, where parsing
 * and converting them took 5–16 s of the event loop.
 *
 * Why the bounds are these: objects are inputs, outputs and their parameters (a few per tensor,
 * at most REQUEST_LIMITS.entries tensors); arrays are shapes and nested tensor data, which for a
 * [1, 1024, 1024, 3] image written nested is about a million. The scan does not validate JSON:
 * the parser after it does, and names the offset of a syntax error.
 */
import { REQUEST_LIMITS } from '../../core/request-limits.js';
import { errors } from '../../errors/catalogue.js';

export interface JsonLimits {
  readonly depth: number;
  readonly objects: number;
  readonly arrays: number;
}

export const JSON_LIMITS: JsonLimits = Object.freeze({
  depth: REQUEST_LIMITS.depth,
  objects: REQUEST_LIMITS.entries * 4,
  arrays: 1 << 20,
});

const QUOTE = 0x22;
/** ASCII bytes a JSON value can start with: { [ " - 0-9 t(rue) f(alse) n(ull). */
const VALUE_START = new Set([0x7b, 0x5b, 0x22, 0x2d, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x74, 0x66, 0x6e]);
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const OPEN_ARRAY = 0x5b;
const CLOSE_OBJECT = 0x7d;
const CLOSE_ARRAY = 0x5d;

const enum State {
  /** Before the first non-blank byte. */
  Lead,
  /** Inside a top-level object or array: containers are counted. */
  Containers,
  /** Inside a string, within Containers. */
  InString,
  /** Inside a string, the byte after a backslash. */
  Escape,
  /** A scalar value: nothing more to count (the parser judges the rest). */
  Done,
}

/**
 * The scan fed in pieces, as a body arrives (body-reader.ts scans an /infer header while it is
 * received or inflated, so a hostile one is refused after its first few hundred KB instead of
 * after all of it is in memory). Pieces may split anywhere, a string or an escape included; the
 * outcome is the same as one scanJson over their concatenation.
 */
export class JsonScan {
  #state = State.Lead;
  #offset = 0;
  #depth = 0;
  #objects = 0;
  #arrays = 0;

  constructor(readonly what: string, readonly limits: JsonLimits = JSON_LIMITS) {}

  /** Throws naming `what` when the bytes so far go beyond the limits (see scanJson). */
  push(b: Uint8Array): void {
    const n = b.length;
    let i = 0;
    if (this.#state === State.Lead) {
      while (i < n && (b[i] === 0x20 || b[i] === 0x0a || b[i] === 0x0d || b[i] === 0x09)) i++;
      if (i === n) {
        this.#offset += n;
        return;
      }
      const c0 = b[i]!;
      if (c0 < 0x80 && !VALUE_START.has(c0)) {
        // No JSON value starts here: refused from its first byte, as the parser would refuse it, but
        // without decoding the rest (a 64 MiB body of zeros, a gzip bomb's output, cost 0.2 s to decode and parse).
        throw errors.invalidArg(`failed to parse ${this.what}: unexpected character ${JSON.stringify(String.fromCharCode(c0))} at offset ${this.#offset + i}`);
      }
      // Valid JSON that starts with a scalar holds no containers; anything else the parser refuses.
      this.#state = c0 === OPEN_OBJECT || c0 === OPEN_ARRAY ? State.Containers : State.Done;
    }
    if (this.#state !== State.Done) this.#containers(b, i);
    this.#offset += n;
  }

  #containers(b: Uint8Array, from: number): void {
    const n = b.length;
    const limits = this.limits;
    let i = from;
    let state = this.#state;
    let depth = this.#depth;
    if (state === State.Escape) {
      if (i < n) {
        i++;
        state = State.InString;
      }
    }
    for (; i < n; i++) {
      if (state === State.InString) {
        for (; i < n; i++) {
          const d = b[i]!;
          if (d === BACKSLASH) {
            if (++i === n) {
              state = State.Escape;
              break;
            }
          } else if (d === QUOTE) {
            state = State.Containers;
            break;
          }
        }
        continue;
      }
      const c = b[i]!;
      if (c === QUOTE) state = State.InString;
      else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
        if (++depth > limits.depth) throw errors.invalidArg(`${this.what} is nested deeper than ${limits.depth} levels`);
        if (c === OPEN_OBJECT ? ++this.#objects > limits.objects : ++this.#arrays > limits.arrays) {
          throw errors.resourceExhausted(`${this.what} has more than ${c === OPEN_OBJECT ? `${limits.objects} JSON objects` : `${limits.arrays} JSON arrays`}`);
        }
      } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) depth--;
    }
    this.#state = state;
    this.#depth = depth;
  }
}

/**
 * Throws naming `what` when the JSON in `b` goes beyond JSON_LIMITS: INVALID_ARG (400) for
 * nesting, as a malformed request, or for a first byte no JSON value starts with;
 * RESOURCE_EXHAUSTED (413) for too many objects or arrays.
 */
export function scanJson(b: Uint8Array, what: string, limits: JsonLimits = JSON_LIMITS): void {
  new JsonScan(what, limits).push(b);
}
