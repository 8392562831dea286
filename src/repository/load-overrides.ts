/**
 * Safety rules for names and files that arrive in load requests: nothing a client sends may
 * address a path outside the repository or the private temporary folder (`..`, absolute paths,
 * separators in model names, NUL bytes).
 */
import { lstat, mkdir, realpath, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { errors } from '../errors/catalogue.js';

/** A model name is one path segment: no separators, not "." or "..", no NUL, not empty. */
export function assertModelName(name: string): void {
  if (name === '' || name === '.' || name === '..' || /[/\\\0]/.test(name)) {
    throw errors.invalidArg(`invalid model name '${name}': a model name is a single folder name inside the model repository`);
  }
}

/**
 * `files` keys are `<version>/<relative path>` (the part after Triton's `file:` prefix). Writes
 * them under `modelDir`, refusing any key that is absolute, contains `..`, or does not start with
 * a numeric version folder.
 */
export async function writeOverrideFiles(modelDir: string, files: ReadonlyMap<string, Uint8Array>): Promise<void> {
  const root = path.resolve(modelDir);
  for (const [key, data] of files) {
    const parts = key.split(/[/\\]/);
    if (path.isAbsolute(key) || key.includes('\0') || parts.some((p) => p === '..' || p === '.' || p === '') || parts.length < 2 || !/^(0|[1-9][0-9]*)$/.test(parts[0]!)) {
      throw errors.invalidArg(`invalid file override 'file:${key}': expected 'file:<version>/<name>' with a relative path inside the model`);
    }
    const target = path.resolve(root, ...parts);
    if (!target.startsWith(root + path.sep)) throw errors.invalidArg(`invalid file override 'file:${key}': it leaves the model folder`);
    await mkdir(path.dirname(target), { recursive: true });
    await writeFile(target, data);
  }
}

/**
 * Discovery ignores model folders that are symbolic links; a load request naming one gets a clear
 * INVALID_ARG when the link leads outside its repository, instead of "not found".
 */
export async function refuseSymlinkOut(repositories: readonly string[], name: string): Promise<void> {
  for (const repo of repositories) {
    const p = path.join(repo, name);
    const st = await lstat(p).catch(() => undefined);
    if (st?.isSymbolicLink() !== true) continue;
    const [target, root] = await Promise.all([realpath(p).catch(() => ''), realpath(repo)]);
    if (!target.startsWith(root + path.sep)) {
      throw errors.invalidArg(`model '${name}' is a symbolic link that leads outside the model repository`);
    }
  }
}
