/**
 * `node --import tsx bench/viewers.ts [--size 128] [--rate 2000] [--seconds 10]`: the dashboard behind the Socket.IO
 * Redis adapter (docs/scale.md §Many viewers). Starts its own redis-server, a daemon dashboard server over real
 * ScanMaps filled at --rate px/s, and a viewer server (no hub) in this process, one client on each; prints the
 * deltas each received, the latency from a pixel's encoding to its arrival at each client, and Redis traffic.
 */
import { performance } from 'node:perf_hooks';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { io as connect } from 'socket.io-client';
import { DEFAULTS } from '../src/config/schema.ts';
import { startDashboardServer } from '../src/server/index.ts';
import { fromWireDelta, type DecodedDelta } from '../src/server/map-wire.ts';
import type { WireDelta } from '../src/server/events.ts';
import { silentLogger } from '../src/util/log.ts';
import { startRedis } from '../test/helpers/redis.ts';
import { encode, makeMaps } from '../test/server/support/maps.ts';
import { TestHub } from '../test/server/support/test-hub.ts';

const { values } = parseArgs({ options: { size: { type: 'string', default: '128' }, rate: { type: 'string', default: '2000' }, seconds: { type: 'string', default: '10' } } });
const SIZE = Number(values.size);
const RATE = Number(values.rate);
const SECONDS = Number(values.seconds);

const redis = await startRedis();
const stats = new Redis(redis.url);
const hub = new TestHub();
const maps = makeMaps('bench', SIZE, SIZE, 16);
hub.add(maps);
const server = { ...DEFAULTS.server, port: 0, redis: redis.url, maxDeltaHz: 10 };
const daemon = await startDashboardServer({ config: { server }, hub, logger: silentLogger });
const viewer = await startDashboardServer({ config: { server }, logger: silentLogger });
/** encode time of each pixel (ms, performance clock) */
const encodedAt = new Float64Array(SIZE * SIZE);
const clients = [daemon.url, viewer.url].map((url) => {
  const c = { deltas: 0, bytes: 0, latencies: [] as number[] };
  const s = connect(url, { transports: ['websocket'], forceNew: true });
  s.on('map:delta', (w: WireDelta) => {
    const now = performance.now();
    const d: DecodedDelta = fromWireDelta(w, 16);
    c.deltas++;
    c.bytes += w.index.byteLength + w.mu.byteLength + w.error.byteLength + w.version.byteLength + w.state.byteLength;
    for (const i of d.index) if (encodedAt[i]! > 0) c.latencies.push(now - encodedAt[i]!);
  });
  return { ...c, socket: s, get: () => c };
});
await new Promise((r) => setTimeout(r, 1000));
const before = await stats.info('stats');
const total = Math.min(SIZE * SIZE, RATE * SECONDS);
const perTick = Math.max(1, Math.round(RATE / 100));
const t0 = performance.now();
for (let next = 0; next < total; next += perTick) {
  const idx = Array.from({ length: Math.min(perTick, total - next) }, (_, k) => next + k);
  encode(maps, idx, next / total);
  const now = performance.now();
  for (const i of idx) encodedAt[i] = now;
  const due = t0 + ((next + perTick) / RATE) * 1000;
  await new Promise((r) => setTimeout(r, Math.max(0, due - performance.now())));
}
await new Promise((r) => setTimeout(r, 1500));
const after = await stats.info('stats');
const num = (info: string, key: string) => Number(new RegExp(`${key}:(\\d+)`).exec(info)?.[1] ?? 0);
const pct = (xs: number[], p: number) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))]! : Number.NaN);
console.log(`machine: ${cpus().length} cores (${cpus()[0]?.model}), load ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
console.log(`${total} pixels (latent 16) encoded at ${RATE} px/s into a ${SIZE}×${SIZE} scan, maxDeltaHz 10`);
for (const [name, c] of [['daemon client', clients[0]!.get()], ['viewer client (through Redis)', clients[1]!.get()]] as const) {
  console.log(`${name}: ${c.deltas} deltas, ${(c.bytes / 1e6).toFixed(2)} MB, latency encode → arrival p50 ${pct(c.latencies, 0.5).toFixed(0)} ms, p95 ${pct(c.latencies, 0.95).toFixed(0)} ms (${c.latencies.length} pixel arrivals)`);
}
console.log(`Redis: ${num(after, 'total_commands_processed') - num(before, 'total_commands_processed')} commands, ${((num(after, 'total_net_input_bytes') - num(before, 'total_net_input_bytes')) / 1e6).toFixed(2)} MB in, ${((num(after, 'total_net_output_bytes') - num(before, 'total_net_output_bytes')) / 1e6).toFixed(2)} MB out (incl. these INFO calls)`);
for (const c of clients) c.socket.close();
stats.disconnect();
await viewer.close();
await daemon.close();
await redis.stop();
process.exit(0);
