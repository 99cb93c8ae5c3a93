/**
 * Redis URLs for the queue: a password travels in the URL and is never shown (errors, logs), a wrong password or
 * a Redis that is down fails with LS_SCALE_REDIS within the timeout instead of hanging, TLS is rediss://, and bad
 * URLs are refused with LS_SCALE_REDIS_URL. Against a real redis-server with `requirepass`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exitCodeOf } from '../../src/cli/errors.ts';
import { loadConfig } from '../../src/config/index.ts';
import { openQueue } from '../../src/scale/queue.ts';
import { parseRedisUrl, redactRedisUrl } from '../../src/redis/redis-url.ts';
import { freePort } from '../helpers/ports.ts';
import { startRedis, type TestRedis } from '../helpers/redis.ts';

const SECRET = 's3cret-pw-42';
let redis: TestRedis;
const config = loadConfig(undefined, { 'scale.queue': 'auth-test' });

beforeAll(async () => {
  redis = await startRedis(['--requirepass', SECRET]);
});
afterAll(async () => redis?.stop());

describe('Redis URLs of the scale-out commands', () => {
  it('connects with the password in the URL; a wrong password fails with LS_SCALE_REDIS and never shows it', async () => {
    const q = await openQueue(config, `redis://:${SECRET}@127.0.0.1:${redis.port}`);
    expect(await q.count()).toBe(0);
    await q.close();
    const err = (await openQueue(config, `redis://:wrong-${SECRET}@127.0.0.1:${redis.port}`).catch((e: unknown) => e)) as Error & { code: string };
    expect(err.code).toBe('LS_SCALE_REDIS');
    expect(err.message).not.toContain(SECRET);
    expect(err.message).toContain('redis://:***@127.0.0.1');
    expect(err.message).toMatch(/WRONGPASS|NOAUTH|invalid/i);
  });

  it('a Redis that is not there fails with LS_SCALE_REDIS instead of waiting forever', async () => {
    const port = await freePort();
    const err = (await openQueue(config, `redis://127.0.0.1:${port}`).catch((e: unknown) => e)) as Error & { code: string };
    expect(err.code).toBe('LS_SCALE_REDIS');
    expect(exitCodeOf(err)).toBe(1);
  }, 30_000);

  it('checks and redacts URLs', () => {
    expect(redactRedisUrl(`redis://user:${SECRET}@host:6379/2`)).toBe('redis://***:***@host:6379/2');
    expect(redactRedisUrl(`rediss://:${SECRET}@host:6380`)).toBe('rediss://:***@host:6380');
    expect(parseRedisUrl('rediss://h:6380').protocol).toBe('rediss:');
    for (const bad of ['http://h:6379', 'redis://h:6379/x', 'not a url', `redis//:${SECRET}@h`]) {
      let e: (Error & { code?: string }) | undefined;
      try {
        parseRedisUrl(bad);
      } catch (x) {
        e = x as Error & { code?: string };
      }
      expect(e?.code, bad).toBe('LS_SCALE_REDIS_URL');
      expect(exitCodeOf(e)).toBe(2); // a usage error, as a bad config
      expect(e?.message).not.toContain(SECRET);
    }
  });
});
