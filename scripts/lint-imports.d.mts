// Types of scripts/lint-imports.mjs for the TypeScript that imports it (test/architecture/imports.test.ts).
export interface ImportEdge {
  /** importing file, relative to the repository root ('src/app/live.ts') */
  from: string;
  /** imported file */
  to: string;
}
export interface ImportViolation {
  /** the dependency-cruiser rule: 'layer-<folder>' or 'no-circular' */
  rule: string;
  from: string;
  to: string;
  /** for a cycle: its modules, from `to` round to `from` */
  cycle?: string[];
}
export interface ImportLayer {
  folders: string[];
}
export interface ImportRules {
  forbidden: unknown[];
  options?: Record<string, unknown>;
  LAYERS: ImportLayer[];
}
export function loadImportRules(root?: string): ImportRules;
export function importEdges(root?: string): ImportEdge[];
export function cruiseEdges(edges: ImportEdge[], opts?: { root?: string; rules?: ImportRules; files?: string[] }): Promise<{ modules: number; violations: ImportViolation[] }>;
export function lintImports(root?: string): Promise<{ modules: number; violations: ImportViolation[] }>;
export function formatViolations(violations: ImportViolation[]): string;
