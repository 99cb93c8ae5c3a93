/**
 * `node --import tsx bench/facility.ts [--events 50000]`: the facility publisher's cost (docs/scale.md
 * §Facility view). Starts its own redis-server on a free loopback port and measures
 * - the cost of `publish()` on the caller (what an alert event costs the ingest path: it queues, nothing more),
 *   with Redis up and with Redis down (dropped and counted);
 * - events per second reaching the stream (XADD MAXLEN ~, pipelined batches of 256);
 */
import { performance } from 'node:perf_hooks';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import type { FacilityEvent } from '../src/facility/events.ts';
import { FacilityPublisher } from '../src/facility/publisher.ts';
import { silentLogger } from '../src/util/log.ts';
import { startRedis } from '../test/helpers/redis.ts';

const { values } = parseArgs({ options: { events: { type: 'string', default: '50000' } } });
const EVENTS = Number(values.events);

const event = (k: number): FacilityEvent => ({
  type: 'alert',
  daemon: 'bench:8080',
  url: 'http://127.0.0.1:8080/',
  at: Date.now(),
  model: { name: 'fixtures/models/sim-broad', version: 3 },
  alert: { scanId: 'bench-scan', id: k, type: 'open', area: 12, peakScore: 2.5, reason: 'error' },
});

const redis = await startRedis();
try {
  const stream = 'bench:facility';
  const pub = new FacilityPublisher({ redis: redis.url, stream, maxLen: 10_000, queueMax: EVENTS, log: silentLogger });
  const check = new Redis(redis.url);
  check.on('error', () => undefined); // stopped on purpose below
  await new Promise((r) => setTimeout(r, 300)); // connected
  // caller cost with Redis up: queue everything at once (the drain runs after this loop yields)
  let t0 = performance.now();
  for (let k = 0; k < EVENTS; k++) pub.publish(event(k));
  const callUs = ((performance.now() - t0) * 1000) / EVENTS;
  // throughput: until every event is acknowledged by Redis
  while (pub.published + pub.dropped < EVENTS) await new Promise((r) => setImmediate(r));
  const sec = (performance.now() - t0) / 1000;
  const len = await check.xlen(stream);
  const mem = Number(/used_memory:(\d+)/.exec(await check.info('memory'))?.[1]);
  console.log(`machine: ${cpus().length} cores (${cpus()[0]?.model}), load ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  console.log(`publish() on the caller, Redis up: ${callUs.toFixed(2)} µs/event (${EVENTS} events)`);
  console.log(`published ${pub.published} in ${sec.toFixed(2)} s: ${(pub.published / sec).toFixed(0)} events/s; dropped ${pub.dropped}; stream length ${len} (MAXLEN ~ 10000), Redis used_memory ${(mem / 1e6).toFixed(1)} MB`);
  const bytes = JSON.stringify(event(1)).length;
  console.log(`one alert entry: ${bytes} bytes of JSON`);
  // caller cost with Redis down
  await redis.stop();
  await new Promise((r) => setTimeout(r, 300));
  const before = pub.dropped;
  t0 = performance.now();
  for (let k = 0; k < EVENTS; k++) pub.publish(event(k));
  const downUs = ((performance.now() - t0) * 1000) / EVENTS;
  while (pub.dropped - before < EVENTS) await new Promise((r) => setImmediate(r));
  console.log(`publish() on the caller, Redis down: ${downUs.toFixed(2)} µs/event; all ${pub.dropped - before} dropped and counted`);
  check.disconnect();
  await pub.close();
} finally {
  await redis.stop();
}
process.exit(0);
