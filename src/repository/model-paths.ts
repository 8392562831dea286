/**
 * Containment of every path a model's config names (model file, label files, warmup data, and
 * any state file a feature keeps in the model folder): it must stay inside its folder, and its
 * real path (after symbolic links) inside the repository.
 *
 * Invariants:
 * - The lexical check (no `..` out of the folder, no absolute path) runs before the filesystem
 *   is touched, so a refusal never depends on, and never tells, whether an outside file exists.
 * - The real-path check follows links one component at a time and refuses a link that leads
 *   out of the repository whether or not its target exists, with the same message, for the same
 *   reason. Links that stay inside the repository are fine (shared weights between versions).
 * - A path that does not exist yet (a state file about to be written) resolves as long as the
 *   part that exists stays inside.
 */
import { lstat, readlink, realpath, readFile } from 'node:fs/promises';
import path from 'node:path';
import { clip, errors } from '../errors/catalogue.js';

/** The folders a model path is checked against. */
export interface ModelFolders {
  /** The repository folder holding the model folder. */
  readonly repository: string;
  /** `<repository>/<model>`. */
  readonly dir: string;
  readonly name: string;
}

function inside(root: string, p: string): boolean {
  const rel = path.relative(root, p);
  return rel !== '' && !rel.startsWith(`..${path.sep}`) && rel !== '..' && !path.isAbsolute(rel);
}

/**
 * The absolute path of `relative` under `<model dir>/<base>` (base '' = the model folder),
 * after both checks of the module header. `what` names the path in errors ("label file
 * 'labels.txt' of output 'OUT'"). Throws INVALID_ARG naming the model.
 */
export async function resolveModelPath(m: ModelFolders, base: string, relative: string, what: string): Promise<string> {
  const folder = path.resolve(m.dir, base);
  const target = path.resolve(folder, relative);
  if (relative.includes('\0') || path.isAbsolute(relative) || !inside(folder, target)) {
    const scope = base === '' ? 'the model folder' : `the model's '${base}' folder`;
    throw errors.invalidArg(`${what} '${clip(relative)}' of model '${clip(m.name)}' is not a path inside ${scope}`);
  }
  await assertRealPathInside(m, target, what, relative);
  return target;
}

async function assertRealPathInside(m: ModelFolders, target: string, what: string, shown: string): Promise<void> {
  const root = await realpath(m.repository);
  const out = () => errors.invalidArg(`${what} '${clip(shown)}' of model '${clip(m.name)}' leads outside the model repository through a symbolic link`);
  let cur = await realpath(m.dir).catch(() => path.resolve(m.dir));
  if (!inside(root, cur)) throw out();
  const parts = path.relative(path.resolve(m.dir), target).split(path.sep);
  for (let i = 0; i < parts.length; i++) {
    const next = path.join(cur, parts[i]!);
    const st = await lstat(next).catch(() => undefined);
    if (st === undefined) return; // the rest does not exist: lexically inside, checked above
    if (!st.isSymbolicLink()) {
      cur = next;
      continue;
    }
    const real = await realpath(next).catch(async () => path.resolve(cur, await readlink(next)));
    if (!inside(root, real)) throw out();
    cur = real;
  }
}

/** `resolveModelPath` then the file's text. A missing or unreadable file names only the relative path. */
export async function readModelText(m: ModelFolders, base: string, relative: string, what: string): Promise<string> {
  return readInside(m, base, relative, what, (p) => readFile(p, 'utf8'));
}

/** `resolveModelPath` then the file's bytes. */
export async function readModelBytes(m: ModelFolders, base: string, relative: string, what: string): Promise<Uint8Array> {
  return readInside(m, base, relative, what, async (p) => new Uint8Array(await readFile(p)));
}

async function readInside<T>(m: ModelFolders, base: string, relative: string, what: string, read: (p: string) => Promise<T>): Promise<T> {
  const p = await resolveModelPath(m, base, relative, what);
  try {
    return await read(p);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    const why = code === 'ENOENT' ? 'does not exist' : code === 'EISDIR' ? 'is a folder' : `cannot be read (${code})`;
    throw errors.invalidArg(`${what} '${clip(relative)}' of model '${clip(m.name)}' ${why}`);
  }
}
