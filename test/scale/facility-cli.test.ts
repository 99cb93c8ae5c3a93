/**
 * `loopstream facility` as users run it, against a real redis-server with `requirepass`: the password travels in
 * the URL and is never logged, the page and its script are served on loopback, an event a daemon's publisher sends
 * (with the same URL) shows on /healthz; a bad URL is a usage error (exit 2); binding beyond loopback without
 * facility.token is refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FacilityPublisher } from '../../src/facility/publisher.ts';
import { silentLogger } from '../../src/util/log.ts';
import { runCli } from '../helpers/cli.ts';
import { freePort } from '../helpers/ports.ts';
import { startRedis, type TestRedis } from '../helpers/redis.ts';
import { until } from '../e2e/support/producer.ts';

const SECRET = 'fac-pw-77';
let redis: TestRedis;
beforeAll(async () => {
  redis = await startRedis(['--requirepass', SECRET]);
});
afterAll(async () => redis?.stop());

describe('loopstream facility (CLI)', () => {
  it('serves the page on loopback, reads the stream with the password in the URL, never logs the password', async () => {
    const url = `redis://:${SECRET}@127.0.0.1:${redis.port}`;
    const port = await freePort();
    const cli = runCli(['facility', '--redis', url, '--port', String(port), '--log-format', 'json']);
    try {
      const line = await cli.waitForLog((l) => String(l.msg).startsWith('facility page at'), 'the page', 60_000);
      expect(line.url).toBe(`http://127.0.0.1:${port}/`);
      const page = await fetch(`http://127.0.0.1:${port}/`);
      expect(await page.text()).toContain('<title>loopstream facility</title>');
      expect((await fetch(`http://127.0.0.1:${port}/app.js`)).status).toBe(200);
      await cli.waitForLog((l) => l.msg === 'facility: following the stream', 'following', 20_000);
      const pub = new FacilityPublisher({ redis: url, stream: 'loopstream:facility', maxLen: 100, queueMax: 10, log: silentLogger });
      await until(() => (pub.publish({ type: 'daemon', daemon: 'cli-test', url: 'http://127.0.0.1:1/', at: Date.now(), model: { name: 'm', version: 1 } }), pub.published > 0), 10_000, 'one event published');
      await pub.close();
      let health: Record<string, unknown> = {};
      await (async () => {
        for (let k = 0; k < 100 && health.daemons !== 1; k++) {
          health = (await (await fetch(`http://127.0.0.1:${port}/healthz`)).json()) as Record<string, unknown>;
          await new Promise((r) => setTimeout(r, 100));
        }
      })();
      expect(health).toMatchObject({ status: 'ok', daemons: 1 });
      expect(cli.stderrText()).not.toContain(SECRET);
      expect(cli.stderrText()).toContain('redis://:***@127.0.0.1');
    } finally {
      cli.proc.kill('SIGTERM');
      expect(await cli.exited).toBe(0);
    }
  }, 90_000);

  it('a malformed URL exits 2 naming LS_SCALE_REDIS_URL; a wider bind without a token is refused', async () => {
    // both at once: each is a CLI start-up (a few seconds on a loaded machine)
    const bad = runCli(['facility', '--redis', 'http://:pw@host:1', '--port', '0']);
    const wide = runCli(['facility', '--redis', redis.url, '--port', '0', '--host', '0.0.0.0']);
    expect(await bad.exited).toBe(2);
    expect(bad.stderrText()).toContain('LS_SCALE_REDIS_URL');
    expect(bad.stderrText()).not.toContain(':pw@');
    expect(await wide.exited).toBe(2);
    expect(wide.stderrText()).toContain('facility.token');
  }, 60_000);
});
