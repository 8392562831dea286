/**
 * Protobuf text format (config.pbtxt) → ModelConfig, driven by the reflected schema of
 * `proto/model_config.proto`.
 *
 * Written here rather than taken from npm: protobufjs and the other maintained protobuf libraries
 * for JavaScript read .proto files, binary and JSON, but none parses *text format* against a
 * message schema (which is what tells `dims: 3` is an int64 list and `KIND_CPU` an enum value).
 *
 * Accepted syntax (the text-format spec): `#` comments; `field: value`; messages in `{}` or `<>`
 * with an optional `:`; repeated fields as repeated keys or `[a, b]` lists (of messages too);
 * maps as repeated `{ key: … value: … }` entries; enums by name or number; strings in either
 * quote with C escapes, adjacent strings concatenated; signed decimal / hex / octal integers;
 * floats incl. exponents, an `f` suffix, `inf`, `infinity`, `nan`; bools `true/false/True/False/t/f/1/0`;
 * an optional `,` or `;` after each field. As protobuf's own TextFormat parser (which Triton uses):
 * a singular field given twice keeps the last value, a message given twice is merged (its lists
 * appended), and a oneof member replaces the member set before it. uint64 values beyond 2^53 are
 * kept exact as bigints (see integerValue).
 * Rejected with INVALID_ARG citing `file:line:column`: unknown fields, wrong value types,
 * out-of-range integers, unterminated strings and blocks, and nesting deeper than MAX_NESTING_DEPTH.
 */
import type { ModelConfig } from './model-config.js';
import {
  enumTypeOf, integerValue, isMapField, mapKeyKind, messageTypeOf, modelConfigSchema, setEntry, valueKind,
  type ProtoField, type ProtoMapField, type ProtoType, type ValueKind,
} from './model-config-schema.js';
import { PbtxtTokenizer, type Token } from './pbtxt-tokenizer.js';

export { modelConfigFromJson, modelConfigToJson, type ModelConfigJsonOptions } from './model-config-json.js';

/** Messages nested deeper than this are rejected, bounding the parser's recursion. */
export const MAX_NESTING_DEPTH = 100;

type Obj = Record<string, unknown>;

const BOOL_WORDS: ReadonlyMap<string, boolean> = new Map([
  ['true', true], ['True', true], ['t', true], ['1', true],
  ['false', false], ['False', false], ['f', false], ['0', false],
]);
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** Parses config.pbtxt text; `fileName` is only used to locate errors. */
export function parseModelConfigText(text: string, fileName: string): ModelConfig {
  return parseTextFormat(text, fileName, modelConfigSchema().modelConfig) as ModelConfig;
}

/** Parses text format as a message of any resolved protobufjs type (keepCase field names). */
export function parseTextFormat(text: string, fileName: string, type: ProtoType): Record<string, unknown> {
  return new TextFormatParser(new PbtxtTokenizer(text, fileName)).parseDocument(type);
}

class TextFormatParser {
  readonly #tokens: PbtxtTokenizer;

  constructor(tokens: PbtxtTokenizer) {
    this.#tokens = tokens;
  }

  parseDocument(type: ProtoType): Obj {
    return this.#messageBody(type, undefined, 0, {});
  }

