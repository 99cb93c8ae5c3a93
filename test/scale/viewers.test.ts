/**
 * Many viewers (issue 14 part 4): the daemon's dashboard server (real Socket.IO, a hub over real ScanMaps) and a
 * `loopstream serve --viewer` child process share a real redis-server through the Socket.IO Redis adapter. One
 * client on each process receives the same map deltas (same sequence, same bytes) and ends with the daemon's maps;
 * a client joining the viewer late gets a snapshot from the daemon through Redis and follows on; a pixel request
 * made on the viewer is answered by the daemon.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { io as connect, type Socket } from 'socket.io-client';
import { DEFAULTS } from '../../src/config/schema.ts';
import type { ClientToServerEvents, ServerToClientEvents, WireDelta } from '../../src/server/events.ts';
import { applyDelta, fromWireDelta, fromWireSnapshot, type DecodedSnapshot } from '../../src/server/map-wire.ts';
import { startDashboardServer, type DashboardServer } from '../../src/server/index.ts';
import { silentLogger } from '../../src/util/log.ts';
import { until } from '../e2e/support/producer.ts';
import { freePort } from '../helpers/ports.ts';
import { startRedis, type TestRedis } from '../helpers/redis.ts';
import { encode, makeMaps } from '../server/support/maps.ts';
import { TestHub } from '../server/support/test-hub.ts';

type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/** A client that records every map message and keeps its own copy of the maps, as the page does. */
class Viewer {
  readonly socket: ClientSocket;
  maps: DecodedSnapshot | undefined;
  readonly deltas: Array<{ from: number; to: number; bytes: string }> = [];
  snapshots = 0;
  refused = 0;
  constructor(url: string) {
    this.socket = connect(url, { transports: ['websocket'], reconnection: false, forceNew: true });
    this.socket.on('map:snapshot', (w) => {
      this.maps = fromWireSnapshot(w);
      this.snapshots++;
    });
    this.socket.on('map:delta', (w: WireDelta) => {
      const bytes = Buffer.concat([w.index, w.mu, w.error, w.version, w.state].map((b) => Buffer.from(b as Uint8Array))).toString('base64');
      this.deltas.push({ from: w.fromRevision, to: w.revision, bytes });
      if (!this.maps || !applyDelta(this.maps, fromWireDelta(w, this.maps.latentDim))) {
        this.refused++;
        this.socket.emit('map:resync');
      }
    });
  }
}

