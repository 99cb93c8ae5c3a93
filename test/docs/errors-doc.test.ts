/**
 * Every error code the code can raise has an entry in docs/errors.md saying how to fix it, and the doc lists no
 * code that no longer exists (fastify keeps its error table and docs in step the same way).
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = new URL('../..', import.meta.url).pathname;

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

describe('docs/errors.md', () => {
  const codesInCode = new Set(sources(join(root, 'src')).flatMap((p) => [...readFileSync(p, 'utf8').matchAll(/'(LS_[A-Z0-9_]+)'/g)].map((m) => m[1])));
  const doc = readFileSync(join(root, 'docs/errors.md'), 'utf8');
  const codesInDoc = new Set([...doc.matchAll(/^### (LS_[A-Z0-9_]+)/gm)].map((m) => m[1]));

  it('documents every code the sources raise', () => {
    expect([...codesInCode].filter((c) => !codesInDoc.has(c)).sort()).toEqual([]);
  });

  it('documents no code the sources no longer have', () => {
    expect([...codesInDoc].filter((c) => !codesInCode.has(c)).sort()).toEqual([]);
  });

  it('gives every code a fix', () => {
    const sections = doc.split(/^### /m).slice(1);
    for (const s of sections) expect(s, s.split('\n')[0]).toMatch(/\*\*Fix:\*\*/);
  });
});
