/**
 * One set of error codes: every `ERR_...` code the native sources (native/**: .cpp, .h, .cu, .cuh)
 * can throw must be a member of the ErrorCode union in ts/contract/errors.ts, which is what callers
 * branch on. Both sides are read as text, so a code renamed on one side only fails here.
 */
import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const CODE = /\bERR_[A-Z0-9_]+\b/g;

/** The members of `export type ErrorCode = | 'ERR_A' | 'ERR_B' ...;` in errors.ts. */
function errorCodeUnion(source: string): Set<string> {
  const union = /export\s+type\s+ErrorCode\s*=([^;]*);/.exec(source);
  if (!union) throw new Error('ts/contract/errors.ts has no `export type ErrorCode = ...;`');
  return new Set([...union[1].matchAll(/'(ERR_[A-Z0-9_]+)'/g)].map((m) => m[1]));
}

function nativeSources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return nativeSources(path);
    return /\.(cpp|h|cu|cuh)$/.test(e.name) ? [path] : [];
  });
}

/** `file:line CODE` for each code in `text` that is not in `known`. */
function unknownCodes(file: string, text: string, known: Set<string>): string[] {
  return text.split('\n').flatMap((line, i) => [...line.matchAll(CODE)].filter((m) => !known.has(m[0])).map((m) => `${file}:${i + 1} ${m[0]}`));
}

const known = errorCodeUnion(readFileSync(join(root, 'ts/contract/errors.ts'), 'utf8'));
const files = nativeSources(join(root, 'native'));

test('the ErrorCode union and the native sources are both found', (t) => {
  t.true(known.has('ERR_INVALID_ARGUMENT') && known.size >= 20, `ErrorCode union parsed as ${[...known].join(', ')}`);
  t.true(files.some((f) => f.endsWith('.cpp')) && files.some((f) => f.endsWith('.cu')) && files.some((f) => f.endsWith('.h')));
});

test('every ERR_ code in native/ is in the ErrorCode union of ts/contract/errors.ts', (t) => {
  const found = new Set<string>();
  const unknown = files.flatMap((file) => {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(CODE)) found.add(m[0]);
    return unknownCodes(relative(root, file), text, known);
  });
  t.true(found.size >= 10, `only ${found.size} codes found in native/: ${[...found].join(', ')}`);
  t.deepEqual(unknown, [], `codes the TypeScript side does not know; use one of ErrorCode or add it there:\n${unknown.join('\n')}`);
});

test('the check catches a code outside the union', (t) => {
  const text = 'if (!f) throw CoreError("ERR_MODEL_MISSING", "TensorRT engine not found: " + path);\nthrow_coded(env, "ERR_BUSY", "...");';
  t.deepEqual(unknownCodes('native/x.cpp', text, known), ['native/x.cpp:1 ERR_MODEL_MISSING']);
});
