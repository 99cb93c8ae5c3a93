/**
 * Words the pipeline, the dashboard server, the facility view and the page all use for a scan. The lists are the
 * data (metric labels, checks iterate them); the types are derived from them, so a value added here is known
 * everywhere at once. Browser-safe: no imports (the page reads these types through src/server/hub.ts).
 */

/** Where a scan's pixels come from: the ZeroMQ source (resumed recordings included) or a replayed file. */
export const SCAN_SOURCES = ['live', 'replay'] as const;
export type ScanSource = (typeof SCAN_SOURCES)[number];

/** Life of a scan: running until its stop message (completed or aborted) or a failure (error). */
export const SCAN_RUN_STATES = ['running', 'completed', 'aborted', 'error'] as const;
export type ScanRunState = (typeof SCAN_RUN_STATES)[number];
