/**
 * The package's two entries stay apart: `ct-edge` (ts/index.ts, the deploy side) imports nothing
 * from ts/train/ or ts/cli/ and loads no TensorFlow.js, so a Jetson that only tracks does not pay
 * for training and a deploy-only install (no TensorFlow.js) works.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { repoRoot } from './helpers/data.js';

/** Every import specifier of a TypeScript file, static and dynamic, type-only ones included. */
function specifiers(file: string): string[] {
  const source = readFileSync(file, 'utf8');
  return [...source.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)['"]([^'"]+)['"]/gm)].map((m) => m[1]);
}

/** The files `entry` reaches through relative imports, and the packages they name. */
function importGraph(entry: string): { files: string[]; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    for (const spec of specifiers(file)) {
      if (spec.startsWith('.')) visit(join(dirname(file), spec).replace(/\.js$/, '.ts'));
      else if (!spec.startsWith('node:')) packages.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]);
    }
  };
  visit(entry);
  return { files: [...files].map((f) => relative(repoRoot, f)), packages };
}

test('the deploy entry reaches no training or CLI module and no TensorFlow.js package', (t) => {
  const { files, packages } = importGraph(join(repoRoot, 'ts', 'index.ts'));
  t.true(files.length > 20, `the walk found the deploy modules (${files.length})`);
  t.deepEqual(files.filter((f) => !/^ts\/(index\.ts|deploy\/|contract\/)/.test(f)), []);
  t.deepEqual([...packages].filter((p) => p.startsWith('@tensorflow/')), []);
});

test('importing ct-edge loads neither TensorFlow.js nor sharp (sharp loads on the first image)', (t) => {
  const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script('./ts/index.ts', ['@tensorflow/', 'sharp'])], { cwd: repoRoot, encoding: 'utf8' });
  t.is(run.status, 0, run.stderr);
  t.is(run.stdout.trim(), 'function function undefined');
});

test('the training entry reaches the contract and no CLI module', (t) => {
  const { files } = importGraph(join(repoRoot, 'ts', 'train', 'index.ts'));
  t.true(files.some((f) => f.startsWith('ts/contract/')));
  t.false(files.some((f) => f.startsWith('ts/cli/')));
});

/** A script that imports `entry` under a resolve hook refusing the `refused` package prefixes. */
function script(entry: string, refused: string[]): string {
  const hook = `export async function resolve(s, c, next) { if (${JSON.stringify(refused)}.some((p) => s.startsWith(p))) throw new Error("entry loaded " + s); return next(s, c); }`;
  return [
    "import { register } from 'node:module';",
    `register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(hook)}));`,
    `const m = await import('${entry}');`,
    'console.log(typeof m.Tracker, typeof m.Engine, typeof globalThis._tfengine);',
  ].join('\n');
}

test('the same hook stops the training entry, so the check above can fail', (t) => {
  const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script('./ts/train/index.ts', ['@tensorflow/'])], { cwd: repoRoot, encoding: 'utf8' });
  t.not(run.status, 0);
  t.regex(run.stderr, /entry loaded @tensorflow\//);
});
