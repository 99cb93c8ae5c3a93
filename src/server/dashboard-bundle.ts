/**
 * The dashboard page as served: dashboards/index.html and dashboards/src/*.ts bundled by esbuild into one
 * browser script, built in memory when the server starts (≈ 0.3 s) so what is served is always the source's.
 * `npm run dashboard:build` writes the same files to dashboards/dist/ for inspection.
 */
import { readFile, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

/** The repository's dashboards/ folder. */
export const DASHBOARD_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../dashboards');

/** One served file. */
export interface StaticFile {
  contentType: string;
  body: Buffer;
}

/** Bundle the page; returns URL path → file ('/', '/app.js', '/app.js.map', '/app.css'). */
export function buildDashboard(opts: { minify?: boolean } = {}): Promise<Map<string, StaticFile>> {
  return buildPage('src/main.ts', 'index.html', opts);
}

/** The facility page (`loopstream facility`): dashboards/facility.html and dashboards/src/facility.ts, same layout of files. */
export function buildFacilityPage(opts: { minify?: boolean } = {}): Promise<Map<string, StaticFile>> {
  return buildPage('src/facility.ts', 'facility.html', opts);
}

/** One page of dashboards/: its script bundled as /app.js, its HTML as /. */
async function buildPage(entry: string, htmlFile: string, opts: { minify?: boolean }): Promise<Map<string, StaticFile>> {
  const result = await build({
    entryPoints: [join(DASHBOARD_DIR, entry)],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    target: ['chrome110', 'firefox110', 'safari16'],
    minify: opts.minify ?? true,
    sourcemap: 'external',
    outdir: '/', // virtual: nothing is written
    entryNames: 'app',
    logLevel: 'silent',
    legalComments: 'none',
  });
  const files = new Map<string, StaticFile>();
  for (const out of result.outputFiles) {
    const name = out.path.slice(out.path.lastIndexOf('/'));
    const type = name.endsWith('.js') ? 'text/javascript; charset=utf-8' : name.endsWith('.css') ? 'text/css; charset=utf-8' : 'application/json';
    files.set(name, { contentType: type, body: Buffer.from(out.contents) });
  }
  const html = await readFile(join(DASHBOARD_DIR, htmlFile));
  files.set('/', { contentType: 'text/html; charset=utf-8', body: html });
  return files;
}

/** Write the bundle to dashboards/dist/ (npm run dashboard:build). */
export async function writeDashboard(outDir = join(DASHBOARD_DIR, 'dist')): Promise<string[]> {
  const files = await buildDashboard();
  await mkdir(outDir, { recursive: true });
  const written: string[] = [];
  for (const [name, file] of files) {
    const path = join(outDir, name === '/' ? 'index.html' : name);
    await writeFile(path, file.body);
    written.push(path);
  }
  return written;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  for (const path of await writeDashboard()) process.stdout.write(`${path}\n`);
}
