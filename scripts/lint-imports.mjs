// `npm run lint:imports`: check that every import in src/ points down the layers of .dependency-cruiser.cjs and that
// no imports form a cycle; prints each violation and exits 1 when there is one. test/architecture/imports.test.ts
// runs the same check through `lintImports()`.
//
// Two steps, because dependency-cruiser 17 cannot parse TypeScript 7 (it needs the `typescript` package's JS
// compiler API, which the native TypeScript 7 does not ship):
//  1. `importEdges`: the compiler lists every import it resolved, type-only ones and `import('…').T` included
//     (`tsc --explainFiles`: "Imported via '<specifier>' from file '<importer>'" under each imported file).
//  2. `cruiseEdges`: that graph as one small JavaScript file per module (`import "./x.js";` per edge) in a temporary
//     folder, which dependency-cruiser's `cruise` checks against the configured rules; paths are mapped back.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cruise } from 'dependency-cruiser';

const require = createRequire(import.meta.url);
const defaultRoot = fileURLToPath(new URL('..', import.meta.url));

/** The rule set and the LAYERS data of `<root>/.dependency-cruiser.cjs`. */
export function loadImportRules(root = defaultRoot) {
  const path = join(root, '.dependency-cruiser.cjs');
  delete require.cache[path];
  return require(path);
}

/**
 * Every import between two files of src/, as the compiler resolved it: `[{ from, to }]`, paths relative to `root`
 * ('src/app/live.ts'), one entry per importing file and imported file. Throws when tsc cannot run or lists nothing.
 */
export function importEdges(root = defaultRoot) {
  // typescript's `exports` hide bin/tsc from require.resolve: find the package, then its bin. --listFilesOnly: the
  // import graph without type checking; edges outside src/ (tests, bench) are dropped below
  const tsc = require.resolve('typescript/package.json').replace(/package\.json$/, 'bin/tsc');
  const run = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.json'), '--noEmit', '--explainFiles', '--listFilesOnly'], { cwd: root, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  if (run.error) throw run.error;
  const edges = new Map();
  let imported;
  for (const line of run.stdout.split('\n')) {
    if (!line.startsWith(' ')) {
      imported = line.trim();
      continue;
    }
    // the importer's path is quoted with ' (a specifier may hold either quote: match it by its own quote)
    const m = /^\s+Imported via (["']).*?\1 from file '([^']+)'/.exec(line);
    if (!m || !imported?.startsWith('src/') || !m[2].startsWith('src/')) continue;
    edges.set(`${m[2]}\0${imported}`, { from: m[2], to: imported });
  }
  if (edges.size === 0) throw new Error(`tsc --explainFiles listed no import inside src/ (exit ${run.status}): ${(run.stderr || run.stdout).slice(0, 2000)}`);
  return [...edges.values()];
}

/** Every module file under `<root>/src` (so a file nothing imports and that imports nothing is still cruised). */
function srcFiles(root) {
  const out = [];
  const walk = (dir) => {
    for (const name of readdirSync(join(root, dir))) {
      const rel = `${dir}/${name}`;
      if (statSync(join(root, rel)).isDirectory()) walk(rel);
      else if (/\.(ts|mts|cts)$/.test(name) && !/\.d\.[mc]?ts$/.test(name)) out.push(rel);
    }
  };
  walk('src');
  return out;
}

/**
 * Check `edges` against the rules with dependency-cruiser. Returns `{ modules, violations }`; each violation is
 * `{ rule, from, to, cycle? }` with the repository's own paths (a cycle lists its modules in order).
 */
export async function cruiseEdges(edges, { root = defaultRoot, rules = loadImportRules(root), files = srcFiles(root) } = {}) {
  const stubDir = mkdtempSync(join(tmpdir(), 'loopstream-imports-'));
  const stubOf = (file) => file.replace(/\.[mc]?ts$/, '.js');
  const back = new Map();
  try {
    const importsOf = new Map(files.map((f) => [f, []]));
    for (const { from, to } of edges) {
      if (!importsOf.has(from)) importsOf.set(from, []);
      if (!importsOf.has(to)) importsOf.set(to, []);
      importsOf.get(from).push(to);
    }
    for (const [file, targets] of importsOf) {
      back.set(stubOf(file), file);
      const stub = join(stubDir, stubOf(file));
      mkdirSync(dirname(stub), { recursive: true });
      const lines = targets.map((t) => {
        const spec = relative(dirname(stubOf(file)), stubOf(t));
        return `import ${JSON.stringify(spec.startsWith('.') ? spec : `./${spec}`)};`;
      });
      writeFileSync(stub, `${lines.join('\n')}\n`);
    }
    // the stubs are plain JavaScript: no TypeScript options (they would make dependency-cruiser look for `typescript`);
    // baseDir: paths in the result are relative to the stub folder, i.e. 'src/…' as in the rules
    const { tsPreCompilationDeps: _ts, tsConfig: _cfg, ...options } = rules.options ?? {};
    const result = await cruise(['src'], { ...options, baseDir: stubDir, validate: true, ruleSet: { forbidden: rules.forbidden }, outputType: 'json' });
    const output = typeof result.output === 'string' ? JSON.parse(result.output) : result.output;
    const orig = (p) => back.get(p) ?? p;
    const violations = output.summary.violations.map((v) => ({
      rule: v.rule.name,
      from: orig(v.from),
      to: orig(v.to),
      ...(v.cycle ? { cycle: v.cycle.map((c) => orig(typeof c === 'string' ? c : c.name)) } : {}),
    }));
    return { modules: output.modules.length, violations };
  } finally {
    rmSync(stubDir, { recursive: true, force: true });
  }
}

/** The whole check: the compiler's import graph of src/ against the rules. */
export async function lintImports(root = defaultRoot) {
  return cruiseEdges(importEdges(root), { root });
}

/** One line per violation, for a terminal or a failing test. */
export function formatViolations(violations) {
  return violations.map((v) => (v.cycle ? `${v.rule}: ${[v.from, ...v.cycle].join(' → ')}` : `${v.rule}: ${v.from} → ${v.to}`)).join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { modules, violations } = await lintImports();
  if (violations.length > 0) {
    process.stderr.write(`${formatViolations(violations)}\n${violations.length} import(s) against the layers of .dependency-cruiser.cjs (${modules} modules)\n`);
    process.exit(1);
  }
  process.stdout.write(`imports: ${modules} modules, every import points down the layers, no cycle\n`);
}
