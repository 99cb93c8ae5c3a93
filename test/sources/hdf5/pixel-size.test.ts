/**
 * `start.pixelSize` from a USID file's Position_Values (written by the Python example with h5py: a 2 µm field of
 * 8 x 8 pixels, units m) — the physical pitch the dashboard's map axes use.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { openScanFile } from '../../../src/sources/hdf5/index.ts';

const ROOT = new URL('../../..', import.meta.url).pathname;

test('USID Position_Values give the pixel pitch and its unit', { timeout: 60_000 }, async () => {
  const file = join(mkdtempSync(join(tmpdir(), 'ls-px-')), 'usid.h5');
  execFileSync('/usr/bin/python3', [join(ROOT, 'examples/python/make_usid.py'), file, '--rows', '8', '--cols', '6', '--steps', '16', '--cycles', '1']);
  const r = await openScanFile(file);
  try {
    expect(r.start.grid).toMatchObject({ rows: 8, cols: 6 });
    // positions = index · 2e-6 / max(rows, cols) m, stored as float32
    expect(r.start.pixelSize).toEqual({ x: expect.closeTo(2.5e-7, 12), y: expect.closeTo(2.5e-7, 12), unit: 'm' });
  } finally {
    r.close();
  }
});
