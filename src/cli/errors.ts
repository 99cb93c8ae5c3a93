/** Exit codes: 1 runtime failure, 2 bad usage or configuration, 3 bad input file or bundle. */
export function exitCodeOf(err: unknown): number {
  const name = (err as { name?: string }).name ?? '';
  if (name === 'ConfigError') return 2;
  // a missing or malformed Redis URL is a usage error; Redis not answering is a runtime failure (1)
  if (name === 'RedisUrlError') return 2;
  // a FrameError reaching the CLI is a replayed file's start refused by the live rules: bad input too
  if (name === 'FileFormatError' || name === 'BundleError' || name === 'FrameError') return 3;
  return 1;
}
