import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, DEFAULTS, loadConfig } from '../../src/config/index.ts';
import { renderDefaultYaml } from '../../src/config/render.ts';

const dir = mkdtempSync(join(tmpdir(), 'ls-config-'));
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('config', () => {
  it('config/default.yaml is the rendering of the schema (run `npm run config:render` after changing it)', () => {
    expect(readFileSync(new URL('../../config/default.yaml', import.meta.url), 'utf8')).toBe(renderDefaultYaml());
  });

  it('config/default.yaml parses to exactly the schema defaults', () => {
    expect(loadConfig(new URL('../../config/default.yaml', import.meta.url).pathname)).toEqual(DEFAULTS);
  });

  it('merges a file and overrides over the defaults', () => {
    const p = file('ok.yaml', 'batch:\n  maxSize: 64\nserver:\n  port: 9000\n');
    const c = loadConfig(p, { 'server.port': 0 });
    expect(c.batch.maxSize).toBe(64);
    expect(c.batch.maxWaitMs).toBe(DEFAULTS.batch.maxWaitMs);
    expect(c.server.port).toBe(0);
  });

  it('names the key path, the value and what is expected for a wrong type', () => {
    const p = file('bad.yaml', 'batch:\n  maxSize: ten\n');
    const err = configError(() => loadConfig(p));
    expect(err.message).toBe(`${p}: batch.maxSize is "ten" (a string); expected number, received string (default 256)`);
  });

  it('refuses an unknown key with its path', () => {
    const p = file('typo.yaml', 'batch:\n  maxSise: 10\n');
    expect(configError(() => loadConfig(p)).message).toBe(`${p}: batch.maxSise is not a known key (check the spelling against config/default.yaml)`);
  });

  it('refuses an out-of-range value and an unknown enum value', () => {
    const p = file('range.yaml', 'server:\n  port: 70000\nmodel:\n  engine: torch\n');
    const err = configError(() => loadConfig(p));
    expect(err.problems).toEqual([
      'model.engine is "torch" (a string); expected one of "onnx"|"tfjs" (default "onnx")',
      'server.port is 70000 (a number); expected number to be <=65535 (default 8080)',
    ]);
  });

  it('says when the file is missing or not YAML', () => {
    expect(configError(() => loadConfig(join(dir, 'nope.yaml'))).message).toBe(`${join(dir, 'nope.yaml')}: cannot read the config file (ENOENT)`);
    const p = file('broken.yaml', 'batch: [1, 2\n');
    expect(configError(() => loadConfig(p)).message).toMatch(new RegExp(`^${p}: not valid YAML: `));
  });
});
