import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { latestVersion, listVersions, nextVersion, versionsRoot } from '../../src/finetune/versions.ts';
import { Config } from '../../src/config/schema.ts';

let root: string;
const manifest = (version: number, parent: number, base: string) => ({ format: 'loopstream-bundle', formatVersion: 1, version, parent, finetune: { base } });

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'loopstream-versions-'));
  for (const [v, p, base] of [[2, 1, '/b/a'], [3, 2, '/b/a'], [10, 1, '/b/other']] as const) {
    mkdirSync(join(root, `v${v}`));
    writeFileSync(join(root, `v${v}`, 'manifest.json'), JSON.stringify(manifest(v, p, base)));
  }
  mkdirSync(join(root, 'v4')); // being written: no manifest yet
  mkdirSync(join(root, '.staging-1-r5'));
  writeFileSync(join(root, 'rounds.jsonl'), '');
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('the version store', () => {
  test('lists v<N> folders with a manifest, by version, ignoring staging and half-written folders', async () => {
    expect((await listVersions(root)).map((v) => [v.version, v.parent])).toEqual([[2, 1], [3, 2], [10, 1]]);
  });

  test('the latest version is per base bundle', async () => {
    expect((await latestVersion(root, '/b/a'))?.version).toBe(3);
    expect((await latestVersion(root, '/b/other'))?.version).toBe(10);
    expect(await latestVersion(root, '/b/none')).toBeUndefined();
  });

  test('the next version is above every folder and above the current model', async () => {
    expect(await nextVersion(root, 1)).toBe(11);
    expect(await nextVersion(root, 12)).toBe(13);
    expect(await nextVersion(join(root, 'missing'), 1)).toBe(2);
  });

  test('a folder whose manifest disagrees with its name is an error naming both', async () => {
    const bad = mkdtempSync(join(tmpdir(), 'loopstream-versions-bad-'));
    mkdirSync(join(bad, 'v5'));
    writeFileSync(join(bad, 'v5', 'manifest.json'), JSON.stringify(manifest(6, 5, '/b/a')));
    await expect(listVersions(bad)).rejects.toMatchObject({
      name: 'FinetuneError',
      code: 'LS_FINETUNE_VERSIONS',
      message: `${join(bad, 'v5')}: manifest.json says version 6, the folder name says 5; rename the folder or fix the manifest`,
    });
    rmSync(bad, { recursive: true, force: true });
  });

  test('the root defaults to <data.dir>/models/<bundle folder name>, or finetune.dir', () => {
    expect(versionsRoot(Config.parse({ data: { dir: '/d' }, model: { bundle: 'fixtures/models/edge-sim' } }))).toBe('/d/models/edge-sim');
    expect(versionsRoot(Config.parse({ finetune: { dir: '/v' } }))).toBe('/v');
  });
});
