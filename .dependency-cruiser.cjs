/**
 * The import check (issue 13): every import in src/ points DOWN this list, and no import forms a cycle.
 * Type-only imports count too (`import type`, `import('…').T`): a type shared upward is still a dependency.
 *
 * `npm run lint:imports` and test/architecture/imports.test.ts run it (scripts/lint-imports.mjs). Why not plain
 * `npx depcruise src`: dependency-cruiser 17 reads TypeScript through the `typescript` package's compiler API, which
 * TypeScript 7 (our compiler, a native binary) no longer ships. So the compiler itself lists every import it resolved
 * (`tsc --explainFiles`), and dependency-cruiser checks that graph against the rules below.
 *
 * LAYERS is the data: lowest first. A folder may import its own files and the folders of LOWER entries; folders
 * in one entry are siblings and may not import each other. Every folder of src/ must be listed (the test checks).
 */
const LAYERS = [
  // Logging, CodedError and small generic helpers (seeded PRNGs, order statistics, the loopback check, a serial send
  // queue): everything uses them; they know nothing of BEPS and import nothing of ours.
  { folders: ['util'] },
  // Shared words, each union derived from an `as const` list (scan sources and states, fine-tuning states, the ground
  // truth a simulated scan file carries): the pipeline, the servers, the store and the page speak them, so they sit
  // below all of them and import nothing; browser-safe.
  { folders: ['contracts'] },
  // The validated configuration: read by every stage, depends on nothing but util.
  { folders: ['config'] },
  // The wire format: messages, frames, the per-scan tracker. What a producer and the daemon agree on.
  { folders: ['protocol'] },
  // Plumbing, one folder per library: HDF5 through h5wasm (loading, checked reads, the file errors) and our own
  // scan-file layout on it (hdf5/own-format.ts: names, versions, write and read primitives) that store/ (recording)
  // and sources/ (replay) share; Redis URLs that the queue, the Socket.IO adapter and the facility share. Above
  // protocol because our layout stores the protocol's start and stop headers.
  { folders: ['hdf5', 'redis'] },
  // Per-pixel preprocessing, pure functions of the data (the paper's steps).
  { folders: ['preprocess'] },
  // The per-scan maps (latent μ, error, state per pixel): what every later stage writes or reads.
  { folders: ['maps'] },
  // Our own files: raw recordings and results (written and read back), on the HDF5 plumbing.
  { folders: ['store'] },
  // Where scans come from: the ZeroMQ socket and replayed files (our own, USID, NSID).
  { folders: ['sources'] },
  // Simulated scans and producers: write our files (store) and publish the wire format, for demos and tests.
  { folders: ['sim'] },
  // The β-VAE: bundles, engines (onnxruntime, tfjs), training, the fit check. Knows no pipeline.
  { folders: ['model'] },
  // Anomaly scores and alert engines/sinks over the maps and the model's outputs.
  { folders: ['alerts'] },
  // The RxJS graph: sources → preprocess → model → maps, one ScanContext per scan. Knows no server or fine-tuning.
  { folders: ['pipeline'] },
  // Background fine-tuning: acts on the pipeline's model slot and re-encodes its scans; the pipeline never calls it.
  { folders: ['finetune'] },
  // The dashboard server: pulls from a DashboardHub (its own interface, server/hub.ts) and never from the pipeline.
  { folders: ['server'] },
  // The facility view (one page over all daemons) and its Redis Stream publisher: built on the server's access rules,
  // routes and page bundler.
  { folders: ['facility'] },
  // Entry points and wiring: the live daemon, a replay through the whole pipeline, resume, the hub adapter, and the
  // wiring of alerts, metrics, status, fine-tuning and the facility publisher. The only place that knows all of the
  // above, so nothing below has to know each other.
  { folders: ['app'] },
  // Scale-out: a queue and workers that each run app/replay-run.ts per job. Above app (not inside it) because it is a
  // process of its own around the app's replay, with its own errors and Redis queue; nothing in app needs it.
  { folders: ['scale'] },
  // The command line: parses options and starts what the user asked for; the top.
  { folders: ['cli'] },
];

const folders = (entries) => entries.flatMap((e) => e.folders);
const anyOf = (names) => `^src/(${names.join('|')})/`;

/** One rule per folder: nothing above it, no sibling of its entry. */
const layerRules = LAYERS.flatMap((entry, i) =>
  entry.folders.flatMap((folder) => {
    const forbidden = [...folders(LAYERS.slice(i + 1)), ...entry.folders.filter((f) => f !== folder)];
    if (forbidden.length === 0) return []; // the top layer may import anything
    return {
      name: `layer-${folder}`,
      severity: 'error',
      comment: `src/${folder}/ may import only lower layers (${folders(LAYERS.slice(0, i)).join(', ') || 'none'}); see LAYERS in .dependency-cruiser.cjs`,
      from: { path: `^src/${folder}/` },
      to: { path: anyOf(forbidden) },
    };
  }),
);

module.exports = {
  forbidden: [
    ...layerRules,
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'a cycle makes its modules one unit that cannot be read, tested or loaded on its own',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    includeOnly: '^src/',
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
// Not a dependency-cruiser key (its schema allows none): read by scripts/lint-imports.mjs and the test.
Object.defineProperty(module.exports, 'LAYERS', { value: LAYERS, enumerable: false });
