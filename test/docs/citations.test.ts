/**
 * The repository stands alone: nothing in the code, tests, benchmarks, dashboard, examples or docs cites a file that
 * lives outside it (the project's planning notes), and every numbered section a file cites as `docs/<file>.md §N`
 * (or a range `§N–M`) exists as a numbered heading (`## N. …`) of that doc. docs/science.md's own `§N` references
 * are checked the same way.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = new URL('../..', import.meta.url).pathname;

/** Where a citation may appear: every text file under these (README.md is a file), and the fixtures' READMEs. */
const SCANNED = ['src', 'test', 'bench', 'dashboards/src', 'docs', 'examples', 'config', 'README.md'];
const BINARY = /\.(png|jpe?g|gif|webp|ico|h5|bin|onnx|wasm)$/i;

// Built from parts so that this file does not cite them itself.
const OUTSIDE = [...['DOMAIN', 'ARCHITECTURE', 'STYLE'].map((n) => `${n}.md`), `${'..'}/shared`];

function textFiles(path: string): string[] {
  const p = join(root, path);
  if (!existsSync(p)) return [];
  if (!statSync(p).isDirectory()) return BINARY.test(p) ? [] : [p];
  return readdirSync(p).flatMap((name) => (name === 'node_modules' || name === 'dist' ? [] : textFiles(join(path, name))));
}

/** Every mention of a file outside the repository in `text`, as "line N: …". */
function outsideMentions(text: string): string[] {
  return text.split('\n').flatMap((line, i) => (OUTSIDE.some((o) => line.includes(o)) ? [`line ${i + 1}: ${line.trim()}`] : []));
}

/** The numbered sections of a markdown doc: headings such as `## 3. The model`. */
function numberedSections(markdown: string): Set<number> {
  return new Set([...markdown.matchAll(/^#{1,6} +(\d+)\. /gm)].map((m) => Number(m[1])));
}

/** Numbered citations `docs/<file>.md §N` and `§N–M` in `text`: [doc path, section] for each section named. */
function numberedCitations(text: string): Array<[string, number]> {
  const out: Array<[string, number]> = [];
  for (const m of text.matchAll(/docs\/([\w.-]+\.md) ?§(\d+)(?:\s*[–-]\s*§?(\d+))?/g)) {
    const from = Number(m[2]);
    const to = m[3] === undefined ? from : Number(m[3]);
    for (let n = from; n <= Math.max(from, to); n++) out.push([`docs/${m[1]}`, n]);
  }
  return out;
}

describe('the repository cites only itself', () => {
  const files = [...SCANNED.flatMap(textFiles), ...textFiles('fixtures').filter((f) => f.endsWith('.md'))];

  it('scans the code, tests and docs', () => {
    const rel = files.map((f) => relative(root, f));
    expect(rel).toContain('README.md');
    expect(rel).toContain('docs/science.md');
    expect(rel).toContain('src/preprocess/project.ts');
    expect(rel).toContain('config/default.yaml');
    expect(rel).toContain('fixtures/external/README.md');
    expect(rel.some((f) => f.startsWith('test/docs/'))).toBe(true);
  });

  it('finds a mention of an outside file and a numbered citation where there is one', () => {
    expect(outsideMentions(`a\n// see ${OUTSIDE[0]} §2\nb`)).toEqual([`line 2: // see ${OUTSIDE[0]} §2`]);
    expect(outsideMentions(`read ${OUTSIDE[3]}/docs`)).toHaveLength(1);
    expect(outsideMentions('see docs/science.md §2')).toEqual([]);
    const missing = 'docs/' + 'x.md §7'; // split so that this file does not cite a missing doc itself
    expect(numberedCitations(`(docs/science.md §1–2) and docs/model.md §Bundle layout, ${missing}`)).toEqual([
      ['docs/science.md', 1],
      ['docs/science.md', 2],
      ['docs/x.md', 7],
    ]);
    expect([...numberedSections('# T\n## 1. One\ntext 2. no\n### 12. Twelve\n## Named\n')]).toEqual([1, 12]);
  });

  it('mentions no file outside the repository', () => {
    const found = files.flatMap((f) => outsideMentions(readFileSync(f, 'utf8')).map((m) => `${relative(root, f)} ${m}`));
    expect(found).toEqual([]);
  });

  it('resolves every docs/<file>.md §N to a numbered heading of that doc', () => {
    const cited = files.flatMap((f) => numberedCitations(readFileSync(f, 'utf8')).map(([doc, n]) => ({ from: relative(root, f), doc, n })));
    // the science comments alone cite docs/science.md from dozens of places
    expect(cited.filter((c) => c.doc === 'docs/science.md').length).toBeGreaterThan(30);
    const sections = new Map<string, Set<number>>();
    const unresolved = cited.filter(({ doc, n }) => {
      if (!sections.has(doc)) sections.set(doc, existsSync(join(root, doc)) ? numberedSections(readFileSync(join(root, doc), 'utf8')) : new Set());
      return !sections.get(doc)!.has(n);
    });
    expect(unresolved.map(({ from, doc, n }) => `${from}: ${doc} §${n}`)).toEqual([]);
  });

  it('numbers docs/science.md §1–§8 in order and resolves its own § references', () => {
    const science = readFileSync(join(root, 'docs/science.md'), 'utf8');
    expect([...science.matchAll(/^## +(\d+)\. /gm)].map((m) => Number(m[1]))).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const own = [...science.matchAll(/(?<!\.md )§(\d+)/g)].map((m) => Number(m[1]));
    expect(own.length).toBeGreaterThan(0);
    expect(own.filter((n) => !numberedSections(science).has(n))).toEqual([]);
  });

  it('cites the paper the analysis follows with its DOI', () => {
    const science = readFileSync(join(root, 'docs/science.md'), 'utf8');
    expect(science).toContain('10.1002/adma.202202814');
    expect(science).toMatch(/Qin.+Guo.+Kaliyev.+Agar/s);
  });
});