describe('dashboard behind the Socket.IO Redis adapter: daemon + viewer process', () => {
  let redis: TestRedis;
  let daemon: DashboardServer;
  let viewer: ChildProcess;
  let viewerUrl: string;
  const hub = new TestHub();
  const maps = makeMaps('s1', 24, 24, 4);
  const clients: Viewer[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    encode(maps, [0, 1, 2], 1);
    hub.add(maps);
    daemon = await startDashboardServer({ config: { server: { ...DEFAULTS.server, port: 0, maxDeltaHz: 20, redis: redis.url } }, hub, logger: silentLogger });
    const port = await freePort();
    viewer = spawn(process.execPath, ['bin/loopstream.js', 'serve', '--viewer', '--redis', redis.url, '--port', String(port), '--set', 'server.maxDeltaHz=20', '--log-level', 'info'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    viewer.stderr!.setEncoding('utf8').on('data', (c: string) => (log += c));
    viewerUrl = `http://127.0.0.1:${port}/`;
    await until(() => log.includes('viewer dashboard listening') || viewer.exitCode !== null, 60_000, 'the viewer process');
    expect(viewer.exitCode, log).toBeNull();
  }, 90_000);

  afterAll(async () => {
    for (const c of clients) c.socket.close();
    viewer?.kill('SIGTERM');
    await daemon?.close();
    await redis?.stop();
  });

  it('a client on each process receives the same deltas and ends with the same maps; late joiners get a snapshot', async () => {
    const onDaemon = new Viewer(daemon.url);
    const onViewer = new Viewer(viewerUrl);
    clients.push(onDaemon, onViewer);
    await until(() => onDaemon.maps !== undefined && onViewer.maps !== undefined, 20_000, 'both snapshots');
    // the viewer process has no hub: its snapshot came from the daemon through Redis
    expect(onViewer.maps!.revision).toBe(maps.revision);
    expect(Array.from(onViewer.maps!.error.slice(0, 4))).toEqual([1, 1, 1, Number.NaN]);

    let late: Viewer | undefined;
    for (let b = 0; b < 30; b++) {
      encode(maps, [3 + b * 5, 4 + b * 5, 5 + b * 5, 6 + b * 5, 7 + b * 5], 2 + b, 1 + (b % 3));
      if (b === 15) clients.push((late = new Viewer(viewerUrl)));
      await new Promise((r) => setTimeout(r, 30));
    }
    const done = (v: Viewer) => v.maps?.revision === maps.revision;
    await until(() => done(onDaemon) && done(onViewer) && done(late!), 20_000, 'every client at the daemon revision');

    // several room broadcasts, each delivered to both processes' clients: same sequence, same contents
    expect(onDaemon.deltas.length).toBeGreaterThan(3);
    expect(onViewer.deltas).toEqual(onDaemon.deltas);
    expect(onDaemon.refused + onViewer.refused).toBe(0);
    // and every copy equals the daemon's maps
    const truth = maps.snapshot();
    for (const v of [onDaemon, onViewer, late!]) {
      expect(Array.from(v.maps!.error)).toEqual(Array.from(truth.error));
      expect(Array.from(v.maps!.mu)).toEqual(Array.from(truth.mu));
      expect(Array.from(v.maps!.version)).toEqual(Array.from(truth.version));
      expect(v.maps!.encoded).toBe(truth.encoded);
    }
    // the late joiner's first message was a snapshot, then the same broadcasts as the others from then on
    expect(late!.snapshots).toBeGreaterThanOrEqual(1);
    const tail = late!.deltas.slice(late!.refused);
    expect(onDaemon.deltas.slice(-tail.length)).toEqual(tail);
  }, 60_000);

  it('a pixel request made on the viewer is answered by the daemon; lists and stats arrive there too', async () => {
    const v = new Viewer(viewerUrl);
    clients.push(v);
    const lists: string[][] = [];
    v.socket.on('scan:list', (scans) => lists.push(scans.map((s) => s.id)));
    await until(() => v.maps !== undefined, 20_000, 'the snapshot');
    const viaViewer = await v.socket.timeout(10_000).emitWithAck('pixel:get', { scanId: 's1', row: 0, col: 1 });
    const viaDaemon = await clients[0]!.socket.timeout(10_000).emitWithAck('pixel:get', { scanId: 's1', row: 0, col: 1 });
    expect(viaViewer).toEqual(viaDaemon);
    const unknown = await v.socket.timeout(10_000).emitWithAck('pixel:get', { scanId: 'nope', row: 0, col: 0 });
    expect(unknown).toMatchObject({ ok: false, code: 'LS_SERVER_SCAN' });
    expect(lists[0]).toEqual(['s1']);
  }, 30_000);

  it('with Redis stopped the daemon keeps serving its own clients (no unhandled rejection); the viewer gets nothing new', async () => {
    const onDaemon = clients[0]!;
    const onViewer = clients[1]!;
    await redis.stop();
    const viewerRevision = onViewer.maps!.revision;
    // a client that connects during the outage joins its room on the daemon all the same
    const fresh = new Viewer(daemon.url);
    clients.push(fresh);
    await until(() => fresh.maps !== undefined, 10_000, 'the fresh client\'s snapshot');
    for (let b = 0; b < 5; b++) {
      encode(maps, [500 + b, 510 + b], 50 + b);
      await new Promise((r) => setTimeout(r, 60));
    }
    await until(() => onDaemon.maps?.revision === maps.revision && fresh.maps?.revision === maps.revision, 10_000, 'the daemon\'s clients at the new revision');
    expect(Array.from(onDaemon.maps!.error)).toEqual(Array.from(maps.snapshot().error));
    expect(fresh.deltas.length).toBeGreaterThan(0);
    expect(fresh.refused).toBe(0);
    expect(onViewer.maps!.revision).toBe(viewerRevision);
    expect(daemon.clientCount()).toBeGreaterThanOrEqual(1);
  }, 30_000);
});
