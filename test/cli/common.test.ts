import { describe, expect, it } from 'vitest';
import { configFromOptions } from '../../src/cli/common.ts';
import { DEFAULTS } from '../../src/config/index.ts';

describe('configFromOptions', () => {
  it('applies --set values, parsed as JSON when they parse', () => {
    const c = configFromOptions({ set: ['batch.maxSize=64', 'ingest.endpoint=tcp://127.0.0.1:*', 'server.enabled=false'] });
    expect(c.batch.maxSize).toBe(64);
    expect(c.ingest.endpoint).toBe('tcp://127.0.0.1:*');
    expect(c.server.enabled).toBe(false);
  });

  it('lets a dedicated flag override --set only when the flag was given', () => {
    const absent = configFromOptions({ set: ['data.dir=/tmp/x'] }, { 'data.dir': undefined });
    expect(absent.data.dir).toBe('/tmp/x');
    const given = configFromOptions({ set: ['data.dir=/tmp/x'] }, { 'data.dir': '/tmp/y' });
    expect(given.data.dir).toBe('/tmp/y');
    expect(configFromOptions({}, { 'data.dir': undefined }).data.dir).toBe(DEFAULTS.data.dir);
  });

  it('refuses a --set without "="', () => {
    expect(() => configFromOptions({ set: ['batch.maxSize'] })).toThrow('--set batch.maxSize: expected key.path=value');
  });
});
