/** Hex sha256 of every file under `dir` (relative path and content, sorted): see src-digest.js. */
export function srcDigest(dir: string): string;
