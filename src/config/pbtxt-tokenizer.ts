/**
 * Lexer for protobuf text format, used by pbtxt.ts. Produces tokens on demand with their 1-based
 * line and column (in UTF-16 code units) so every parse error can cite `file:line:column`.
 *
 * Token rules follow the text-format spec: `#` comments to end of line; identifiers
 * `[A-Za-z_][A-Za-z0-9_]*`; numbers as written (sign is a separate '-' symbol); strings in single
 * or double quotes with C escapes, decoded to bytes (a string may not span lines); symbols
 * `{ } < > [ ] : , ; -`. Anything else is an error.
 */
import { ErrorCode } from '../errors/error-codes.js';
import { InferenceError } from '../errors/inference-error.js';

export type TokenKind = 'ident' | 'number' | 'string' | 'symbol' | 'eof';

export interface Token {
  readonly kind: TokenKind;
  /** Source text of the token (for strings: including quotes). */
  readonly text: string;
  /** Decoded bytes; strings only. */
  readonly bytes?: Uint8Array;
  readonly line: number;
  readonly column: number;
}

const SYMBOLS = new Set(['{', '}', '<', '>', '[', ']', ':', ',', ';', '-']);
const SIMPLE_ESCAPES: Readonly<Record<string, number>> = {
  n: 0x0a, t: 0x09, r: 0x0d, a: 0x07, b: 0x08, f: 0x0c, v: 0x0b,
  '\\': 0x5c, "'": 0x27, '"': 0x22, '?': 0x3f,
};

const isDigit = (c: string): boolean => c >= '0' && c <= '9';
const isIdentStart = (c: string): boolean => /^[A-Za-z_]$/.test(c);
const isWordChar = (c: string): boolean => /^[A-Za-z0-9_.]$/.test(c);
const isHex = (c: string): boolean => /^[0-9A-Fa-f]$/.test(c);
const isOctal = (c: string): boolean => c >= '0' && c <= '7';

