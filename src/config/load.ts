/**
 * Load the configuration: schema defaults ← YAML file (`--config FILE`) ← CLI overrides (dotted keys).
 * Any problem becomes one ConfigError whose lines name the key path, the value found and what was expected.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import type { z } from 'zod';
import { ConfigError } from './errors.ts';
import { Config, DEFAULTS } from './schema.ts';

/** Set `obj[a][b][c] = value` for the dotted key `a.b.c`, creating sections as needed. */
export function setDotted(obj: Record<string, unknown>, dotted: string, value: unknown): void {
  const keys = dotted.split('.');
  let node = obj;
  for (const k of keys.slice(0, -1)) {
    const next = node[k];
    if (typeof next !== 'object' || next === null) node[k] = {};
    node = node[k] as Record<string, unknown>;
  }
  node[keys[keys.length - 1]] = value;
}

function getDotted(obj: unknown, path: PropertyKey[]): unknown {
  let node = obj;
  for (const k of path) {
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<PropertyKey, unknown>)[k];
  }
  return node;
}

function describeValue(v: unknown): string {
  if (v === undefined) return 'missing';
  const kind = Array.isArray(v) ? 'a list' : v === null ? 'null' : `a ${typeof v}`;
  return `${JSON.stringify(v)} (${kind})`;
}

/** Render zod issues as "key.path is VALUE; expected … (default …)" lines. */
export function describeIssues(issues: z.core.$ZodIssue[], input: unknown): string[] {
  return issues.map((issue) => {
    if (issue.code === 'unrecognized_keys') {
      const base = issue.path.map(String).join('.');
      return issue.keys.map((k) => `${base ? `${base}.` : ''}${k} is not a known key (check the spelling against config/default.yaml)`).join('; ');
    }
    const path = issue.path.map(String).join('.');
    const value = getDotted(input, issue.path);
    const def = getDotted(DEFAULTS, issue.path);
    const expected = issue.message.replace(/^(Invalid input|Invalid option|Too big|Too small): /, '');
    return `${path} is ${describeValue(value)}; ${expected}${def !== undefined ? ` (default ${JSON.stringify(def)})` : ''}`;
  });
}

/** Validate a plain object as a Config, or throw a ConfigError naming `source`. */
export function parseConfig(input: unknown, source: string): Config {
  const parsed = Config.safeParse(input ?? {}, { jitless: true }); // parsed once: no generated parsers (schema.ts DEFAULTS)
  if (!parsed.success) {
    const problems = describeIssues(parsed.error.issues, input);
    throw new ConfigError(`${source}: ${problems.join('\n  ')}`, source, problems);
  }
  return parsed.data;
}

/** The package's root folder (where package.json is): resources shipped with loopstream live under it. */
export const PACKAGE_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));

/**
 * Defaults that name files shipped with the package, resolved against the package so `serve` or `replay` from
 * any working directory finds them. A path the user gives (file, --set, flag) keeps its meaning: relative to
 * the working directory. data.dir and replay.roots are the user's folders and stay relative to it.
 */
function resolvePackageDefaults(config: Config, raw: Record<string, unknown>): Config {
  const given = getDotted(raw, ['model', 'bundle']);
  if (given === undefined && !isAbsolute(config.model.bundle)) config.model.bundle = resolve(PACKAGE_ROOT, config.model.bundle);
  return config;
}

/** Read the YAML file (if any), apply `overrides` (dotted keys), validate once. */
export function loadConfig(file?: string, overrides: Record<string, unknown> = {}): Config {
  let raw: Record<string, unknown> = {};
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new ConfigError(`${file}: cannot read the config file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, file);
    }
    try {
      raw = (YAML.parse(text) as Record<string, unknown>) ?? {};
    } catch (err) {
      throw new ConfigError(`${file}: not valid YAML: ${(err as Error).message.split('\n')[0]}`, file);
    }
    if (typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(`${file}: the top level must be a mapping of sections`, file);
  }
  for (const [key, value] of Object.entries(overrides)) if (value !== undefined) setDotted(raw, key, value);
  return resolvePackageDefaults(parseConfig(raw, file ?? 'command line'), raw);
}
