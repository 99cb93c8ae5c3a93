/**
 * FacilityPublisher against a real redis-server: entries land in the stream trimmed to about maxLen, publish()
 * never throws or waits while Redis is down (events dropped and counted), the queue bound holds, and publishing
 * resumes by itself when Redis is back on the same port.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import type { FacilityEvent } from '../../src/facility/events.ts';
import { FacilityPublisher } from '../../src/facility/publisher.ts';
import { silentLogger } from '../../src/util/log.ts';
import { until } from '../e2e/support/producer.ts';
import { startRedis, type TestRedis } from '../helpers/redis.ts';

const event = (k: number): FacilityEvent => ({ type: 'daemon', daemon: 'pub-test', url: 'http://127.0.0.1:1/', at: k, model: { name: 'm', version: 1 } });
const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

describe('FacilityPublisher', () => {
  it('publishes to a bounded stream, drops and counts while Redis is down, resumes when it is back', async () => {
    let redis: TestRedis = await startRedis();
    const port = redis.port;
    cleanups.push(() => redis.stop());
    const pub = new FacilityPublisher({ redis: redis.url, stream: 'fac:test', maxLen: 100, queueMax: 50, log: silentLogger });
    cleanups.push(() => pub.close());
    const check = new Redis(redis.url, { lazyConnect: true });
    check.on('error', () => undefined);
    cleanups.push(() => check.disconnect());
    // events published before the connection is ready are dropped too (nothing waits for Redis)
    await until(() => (pub.publish(event(0)), pub.published > 0), 10_000, 'the first entry');
    await until(() => pub.queued === 0, 10_000, 'the queue drained');
    const early = pub.dropped;
    const first = pub.published;
    // 1000 events in batches the queue can hold: all published, the stream trimmed to about 100
    for (let b = 0; b < 20; b++) {
      for (let k = 0; k < 50; k++) pub.publish(event(k));
      await until(() => pub.queued === 0, 10_000, 'the queue drained');
    }
    await until(() => pub.published >= first + 1000, 10_000, 'all published');
    expect(pub.dropped).toBe(early);
    const len = await check.xlen('fac:test');
    expect(len).toBeGreaterThanOrEqual(100);
    expect(len).toBeLessThan(1000);
    // more than the queue holds at once: the surplus is dropped at once, counted
    for (let k = 0; k < 80; k++) pub.publish(event(k));
    expect(pub.dropped).toBe(early + 30);
    await until(() => pub.queued === 0, 10_000, 'the queue drained');

    await redis.stop();
    await until(() => (pub.publish(event(1)), pub.dropped > early + 40), 10_000, 'events dropped while Redis is down');
    for (let k = 0; k < 10_000; k++) pub.publish(event(k)); // never throws; its cost is measured in bench/facility.ts
    await until(() => pub.queued === 0, 10_000, 'the queue emptied (dropped)');
    const droppedDuringOutage = pub.dropped;
    expect(droppedDuringOutage).toBeGreaterThan(10_000);

    // Redis back on the same port: ioredis reconnects, the next events are published again
    redis = await startRedis(['--port', String(port)]);
    const published = pub.published;
    await until(() => (pub.publish(event(2)), pub.published > published), 20_000, 'publishing after Redis came back');
    await check.connect().catch(() => undefined);
    expect(await check.xlen('fac:test')).toBeGreaterThan(0);
  }, 60_000);
});
