/**
 * A JSON parser that keeps what JSON.parse throws away, for the inference request header and
 * ModelConfig JSON (load overrides), and its writing twin for bigints:
 * - integers beyond ±(2^53 − 1) become bigints, exact (INT64/UINT64 data, uint64 parameters);
 * - numbers written with a fraction or an exponent become JsonFloat, so `1.0` stays
 *   distinguishable from `1` (Triton rejects `1.0` for integer datatypes);
 * - `NaN`, `Infinity` and `-Infinity` are accepted as numbers (Triton's parser accepts them, and
 *   Python's json module writes them for float tensors).
 * Everything else is RFC 8259 JSON. Errors name the byte offset (UTF-16 index) and what was
 * expected. Nesting is bounded so hostile input cannot exhaust the stack.
 *
 * JSON.parse is several times faster, so callers use this only when the fast result could be
 * wrong (see http-convert.ts); the output otherwise has the same shape as JSON.parse's.
 */

/** A JSON number written with a fraction or an exponent (or NaN/±Infinity). */
export class JsonFloat {
  constructor(readonly value: number, readonly text: string) {}
}

export class JsonSyntaxError extends Error {
  constructor(message: string, readonly offset: number) {
    super(`${message} at offset ${offset}`);
    this.name = 'JsonSyntaxError';
  }
}

export const MAX_JSON_DEPTH = 512;

const NUMBER = /-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/y;
const STRING_RUN = /[^"\\\u0000-\u001f]*/y;
const SPECIAL: ReadonlyArray<readonly [string, unknown]> = [
  ['true', true], ['false', false], ['null', null],
  ['NaN', new JsonFloat(NaN, 'NaN')], ['Infinity', new JsonFloat(Infinity, 'Infinity')],
  ['-Infinity', new JsonFloat(-Infinity, '-Infinity')],
];
const ESCAPES: Readonly<Record<string, string>> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };

/**
 * JSON.stringify, except that bigints are written as exact JSON integers (JSON.stringify throws on
 * them), e.g. a config's uint64 18446744073709551615. `undefined` members are left out as usual.
 */
export function stringifyLosslessJson(value: unknown): string {
  if (typeof value === 'bigint') return value.toString();
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : stringifyLosslessJson(v))).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const members: string[] = [];
    for (const [k, v] of Object.entries(value)) if (v !== undefined) members.push(`${JSON.stringify(k)}:${stringifyLosslessJson(v)}`);
    return `{${members.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

export function parseLosslessJson(text: string): unknown {
  const p = new Parser(text);
  const v = p.value(0);
  p.ws();
  if (p.pos !== text.length) p.fail('unexpected data after the JSON value');
  return v;
}

class Parser {
  pos = 0;

  constructor(readonly s: string) {}

  fail(msg: string): never {
    throw new JsonSyntaxError(msg, this.pos);
  }

  ws(): void {
    const s = this.s;
    while (this.pos < s.length) {
      const c = s.charCodeAt(this.pos);
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return;
      this.pos++;
    }
  }

  value(depth: number): unknown {
    this.ws();
    const c = this.s[this.pos];
    if (c === '{') return this.object(depth + 1);
    if (c === '[') return this.array(depth + 1);
    if (c === '"') return this.string();
    for (const [word, v] of SPECIAL) {
      if (this.s.startsWith(word, this.pos)) {
        this.pos += word.length;
        return v;
      }
    }
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return this.number();
    return this.fail(c === undefined ? 'unexpected end of JSON' : `unexpected character ${JSON.stringify(c)}`);
  }

  number(): number | bigint | JsonFloat {
    NUMBER.lastIndex = this.pos;
    const m = NUMBER.exec(this.s);
    if (m === null) return this.fail('invalid number');
    this.pos = NUMBER.lastIndex;
    const text = m[0];
    if (m[1] !== undefined || m[2] !== undefined) return new JsonFloat(Number(text), text);
    const n = Number(text);
    return Number.isSafeInteger(n) ? n : BigInt(text);
  }

  string(): string {
    const s = this.s;
    this.pos++; // opening quote
    let out = '';
    for (;;) {
      STRING_RUN.lastIndex = this.pos;
      STRING_RUN.exec(s);
      out += s.slice(this.pos, STRING_RUN.lastIndex);
      this.pos = STRING_RUN.lastIndex;
      const c = s[this.pos];
      if (c === '"') {
        this.pos++;
        return out;
      }
      if (c !== '\\') return this.fail(c === undefined ? 'unterminated string' : 'control character in string');
      out += this.escape();
    }
  }

  escape(): string {
    const e = this.s[this.pos + 1];
    if (e === 'u') {
      const hex = this.s.slice(this.pos + 2, this.pos + 6);
      if (!/^[0-9a-fA-F]{4}$/.test(hex)) this.fail('invalid \\u escape');
      this.pos += 6;
      return String.fromCharCode(parseInt(hex, 16));
    }
    const r = e === undefined ? undefined : ESCAPES[e];
    if (r === undefined) return this.fail('invalid escape');
    this.pos += 2;
    return r;
  }

  array(depth: number): unknown[] {
    if (depth > MAX_JSON_DEPTH) this.fail(`nesting deeper than ${MAX_JSON_DEPTH} levels`);
    this.pos++;
    const out: unknown[] = [];
    this.ws();
    if (this.s[this.pos] === ']') {
      this.pos++;
      return out;
    }
    for (;;) {
      out.push(this.value(depth));
      if (this.separator(']')) return out;
    }
  }

  object(depth: number): Record<string, unknown> {
    if (depth > MAX_JSON_DEPTH) this.fail(`nesting deeper than ${MAX_JSON_DEPTH} levels`);
    this.pos++;
    const out: Record<string, unknown> = {};
    this.ws();
    if (this.s[this.pos] === '}') {
      this.pos++;
      return out;
    }
    for (;;) {
      this.ws();
      if (this.s[this.pos] !== '"') this.fail('expected a property name');
      const key = this.string();
      this.ws();
      if (this.s[this.pos] !== ':') this.fail("expected ':'");
      this.pos++;
      // defineProperty: a "__proto__" key must be data, as JSON.parse makes it, not a prototype.
      Object.defineProperty(out, key, { value: this.value(depth), enumerable: true, writable: true, configurable: true });
      if (this.separator('}')) return out;
    }
  }

  /** After a member: true at the closing bracket, false after a comma. */
  separator(close: string): boolean {
    this.ws();
    const c = this.s[this.pos];
    if (c === ',') {
      this.pos++;
      return false;
    }
    if (c === close) {
      this.pos++;
      return true;
    }
    return this.fail(`expected ',' or '${close}'`);
  }
}
