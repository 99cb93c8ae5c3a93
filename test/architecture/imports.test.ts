/**
 * Imports point down the flow (issue 13): every import in src/, type-only ones included, goes to a lower layer of
 * .dependency-cruiser.cjs, and no imports form a cycle. The graph is the compiler's own (tsc --explainFiles), the
 * rules are checked by dependency-cruiser (scripts/lint-imports.mjs; `npm run lint:imports` prints the same).
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { cruiseEdges, formatViolations, importEdges, loadImportRules, type ImportEdge } from '../../scripts/lint-imports.mjs';

const root = new URL('../..', import.meta.url).pathname;
const rules = loadImportRules(root);
const layerFolders = rules.LAYERS.flatMap((l) => l.folders);

describe('import layers', () => {
  let edges: ImportEdge[];
  beforeAll(() => {
    edges = importEdges(root);
  });

  it('lists every folder of src/ in LAYERS once, and no folder that is gone', () => {
    const folders = readdirSync(join(root, 'src')).filter((n) => statSync(join(root, 'src', n)).isDirectory());
    expect(folders.filter((f) => !layerFolders.includes(f)).sort()).toEqual([]);
    expect(layerFolders.filter((f) => !folders.includes(f)).sort()).toEqual([]);
    expect(new Set(layerFolders).size).toBe(layerFolders.length);
  });

  it('the compiler graph holds type-only imports, inline import() types and dynamic imports', () => {
    // `import type` only
    expect(edges).toContainEqual({ from: 'src/server/events.ts', to: 'src/server/hub.ts' });
    expect(edges).toContainEqual({ from: 'src/pipeline/scan-context.ts', to: 'src/contracts/scan-state.ts' });
    // `baselines?: import('../model/baselines.ts').ScanBaselines`
    expect(edges).toContainEqual({ from: 'src/pipeline/scan-context.ts', to: 'src/model/baselines.ts' });
    // `await import('../app/replay-run.ts')`
    expect(edges).toContainEqual({ from: 'src/scale/worker.ts', to: 'src/app/replay-run.ts' });
  });

  it('every import in src/ points down the layers and none forms a cycle', async () => {
    const { modules, violations } = await cruiseEdges(edges, { root, rules });
    expect(modules).toBeGreaterThan(150); // the whole of src/ was cruised, not an empty graph
    expect(violations, `imports against .dependency-cruiser.cjs:\n${formatViolations(violations)}`).toEqual([]);
  });

  it('catches an import to a higher layer, one between sibling layers, and a cycle', async () => {
    const bad: ImportEdge[] = [
      { from: 'src/util/log.ts', to: 'src/contracts/finetune-state.ts' }, // util → contracts: one layer up
      { from: 'src/hdf5/h5.ts', to: 'src/redis/redis-url.ts' }, // siblings of one entry
      { from: 'src/maps/scan-order.ts', to: 'src/maps/scan-maps.ts' }, // with scan-maps → scan-order: a cycle
      { from: 'src/maps/scan-maps.ts', to: 'src/maps/scan-order.ts' },
    ];
    const { violations } = await cruiseEdges([...edges, ...bad], { root, rules });
    // which edge of a cycle dependency-cruiser names depends on its traversal order: compare the cycle's two ends
    const found = violations.map((v) => (v.cycle ? `${v.rule}: ${[v.from, v.to].sort().join(' ⇄ ')}` : `${v.rule}: ${v.from} → ${v.to}`)).sort();
    expect(found).toEqual(['layer-hdf5: src/hdf5/h5.ts → src/redis/redis-url.ts', 'layer-util: src/util/log.ts → src/contracts/finetune-state.ts', 'no-circular: src/maps/scan-maps.ts ⇄ src/maps/scan-order.ts']);
  });
});