/** Renders a character for an error message; control and non-ASCII characters are escaped. */
export function describeChar(c: string): string {
  const code = c.codePointAt(0) ?? 0;
  if (code >= 0x20 && code < 0x7f) return `'${c}'`;
  return `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
}

export class PbtxtTokenizer {
  readonly #text: string;
  readonly #fileName: string;
  #pos = 0;
  #line = 1;
  #lineStart = 0;
  #peeked: Token | undefined;

  constructor(text: string, fileName: string) {
    this.#text = text;
    this.#fileName = fileName;
    if (text.charCodeAt(0) === 0xfeff) this.#pos = 1; // a leading byte-order mark is not content
  }

  /** An INVALID_ARG error citing `file:line:column`. */
  error(line: number, column: number, message: string): InferenceError {
    return new InferenceError(ErrorCode.INVALID_ARG, `${this.#fileName}:${line}:${column}: ${message}`);
  }

  peek(): Token {
    this.#peeked ??= this.#scan();
    return this.#peeked;
  }

  next(): Token {
    const token = this.peek();
    this.#peeked = undefined;
    return token;
  }

  #scan(): Token {
    this.#skipSpaceAndComments();
    const line = this.#line;
    const column = this.#pos - this.#lineStart + 1;
    const start = this.#pos;
    if (start >= this.#text.length) return { kind: 'eof', text: 'end of file', line, column };
    const c = this.#text[start]!;
    if (c === '"' || c === "'") return this.#scanString(c, line, column);
    if (isDigit(c) || (c === '.' && isDigit(this.#text[start + 1] ?? ''))) {
      return this.#scanNumber(line, column);
    }
    if (isIdentStart(c)) {
      while (this.#pos < this.#text.length && /^[A-Za-z0-9_]$/.test(this.#text[this.#pos]!)) this.#pos++;
      return { kind: 'ident', text: this.#text.slice(start, this.#pos), line, column };
    }
    if (SYMBOLS.has(c)) {
      this.#pos++;
      return { kind: 'symbol', text: c, line, column };
    }
    throw this.error(line, column, `unexpected character ${describeChar(String.fromCodePoint(this.#text.codePointAt(start)!))}`);
  }

  #skipSpaceAndComments(): void {
    const text = this.#text;
    while (this.#pos < text.length) {
      const c = text[this.#pos]!;
      if (c === '\n') {
        this.#pos++;
        this.#line++;
        this.#lineStart = this.#pos;
      } else if (c === ' ' || c === '\t' || c === '\r' || c === '\v' || c === '\f') {
        this.#pos++;
      } else if (c === '#') {
        while (this.#pos < text.length && text[this.#pos] !== '\n') this.#pos++;
      } else {
        return;
      }
    }
  }

  /**
   * Takes the longest run of word characters (plus a sign right after a decimal exponent) and
   * leaves classification to the parser, so `12abc` is one bad number rather than `12` `abc`.
   */
  #scanNumber(line: number, column: number): Token {
    const text = this.#text;
    const start = this.#pos;
    const isHexLiteral = /^0[xX]/.test(text.slice(start, start + 2));
    while (this.#pos < text.length) {
      const c = text[this.#pos]!;
      const prev = text[this.#pos - 1]!;
      const exponentSign = !isHexLiteral && (c === '+' || c === '-') && (prev === 'e' || prev === 'E');
      if (!isWordChar(c) && !exponentSign) break;
      this.#pos++;
    }
    return { kind: 'number', text: text.slice(start, this.#pos), line, column };
  }

  #scanString(quote: string, line: number, column: number): Token {
    const text = this.#text;
    const start = this.#pos;
    const bytes: number[] = [];
    this.#pos++;
    for (;;) {
      if (this.#pos >= text.length || text[this.#pos] === '\n') {
        throw this.error(line, column, 'unterminated string: a string literal must end on the line where it starts');
      }
      const c = text[this.#pos]!;
      if (c === quote) break;
      if (c === '\\') {
        this.#scanEscape(bytes);
      } else {
        const codePoint = text.codePointAt(this.#pos)!;
        const char = String.fromCodePoint(codePoint);
        for (const b of Buffer.from(char, 'utf8')) bytes.push(b);
        this.#pos += char.length;
      }
    }
    this.#pos++;
    return { kind: 'string', text: text.slice(start, this.#pos), bytes: Uint8Array.from(bytes), line, column };
  }

  /** Decodes one escape sequence starting at the backslash, appending its bytes. */
  #scanEscape(bytes: number[]): void {
    const text = this.#text;
    const escLine = this.#line;
    const escColumn = this.#pos - this.#lineStart + 1;
    const c = text[this.#pos + 1] ?? '';
    this.#pos += 2;
    const simple = SIMPLE_ESCAPES[c];
    if (simple !== undefined) {
      bytes.push(simple);
    } else if (c === 'x' || c === 'X') {
      const digits = this.#takeWhile(isHex, 2);
      if (digits === '') throw this.error(escLine, escColumn, "invalid escape '\\x': expected 1 or 2 hex digits");
      bytes.push(parseInt(digits, 16));
    } else if (isOctal(c)) {
      this.#pos--;
      const digits = this.#takeWhile(isOctal, 3);
      const value = parseInt(digits, 8);
      if (value > 0xff) throw this.error(escLine, escColumn, `octal escape '\\${digits}' exceeds one byte`);
      bytes.push(value);
    } else if (c === 'u' || c === 'U') {
      const width = c === 'u' ? 4 : 8;
      const digits = this.#takeWhile(isHex, width);
      const codePoint = parseInt(digits, 16);
      if (digits.length !== width || codePoint > 0x10ffff || (codePoint >= 0xd800 && codePoint <= 0xdfff)) {
        throw this.error(escLine, escColumn, `invalid escape '\\${c}${digits}': expected ${width} hex digits of a Unicode scalar value`);
      }
      for (const b of Buffer.from(String.fromCodePoint(codePoint), 'utf8')) bytes.push(b);
    } else {
      const shown = c === '' || c === '\n' ? 'end of line' : describeChar(c);
      throw this.error(escLine, escColumn, `invalid escape sequence: backslash followed by ${shown}`);
    }
  }

  #takeWhile(accept: (c: string) => boolean, max: number): string {
    const start = this.#pos;
    while (this.#pos - start < max && this.#pos < this.#text.length && accept(this.#text[this.#pos]!)) this.#pos++;
    return this.#text.slice(start, this.#pos);
  }
}
