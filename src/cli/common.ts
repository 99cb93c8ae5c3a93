/** Shared CLI plumbing: the --config / --set options every daemon-like command takes, and config loading. */
import { Option, type Command } from 'commander';
import { loadConfig, type Config } from '../config/index.ts';
import { createLogger, type Logger } from '../util/log.ts';

/** Add `--config FILE`, repeatable `--set key.path=value` and `--log-level` to a command. */
export function withConfigOptions(cmd: Command): Command {
  return cmd
    .option('-c, --config <file>', 'YAML config file (keys as in config/default.yaml)')
    .option('--set <key=value...>', 'override one config key, e.g. --set batch.maxSize=128 (repeatable)')
    .addOption(new Option('--log-level <level>', 'log level').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']))
    .addOption(new Option('--log-format <format>', 'log lines: pretty, json, or auto (pretty when stderr is a terminal; overrides log.format)').choices(['auto', 'json', 'pretty']));
}

/** Parse a `--set` value: JSON when it parses (numbers, booleans, lists), else the raw string. */
function parseSetValue(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

/** Load the config from --config and --set, then apply command-specific `overrides` (dotted keys). */
export function configFromOptions(opts: { config?: string; set?: string[]; logLevel?: string; logFormat?: string }, overrides: Record<string, unknown> = {}): Config {
  const sets: Record<string, unknown> = {};
  for (const item of opts.set ?? []) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw Object.assign(new Error(`--set ${item}: expected key.path=value`), { name: 'ConfigError', code: 'LS_CONFIG_INVALID' });
    sets[item.slice(0, eq)] = parseSetValue(item.slice(eq + 1));
  }
  if (opts.logLevel) sets['log.level'] = opts.logLevel;
  if (opts.logFormat) sets['log.format'] = opts.logFormat;
  // A dedicated flag overrides --set only when it was given: an absent flag (undefined) must not erase a --set.
  const given = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
  return loadConfig(opts.config, { ...sets, ...given });
}

/** The root logger for a command run. */
export function loggerFor(config: Config): Logger {
  return createLogger({ level: config.log.level, format: config.log.format });
}
