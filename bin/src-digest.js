// sha256 over every file under src/ (relative path and content, in sorted order). scripts/build.mjs writes it into
// dist/.build-stamp; bin/loopstream.js compares it before running dist/, so a compiled CLI never runs stale — after
// an edit, a checkout, or files copied with old timestamps. Reading ~150 small files costs a few milliseconds.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';

/** Hex sha256 of the tree under `dir`. */
export function srcDigest(dir) {
  const hash = createHash('sha256');
  const walk = (rel) => {
    const entries = readdirSync(`${dir}/${rel}`, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const e of entries) {
      const path = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(path);
      else hash.update(`${path}\0`).update(readFileSync(`${dir}/${path}`)).update('\0');
    }
  };
  walk('');
  return hash.digest('hex');
}
