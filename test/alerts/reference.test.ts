import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ALERTS_REFERENCE_FILE, loadAlertsReference } from '../../src/alerts/reference.ts';

const BUNDLE = 'fixtures/models/edge-sim';
const dir = mkdtempSync(join(tmpdir(), 'loopstream-ref-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A copy of the shipped bundle whose reference is edited by `edit`. */
function bundleWith(name: string, edit: (ref: any) => void): string {
  const out = join(dir, name);
  cpSync(BUNDLE, out, { recursive: true });
  const ref = JSON.parse(readFileSync(join(out, ALERTS_REFERENCE_FILE), 'utf8'));
  edit(ref);
  writeFileSync(join(out, ALERTS_REFERENCE_FILE), JSON.stringify(ref));
  return out;
}

describe('alerts reference loading', () => {
  it('loads the shipped reference with its kNN sample and neighbour distances', async () => {
    const ref = await loadAlertsReference(BUNDLE);
    expect(ref.latent.knn!.sample.length % ref.latent.dim).toBe(0);
    expect(ref.latent.knn!.kdist!.length).toBe(ref.latent.knn!.sample.length / ref.latent.dim);
  });

  it('refuses a kNN sample with a non-number (a NaN written as null) and a negative neighbour distance, naming the field', async () => {
    const nulled = bundleWith('null-sample', (r) => (r.latent.knn.sample[5] = null));
    await expect(loadAlertsReference(nulled)).rejects.toMatchObject({ code: 'LS_ALERTS_REFERENCE_INVALID', message: expect.stringMatching(/latent\.knn\.sample: expected an array of finite numbers \(the kNN sample\)/) });
    const negative = bundleWith('negative-kdist', (r) => (r.latent.knn.kdist[0] = -1));
    await expect(loadAlertsReference(negative)).rejects.toMatchObject({ code: 'LS_ALERTS_REFERENCE_INVALID', message: expect.stringMatching(/latent\.knn\.kdist: expected an array of finite numbers ≥ 0/) });
    const notArray = bundleWith('string-sample', (r) => (r.latent.knn.sample = 'many'));
    await expect(loadAlertsReference(notArray)).rejects.toMatchObject({ code: 'LS_ALERTS_REFERENCE_INVALID' });
  });
});
