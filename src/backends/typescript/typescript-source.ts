/**
 * Imports a model file inside a worker. `.js`/`.mjs` load as they are; `.ts`/`.mts` are
 * type-stripped with amaro (Node's own type-stripping library: swc compiled to WebAssembly and
 * shipped inside its npm tarball, so installing downloads no binary, unlike esbuild's per-platform
 * packages). Strip-only mode replaces types with spaces, so lines and columns stay those of the
 * source file. The stripped text is written next to the source as a hidden `.mjs` (so the model's
 * relative imports and its own node_modules resolve as from the source), imported, and removed;
 * in a folder the server cannot write to it is imported from memory instead (see importStripped).
 *
 * Errors name the source file: a syntax error as `file:line:column`, an import or evaluation error
 * with the temporary file's name replaced by the source's in message and stack.
 */
import { createRequire } from 'node:module';
import { readFile, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { threadId } from 'node:worker_threads';
import { ErrorCode } from '../../errors/error-codes.js';
import { InferenceError } from '../../errors/inference-error.js';

interface AmaroError { message: string; startLine?: number; startColumn?: number }
const require = createRequire(import.meta.url);
let loads = 0;

function strip(source: string, file: string): string {
  const amaro = require('amaro') as { transformSync(code: string, o: { mode: string }): { code: string } };
  try {
    return amaro.transformSync(source, { mode: 'strip-only' }).code;
  } catch (err) {
    const e = err as AmaroError;
    const where = e.startLine === undefined ? file : `${file}:${e.startLine}:${(e.startColumn ?? 0) + 1}`;
    throw new InferenceError(ErrorCode.INVALID_ARG, `${where}: ${e.message}`);
  }
}

function renamed(err: unknown, from: string, to: string): InferenceError {
  const e = err instanceof Error ? err : new Error(String(err));
  const fix = (s: string): string => s.split(pathToFileURL(from).href).join(pathToFileURL(to).href).split(from).join(to);
  const stackLine = /(?:file:\/\/)?(\/[^\s:()]+):(\d+)(?::(\d+))?/.exec(fix(e.stack ?? ''));
  const at = stackLine !== null && stackLine[1] === to ? ` (at ${to}:${stackLine[2]})` : '';
  return new InferenceError(ErrorCode.INVALID_ARG, `${fix(e.message)}${at}`, { cause: e });
}

/** The module namespace of `file`. */
export async function importModelFile(file: string): Promise<Record<string, unknown>> {
  const ext = extname(file);
  if (ext === '.js' || ext === '.mjs') {
    try {
      return (await import(pathToFileURL(file).href)) as Record<string, unknown>;
    } catch (err) {
      throw renamed(err, file, file);
    }
  }
  if (ext !== '.ts' && ext !== '.mts') {
    throw new InferenceError(ErrorCode.INVALID_ARG, `${file}: a typescript model must be a .ts, .mts, .js or .mjs file`);
  }
  return importStripped(strip(await readFile(file, 'utf8'), file), file);
}

/** Errors of a folder the server may not write to (a read-only mount, another owner). */
const READ_ONLY = new Set(['EACCES', 'EPERM', 'EROFS']);

/**
 * Imports stripped code as if it were `file`. In a folder the server cannot write to (e.g. a
 * read-only /models mount) the code is imported from memory (a data: URL) instead: packages and
 * node: builtins still resolve, relative imports do not. `write` is a parameter for tests.
 */
export async function importStripped(code: string, file: string, write: typeof writeFile = writeFile): Promise<Record<string, unknown>> {
  const tmp = join(dirname(file), `.${basename(file)}.infera-${process.pid}-${threadId}-${++loads}.mjs`);
  try {
    await write(tmp, code);
  } catch (err) {
    if (!READ_ONLY.has((err as NodeJS.ErrnoException).code ?? '')) throw err;
    const url = `data:text/javascript;base64,${Buffer.from(code).toString('base64')}`;
    try {
      return (await import(url)) as Record<string, unknown>;
    } catch (e) {
      throw renamed(e, url, file);
    }
  }
  try {
    return (await import(pathToFileURL(tmp).href)) as Record<string, unknown>;
  } catch (err) {
    throw renamed(err, tmp, file);
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}