  #fail(token: Token, message: string): never {
    throw this.#tokens.error(token.line, token.column, message);
  }

  #describe(token: Token): string {
    return token.kind === 'eof' ? 'end of file' : `'${token.text.length > 40 ? token.text.slice(0, 40) + '…' : token.text}'`;
  }

  #trySymbol(symbol: string): boolean {
    const token = this.#tokens.peek();
    if (token.kind !== 'symbol' || token.text !== symbol) return false;
    this.#tokens.next();
    return true;
  }

  /** Fields up to `closer` (or end of file for the document itself, when `opener` is undefined). */
  #messageBody(type: ProtoType, opener: Token | undefined, depth: number, message: Obj): Obj {
    const closer = opener === undefined ? undefined : opener.text === '{' ? '}' : '>';
    for (;;) {
      const token = this.#tokens.peek();
      if (token.kind === 'eof') {
        if (closer === undefined) return message;
        const where = `${opener!.line}:${opener!.column}`;
        this.#fail(token, `unexpected end of file: expected '${closer}' to close the message opened at ${where}`);
      }
      if (closer !== undefined && token.kind === 'symbol' && token.text === closer) {
        this.#tokens.next();
        return message;
      }
      this.#field(type, message, depth);
      if (!this.#trySymbol(',')) this.#trySymbol(';');
    }
  }

  #field(type: ProtoType, message: Obj, depth: number): void {
    const nameToken = this.#tokens.next();
    if (nameToken.kind !== 'ident') {
      this.#fail(nameToken, `expected a field name of ${type.fullName.slice(1)}, got ${this.#describe(nameToken)}`);
    }
    const field = Object.hasOwn(type.fields, nameToken.text) ? type.fields[nameToken.text] : undefined;
    if (field === undefined) this.#fail(nameToken, `unknown field '${nameToken.text}' in ${type.fullName.slice(1)}`);
    const kind = valueKind(field);
    const isMessageLike = kind === 'message' || isMapField(field);
    if (!this.#trySymbol(':') && !isMessageLike) {
      const found = this.#tokens.peek();
      this.#fail(found, `expected ':' after field name '${field.name}', got ${this.#describe(found)}`);
    }
    clearOneofSiblings(field, message);
    const listOpen = this.#tokens.peek();
    if (listOpen.kind === 'symbol' && listOpen.text === '[') {
      if (!field.repeated && !isMapField(field)) {
        this.#fail(listOpen, `field '${field.name}' is not repeated; a list '[...]' is not allowed`);
      }
      this.#tokens.next();
      this.#list(field, kind, message, depth);
    } else {
      this.#storeOne(field, kind, message, depth);
    }
  }

  #list(field: ProtoField, kind: ValueKind, message: Obj, depth: number): void {
    if (this.#trySymbol(']')) {
      message[field.name] ??= isMapField(field) ? {} : [];
      return;
    }
    for (;;) {
      this.#storeOne(field, kind, message, depth);
      if (this.#trySymbol(']')) return;
      const token = this.#tokens.peek();
      if (!this.#trySymbol(',')) this.#fail(token, `expected ',' or ']' in the list of '${field.name}', got ${this.#describe(token)}`);
    }
  }

  #storeOne(field: ProtoField, kind: ValueKind, message: Obj, depth: number): void {
    if (isMapField(field)) {
      const map = (message[field.name] ??= {}) as Obj;
      const [key, value] = this.#mapEntry(field, kind, depth);
      setEntry(map, key, value);
      return;
    }
    const existing = field.repeated ? undefined : message[field.name];
    const value = this.#value(field, kind, depth, existing as Obj | undefined);
    if (field.repeated) {
      ((message[field.name] ??= []) as unknown[]).push(value);
    } else {
      message[field.name] = value;
    }
  }

  #openMessage(depth: number, what: string): Token {
    const opener = this.#tokens.next();
    if (opener.kind !== 'symbol' || (opener.text !== '{' && opener.text !== '<')) {
      this.#fail(opener, `expected '{' or '<' to start ${what}, got ${this.#describe(opener)}`);
    }
    if (depth + 1 > MAX_NESTING_DEPTH) this.#fail(opener, `messages nested deeper than ${MAX_NESTING_DEPTH} levels`);
    return opener;
  }

  /** One `{ key: … value: … }` entry; a missing key or value takes the type's default. */
  #mapEntry(field: ProtoMapField, kind: ValueKind, depth: number): [string, unknown] {
    const opener = this.#openMessage(depth, `an entry of map '${field.name}'`);
    const closer = opener.text === '{' ? '}' : '>';
    let key: unknown;
    let value: unknown;
    for (;;) {
      const token = this.#tokens.next();
      if (token.kind === 'symbol' && token.text === closer) break;
      if (token.kind === 'eof') {
        this.#fail(token, `unexpected end of file: expected '${closer}' to close the map entry opened at ${opener.line}:${opener.column}`);
      }
      if (token.kind !== 'ident' || (token.text !== 'key' && token.text !== 'value')) {
        this.#fail(token, `expected 'key' or 'value' in an entry of map '${field.name}', got ${this.#describe(token)}`);
      }
      if ((token.text === 'key' ? key : value) !== undefined) this.#fail(token, `'${token.text}' is given twice in one map entry`);
      const isKey = token.text === 'key';
      const entryKind = isKey ? mapKeyKind(field) : kind;
      if (!this.#trySymbol(':') && entryKind !== 'message') {
        this.#fail(this.#tokens.peek(), `expected ':' after '${token.text}', got ${this.#describe(this.#tokens.peek())}`);
      }
      if (isKey) key = this.#scalar(field.keyType, entryKind, field.name);
      else value = this.#value(field, kind, depth + 1);
      if (!this.#trySymbol(',')) this.#trySymbol(';');
    }
    const keyKind = mapKeyKind(field);
    return [String(key ?? defaultValue(field, keyKind)), value ?? defaultValue(field, kind)];
  }

  /** `into`: the message already set for a singular message field, which a second occurrence merges into. */
  #value(field: ProtoField, kind: ValueKind, depth: number, into?: Obj): unknown {
    if (kind === 'message') {
      const opener = this.#openMessage(depth, `message '${field.name}'`);
      return this.#messageBody(messageTypeOf(field), opener, depth + 1, into ?? {});
    }
    if (kind === 'enum') return this.#enumValue(field);
    return this.#scalar(field.type, kind, field.name);
  }

  #scalar(protoType: string, kind: ValueKind, fieldName: string): unknown {
    if (kind === 'string') return this.#string(fieldName);
    const start = this.#tokens.peek();
    const negative = this.#trySymbol('-');
    const token = this.#tokens.next();
    const noun = kind === 'bool' ? 'a bool' : kind === 'float' ? 'a number' : 'an integer';
    const expected = `expected ${noun} (${protoType}) for field '${fieldName}'`;
    if (kind === 'bool') {
      const word = token.kind === 'ident' || token.kind === 'number' ? BOOL_WORDS.get(token.text) : undefined;
      if (word === undefined || negative) this.#fail(token, `${expected}, got ${this.#describe(token)}`);
      return word;
    }
    if (kind === 'float') {
      const special = token.kind === 'ident' ? specialFloat(token.text) : undefined;
      const value = special ?? (token.kind === 'number' ? parseFloatLiteral(token.text) : undefined);
      if (value === undefined) this.#fail(token, `${expected}, got ${this.#describe(token)}`);
      return negative ? -value : value;
    }
    const integer = token.kind === 'number' ? parseIntegerLiteral(token.text) : undefined;
    if (integer === undefined) this.#fail(token, `${expected}, got ${negative ? "'-' " : ''}${this.#describe(token)}`);
    const result = integerValue(negative ? -integer : integer, protoType);
    if (typeof result === 'string') this.#fail(start, `${result} (field '${fieldName}')`);
    return result;
  }

  #string(fieldName: string): string {
    const first = this.#tokens.next();
    if (first.kind !== 'string') {
      this.#fail(first, `expected a quoted string for field '${fieldName}', got ${this.#describe(first)}`);
    }
    const parts = [first.bytes!];
    while (this.#tokens.peek().kind === 'string') parts.push(this.#tokens.next().bytes!);
    try {
      return UTF8.decode(Buffer.concat(parts));
    } catch {
      this.#fail(first, `string for field '${fieldName}' is not valid UTF-8`);
    }
  }

  #enumValue(field: ProtoField): string {
    const enumType = enumTypeOf(field);
    const negative = this.#trySymbol('-');
    const token = this.#tokens.next();
    let name: string | undefined;
    if (token.kind === 'ident' && !negative && Object.hasOwn(enumType.values, token.text)) {
      name = token.text;
    } else if (token.kind === 'number') {
      const integer = parseIntegerLiteral(token.text);
      const id = integer === undefined ? undefined : Number(negative ? -integer : integer);
      name = id === undefined ? undefined : enumType.valuesById[id];
    }
    if (name === undefined) {
      const shown = `${negative ? "'-' " : ''}${this.#describe(token)}`;
      const allowed = Object.keys(enumType.values).join(', ');
      this.#fail(token, `invalid value ${shown} for enum field '${field.name}' (${enumType.fullName.slice(1)}): expected one of ${allowed}`);
    }
    return name;
  }
}

