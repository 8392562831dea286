/**
 * Locates the package root (the nearest folder with package.json) so code runs the same from
 * src/ and from the compiled dist/src/ tree: protos, the bundled repository and package.json are
 * found relative to it.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export function findPackageRoot(startDir: string = dirname(fileURLToPath(import.meta.url))): string {
  let dir = startDir;
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json in ${startDir} or any parent folder`);
    dir = parent;
  }
}
