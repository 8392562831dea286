// Writes the generated ONNX models, configs and labels.
//
//   node scripts/generate-models.mjs [outRoot]
//
// outRoot defaults to the project root. Files go to
// `<outRoot>/model-repository/...` and `<outRoot>/test/fixtures/models/...`.
// Only the files listed by repositoryFiles()/fixtureFiles() are written; other
// files in those folders are left alone. Output is byte-for-byte reproducible
// (test/unit/models/generate-models.test.ts compares it with the committed copy).
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { fixtureFiles } from './fixture-models.mjs';
import { repositoryFiles } from './repository-models.mjs';

export const REPOSITORY_DIR = 'model-repository';
export const FIXTURES_DIR = 'test/fixtures/models';

/**
 * Every generated file, relative to the project root (POSIX separators).
 * @returns {{ path: string, bytes: Uint8Array }[]}
 */
export function generatedFiles() {
  const under = (folder, files) => files.map((f) => ({ path: `${folder}/${f.path}`, bytes: f.bytes }));
  return [...under(REPOSITORY_DIR, repositoryFiles()), ...under(FIXTURES_DIR, fixtureFiles())];
}

/**
 * Writes every generated file below `outRoot`.
 * @returns {string[]} the relative paths written
 */
export function generateModels(outRoot) {
  const files = generatedFiles();
  for (const file of files) {
    const target = join(outRoot, ...file.path.split('/'));
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, file.bytes);
  }
  return files.map((f) => f.path);
}

function main(argv) {
  if (argv.length > 1 || argv[0]?.startsWith('-')) {
    process.stderr.write('usage: node scripts/generate-models.mjs [outRoot]\n');
    return 2;
  }
  const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
  const outRoot = resolve(argv[0] ?? projectRoot);
  const written = generateModels(outRoot);
  process.stdout.write(`wrote ${written.length} files under ${outRoot}\n`);
  return 0;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  process.exitCode = main(process.argv.slice(2));
}