/** Setting one member of a oneof clears the others, as protobuf does. */
function clearOneofSiblings(field: ProtoField, message: Obj): void {
  for (const f of field.partOf?.fieldsArray ?? []) if (f !== field) delete message[f.name];
}

function defaultValue(field: ProtoField, kind: ValueKind): unknown {
  switch (kind) {
    case 'message': return {};
    case 'enum': return enumTypeOf(field).valuesById[0];
    case 'string': return '';
    case 'bool': return false;
    default: return 0;
  }
}

/** Exact value of a decimal, hex (`0x1F`) or octal (`017`) literal; undefined if not one. */
export function parseIntegerLiteral(text: string): bigint | undefined {
  if (/^0[xX][0-9a-fA-F]+$/.test(text)) return BigInt(text);
  if (/^0[0-7]+$/.test(text)) return BigInt('0o' + text.slice(1));
  if (/^(0|[1-9][0-9]*)$/.test(text)) return BigInt(text);
  return undefined;
}

const FLOAT_LITERAL = /^(?:(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[0-9]+[eE][+-]?[0-9]+)[fF]?$/;

/** Value of a float literal (`1.5`, `.5`, `1e3`, `1.0f`, `1f`) or of any integer literal. */
export function parseFloatLiteral(text: string): number | undefined {
  if (FLOAT_LITERAL.test(text)) return Number(text.replace(/[fF]$/, ''));
  if (/^(0|[1-9][0-9]*)[fF]$/.test(text)) return Number(text.slice(0, -1));
  const integer = parseIntegerLiteral(text);
  return integer === undefined ? undefined : Number(integer);
}

function specialFloat(word: string): number | undefined {
  const lower = word.toLowerCase();
  if (lower === 'inf' || lower === 'infinity' || lower === 'inff' || lower === 'infinityf') return Infinity;
  if (lower === 'nan' || lower === 'nanf') return NaN;
  return undefined;
}
