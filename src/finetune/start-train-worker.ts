/**
 * Start the fine-tuning worker thread. Its entry (worker.ts) is TypeScript, and a worker thread does not inherit
 * the tsx loader the main thread registered, nor do Node 20 workers apply an `--import tsx` given in `execArgv`
 * before loading a `.ts` entry (measured: ERR_UNKNOWN_FILE_EXTENSION). So the thread starts from a two-line
 * script that imports tsx's loader — resolved to an absolute URL so any working directory works — and then
 * imports worker.ts. The same code runs under `node bin/loopstream.js` and under vitest. Compiled (dist/, where this
 * module is `.js`), the worker is plain JavaScript and starts directly.
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';

/** A new training worker (idle until it receives a `train` message). */
export function startTrainWorker(): Worker {
  if (import.meta.url.endsWith('.js')) return new Worker(new URL('./worker.js', import.meta.url), { name: 'loopstream-finetune' });
  const require = createRequire(import.meta.url);
  // tsx's package entry is its loader (what `node --import tsx` runs): importing it registers the hooks.
  const tsxLoader = pathToFileURL(require.resolve('tsx/package.json').replace(/package\.json$/, 'dist/esm/api/index.mjs')).href;
  const entry = new URL('./worker.ts', import.meta.url).href;
  const boot = `import(${JSON.stringify(tsxLoader)}).then((t) => { t.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(boot, { eval: true, name: 'loopstream-finetune' });
}
